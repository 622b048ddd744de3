//! Lambda function for the page `POST /password-reset`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-password-reset-post").await
}
