//! Lambda function for the console page `POST /admin/default-role`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-default-role-post").await
}
