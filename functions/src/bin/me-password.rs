//! Lambda function for `POST /v1/me/password`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::me_password).await
}
