//! Lambda function for the page `POST /account/mfa/totp/confirm`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_account_mfa_confirm_post).await
}
