//! Lambda function for `POST /v1/ops/jobs/cleanup-uploads`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::ops_jobs_cleanup_uploads).await
}
