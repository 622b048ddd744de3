//! Scheduled Lambda function: the purge job (EventBridge; see template.yaml).

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::jobs::run(kanri::jobs::Job::Purge).await
}
