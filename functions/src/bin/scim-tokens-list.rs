//! Lambda function for `GET /v1/scim-tokens`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("scim-tokens-list").await
}
