//! Lambda function for the console page `POST /admin/users/{id}/mfa/reset`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-user-mfa-reset-post").await
}
