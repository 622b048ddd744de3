//! Lambda function for the page `GET /account/password`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-account-password").await
}
