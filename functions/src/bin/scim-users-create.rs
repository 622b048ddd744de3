//! Lambda function for `POST /scim/v2/Users`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run(kanri::http::routes::scim_users_create).await
}
