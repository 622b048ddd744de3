//! Lambda function for `POST /v1/me/mfa/totp/confirm`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::me_mfa_totp_confirm).await
}
