//! Lambda function for the page `GET /sso/callback`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-sso-callback").await
}
