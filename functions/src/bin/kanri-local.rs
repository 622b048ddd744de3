//! The local server: every endpoint on one port (`make run`). `kanri-local routes` prints the route table
//! as JSON (for the template.yaml check).

use kanri::config::Config;
use kanri::http::routes::{Access, table};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some("routes") {
        let routes: Vec<String> = table()
            .iter()
            .map(|r| {
                format!(
                    r#"{{"id":"{}","method":"{}","path":"{}","operator":{},"page":{}}}"#,
                    r.id,
                    r.method,
                    r.path,
                    r.access == Access::Operator,
                    r.is_page()
                )
            })
            .collect();
        println!("[{}]", routes.join(","));
        return std::process::ExitCode::SUCCESS;
    }
    kanri::telemetry::init(false);
    let result = match Config::from_env() {
        Ok(config) => kanri::http::local::serve(config).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kanri-local: {}", kanri::telemetry::ErrorChain(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}
