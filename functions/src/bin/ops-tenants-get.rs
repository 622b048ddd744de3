//! Lambda function for `GET /v1/ops/tenants/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::ops_tenants_get).await
}
