//! Lambda function for `DELETE /scim/v2/Groups/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::scim_groups_delete).await
}
