//! Lambda function for `PUT /v1/users/{id}/org-admin`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::users_org_admin_grant).await
}
