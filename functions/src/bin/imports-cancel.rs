//! Lambda function for `POST /v1/imports/{id}/cancel`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::imports_cancel).await
}
