//! Lambda function for the console page `POST /admin/users/{id}/role`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_user_role_post).await
}
