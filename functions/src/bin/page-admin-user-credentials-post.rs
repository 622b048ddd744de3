//! Lambda function for the console page `POST /admin/users/{id}/credentials`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_user_credentials_post).await
}
