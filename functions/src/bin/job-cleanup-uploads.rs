//! Scheduled Lambda function: the hourly clean-up of uploads (EventBridge; see template.yaml).

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::jobs::run(kanri::jobs::Job::CleanupUploads).await
}
