//! Lambda function for `POST /v1/questionnaires`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::questionnaires_create).await
}
