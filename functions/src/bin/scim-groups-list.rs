//! Lambda function for `GET /scim/v2/Groups`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::scim_groups_list).await
}
