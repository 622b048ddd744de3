//! Lambda function for the console page `POST /admin/groups/delete`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-groups-delete-post").await
}
