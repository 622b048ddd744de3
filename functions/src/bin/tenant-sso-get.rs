//! Lambda function for the route `GET /v1/tenant/sso`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("tenant-sso-get").await
}
