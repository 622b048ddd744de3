//! Lambda function for the page `POST /account/mfa/totp`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_account_mfa_totp_post).await
}
