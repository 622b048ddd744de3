//! Lambda function for `DELETE /v1/roles/{id}`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("roles-delete").await
}
