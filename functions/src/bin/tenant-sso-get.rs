//! Lambda function for the route `GET /v1/tenant/sso`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::tenant_sso_get).await
}
