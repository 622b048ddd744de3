//! Lambda function for `GET /v1/questionnaires/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::questionnaires_get).await
}
