//! Lambda function for the console page `GET /admin/users/imports/{id}/report`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_users_import_report).await
}
