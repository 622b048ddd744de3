//! Lambda function for the console page `POST /admin/roles`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("page-admin-roles-create").await
}
