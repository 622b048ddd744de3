//! Lambda function for `POST /v1/scim-tokens`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::scim_tokens_create).await
}
