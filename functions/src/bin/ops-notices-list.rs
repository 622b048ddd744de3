//! Lambda function for `GET /v1/ops/notices`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("ops-notices-list").await
}
