//! Lambda function for the console page `POST /admin/sign-in-policy`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-sign-in-policy-post").await
}
