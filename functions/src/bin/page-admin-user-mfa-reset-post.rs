//! Lambda function for the console page `POST /admin/users/{id}/mfa/reset`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_user_mfa_reset_post).await
}
