//! Lambda function for the page `GET /sso/start`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_sso_start).await
}
