//! Lambda function for `POST /scim/v2/Groups/.search`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::scim_groups_search).await
}
