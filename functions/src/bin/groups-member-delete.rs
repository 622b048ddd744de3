//! Lambda function for `DELETE /v1/groups/{id}/members/{user_id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::groups_member_delete).await
}
