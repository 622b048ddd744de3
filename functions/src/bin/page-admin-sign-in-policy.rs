//! Lambda function for the console page `GET /admin/sign-in-policy`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::page_admin_sign_in_policy).await
}
