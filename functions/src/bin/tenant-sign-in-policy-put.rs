//! Lambda function for `PUT /v1/tenant/sign-in-policy`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::tenant_sign_in_policy_put).await
}
