//! Lambda function for `POST /v1/groups/{id}/members/remove`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::groups_members_remove).await
}
