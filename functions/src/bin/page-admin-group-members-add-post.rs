//! Lambda function for the console page `POST /admin/groups/{id}/members`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-group-members-add-post").await
}
