//! Lambda function for `POST /v1/auth/set-password`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("auth-set-password").await
}
