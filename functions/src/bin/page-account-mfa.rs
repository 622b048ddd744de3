//! Lambda function for the page `GET /account/mfa`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_account_mfa).await
}
