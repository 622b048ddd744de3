//! Lambda function for `PATCH /v1/roles/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::roles_update).await
}
