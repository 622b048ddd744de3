//! Lambda function for `PUT /v1/tenant/default-role`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::tenant_default_role).await
}
