//! Scheduled Lambda function: the backup job (EventBridge; see template.yaml).

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::jobs::run(kanri::jobs::Job::Backup).await
}
