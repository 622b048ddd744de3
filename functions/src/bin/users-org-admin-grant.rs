//! Lambda function for `PUT /v1/users/{id}/org-admin`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("users-org-admin-grant").await
}
