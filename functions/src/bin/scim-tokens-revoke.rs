//! Lambda function for `DELETE /v1/scim-tokens/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::scim_tokens_revoke).await
}
