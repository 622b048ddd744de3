//! Lambda function for `POST /v1/groups`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::groups_create).await
}
