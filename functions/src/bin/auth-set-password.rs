//! Lambda function for `POST /v1/auth/set-password`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::auth_set_password).await
}
