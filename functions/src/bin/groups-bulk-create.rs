//! Lambda function for `POST /v1/groups/bulk`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::groups_bulk_create).await
}
