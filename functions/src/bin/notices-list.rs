//! Lambda function for `GET /v1/notices`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::notices_list).await
}
