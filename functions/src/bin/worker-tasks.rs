//! Lambda function for background tasks: triggered by the task queue (SQS; see template.yaml), it sends
//! notice mails and reports the messages that failed so SQS redelivers only those.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::worker::run_lambda().await
}
