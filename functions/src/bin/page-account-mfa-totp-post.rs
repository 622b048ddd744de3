//! Lambda function for the page `POST /account/mfa/totp`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-account-mfa-totp-post").await
}
