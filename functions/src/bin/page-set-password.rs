//! Lambda function for the page `GET /set-password`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_set_password).await
}
