//! Lambda function for `GET /v1/groups/{id}/members`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::groups_members_list).await
}
