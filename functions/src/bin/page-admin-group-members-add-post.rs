//! Lambda function for the console page `POST /admin/groups/{id}/members`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_group_members_add_post).await
}
