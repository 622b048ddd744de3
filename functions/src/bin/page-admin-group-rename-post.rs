//! Lambda function for the console page `POST /admin/groups/{id}/name`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_group_rename_post).await
}
