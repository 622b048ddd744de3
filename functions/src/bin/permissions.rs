//! Lambda function for `GET /v1/permissions`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::permissions).await
}
