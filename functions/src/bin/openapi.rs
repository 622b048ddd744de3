//! Lambda function for `GET /v1/openapi.json`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::openapi).await
}
