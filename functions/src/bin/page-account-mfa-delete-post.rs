//! Lambda function for the page `POST /account/mfa/delete`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_account_mfa_delete_post).await
}
