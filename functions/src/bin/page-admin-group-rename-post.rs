//! Lambda function for the console page `POST /admin/groups/{id}/name`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-group-rename-post").await
}
