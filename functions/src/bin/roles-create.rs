//! Lambda function for `POST /v1/roles`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::roles_create).await
}
