//! Lambda function for `POST /v1/ops/tenants/{id}/terminate`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::ops_tenants_terminate).await
}
