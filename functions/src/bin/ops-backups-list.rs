//! Lambda function for `GET /v1/ops/backups`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::ops_backups_list).await
}
