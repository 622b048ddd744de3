//! Lambda function for the route `PUT /v1/tenant/sso`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("tenant-sso-put").await
}
