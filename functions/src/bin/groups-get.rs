//! Lambda function for `GET /v1/groups/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::groups_get).await
}
