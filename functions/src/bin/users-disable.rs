//! Lambda function for `POST /v1/users/{id}/disable`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::users_disable).await
}
