//! Lambda function for `GET /v1/audit-log`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::audit_log).await
}
