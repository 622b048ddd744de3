//! Lambda function for the page `POST /account/subscriptions`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_account_subscriptions_post).await
}
