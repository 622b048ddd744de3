//! Lambda function for `POST /v1/auth/password-reset`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("auth-password-reset").await
}
