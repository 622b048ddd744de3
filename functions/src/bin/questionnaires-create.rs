//! Lambda function for `POST /v1/questionnaires`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("questionnaires-create").await
}
