//! Lambda function for `POST /v1/users/{id}/credentials`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("users-credentials").await
}
