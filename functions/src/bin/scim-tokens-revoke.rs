//! Lambda function for `DELETE /v1/scim-tokens/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("scim-tokens-revoke").await
}
