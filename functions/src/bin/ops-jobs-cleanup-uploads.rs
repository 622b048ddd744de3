//! Lambda function for `POST /v1/ops/jobs/cleanup-uploads`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("ops-jobs-cleanup-uploads").await
}
