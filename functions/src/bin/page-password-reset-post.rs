//! Lambda function for the page `POST /password-reset`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_password_reset_post).await
}
