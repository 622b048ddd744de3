//! Lambda function for the console page `POST /admin/default-role`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_default_role_post).await
}
