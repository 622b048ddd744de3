//! Lambda function for the page `POST /account/mfa/delete`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-account-mfa-delete-post").await
}
