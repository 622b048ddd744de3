//! Lambda function for `POST /v1/roles`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("roles-create").await
}
