//! Lambda function for the console page `POST /admin/groups/bulk`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-groups-bulk-post").await
}
