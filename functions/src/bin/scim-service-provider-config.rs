//! Lambda function for `GET /scim/v2/ServiceProviderConfig`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::scim_service_provider_config).await
}
