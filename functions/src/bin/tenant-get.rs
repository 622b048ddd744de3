//! Lambda function for `GET /v1/tenant`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::tenant_get).await
}
