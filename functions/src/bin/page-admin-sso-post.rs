//! Lambda function for the page `POST /admin/sso`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_sso_post).await
}
