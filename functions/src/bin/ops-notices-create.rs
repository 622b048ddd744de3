//! Lambda function for `POST /v1/ops/notices`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::ops_notices_create).await
}
