//! Lambda function for `GET /v1/uploads/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::uploads_get).await
}
