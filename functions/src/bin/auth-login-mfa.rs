//! Lambda function for `POST /v1/auth/login/mfa`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::auth_login_mfa).await
}
