//! Lambda function for the page `POST /admin/sso`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-sso-post").await
}
