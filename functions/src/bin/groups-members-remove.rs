//! Lambda function for `POST /v1/groups/{id}/members/remove`.

#[tokio::main]
async fn main() -> Result<(), kanri::http::lambda::Error> {
    kanri::http::lambda::run("groups-members-remove").await
}
