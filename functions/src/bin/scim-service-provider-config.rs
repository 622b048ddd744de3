//! Lambda function for `GET /scim/v2/ServiceProviderConfig`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("scim-service-provider-config").await
}
