//! Lambda function for the console page `GET /admin/roles/{id}/delete`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_role_delete).await
}
