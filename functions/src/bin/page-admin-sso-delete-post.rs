//! Lambda function for the page `POST /admin/sso/delete`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-sso-delete-post").await
}
