//! Lambda function for `PATCH /scim/v2/Groups/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::scim_groups_patch).await
}
