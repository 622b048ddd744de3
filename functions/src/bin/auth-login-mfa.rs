//! Lambda function for `POST /v1/auth/login/mfa`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("auth-login-mfa").await
}
