//! Lambda function for `GET /v1/ops/tenants/{id}/audit-log`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::ops_tenants_audit_log).await
}
