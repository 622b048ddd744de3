//! Lambda function for `POST /v1/uploads`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::uploads_create).await
}
