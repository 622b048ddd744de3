//! Lambda function for the console page `POST /admin/groups/{id}/members/remove`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-group-members-remove-post").await
}
