//! Lambda function for `GET /v1/mail-log`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::mail_log).await
}
