//! Lambda function for the page `POST /account/password`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-account-password-post").await
}
