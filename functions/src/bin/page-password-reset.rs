//! Lambda function for the page `GET /password-reset`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_password_reset).await
}
