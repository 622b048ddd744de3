//! Lambda function for the console page `GET /admin/roles/{id}/delete`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-role-delete").await
}
