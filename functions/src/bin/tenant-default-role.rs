//! Lambda function for `PUT /v1/tenant/default-role`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("tenant-default-role").await
}
