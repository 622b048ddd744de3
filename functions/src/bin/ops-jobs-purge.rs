//! Lambda function for `POST /v1/ops/jobs/purge`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::ops_jobs_purge).await
}
