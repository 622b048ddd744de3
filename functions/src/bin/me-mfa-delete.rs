//! Lambda function for `DELETE /v1/me/mfa`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::me_mfa_delete).await
}
