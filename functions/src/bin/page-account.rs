//! Lambda function for the page `GET /account`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-account").await
}
