//! Lambda function for the page `GET /account/mfa`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-account-mfa").await
}
