//! Lambda function for `POST /v1/users/bulk-delete`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("users-bulk-delete").await
}
