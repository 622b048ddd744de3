//! Lambda function for `POST /v1/ops/tenants/{id}/terminate`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("ops-tenants-terminate").await
}
