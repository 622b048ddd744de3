//! Lambda function for `GET /v1/me/subscriptions`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::me_subscriptions_get).await
}
