//! Lambda function for `DELETE /v1/users/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::users_delete).await
}
