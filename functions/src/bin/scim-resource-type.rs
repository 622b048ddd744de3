//! Lambda function for `GET /scim/v2/ResourceTypes/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::scim_resource_type).await
}
