//! Lambda function for the page `GET /sso/callback`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_sso_callback).await
}
