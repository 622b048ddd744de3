//! Lambda function for `POST /v1/imports`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::imports_create).await
}
