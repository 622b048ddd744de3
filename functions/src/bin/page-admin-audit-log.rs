//! Lambda function for the console page `GET /admin/audit-log`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-audit-log").await
}
