//! The local server: every route on one port, on the embedded store (or AWS with `KANRI_BACKEND=aws`).

use std::path::Path;
use std::sync::Arc;

use secrecy::SecretString;

use crate::app::Services;
use crate::config::{Backend, Config, ConfigError};
use crate::http::{AppState, OperatorAuth, router};
use crate::worker::TaskSource;

mod files;

/// The operator token: `KANRI_OPERATOR_TOKEN`, or the one kept in the data dir (made at first start).
pub fn operator_token(config: &Config) -> Result<String, ConfigError> {
    if let Some(t) = &config.operator_token {
        return Ok(t.clone());
    }
    let io = |source| ConfigError::Io {
        what: "the operator token".into(),
        source,
    };
    std::fs::create_dir_all(&config.data_dir).map_err(io)?;
    let path = config.data_dir.join("operator-token");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
        _ => {
            let (token, _) = crate::crypto::new_token();
            use secrecy::ExposeSecret;
            let t = format!("op_{}", token.expose_secret());
            let _ = std::fs::remove_file(&path);
            crate::util::write_private(&path, t.as_bytes()).map_err(io)?;
            Ok(t)
        }
    }
}

pub async fn app(config: &Config) -> Result<(axum::Router, String), ConfigError> {
    let local = app_with_services(config).await?;
    Ok((local.router, local.operator_token))
}

/// The local server as [`app`] builds it, with the services and task source behind it (tests drive use
/// cases and tasks on them directly).
pub struct LocalApp {
    pub router: axum::Router,
    pub operator_token: String,
    pub svc: Arc<Services>,
    pub tasks: TaskSource,
}

/// [`app`], and what stands behind it.
pub async fn app_with_services(config: &Config) -> Result<LocalApp, ConfigError> {
    // The store first: its lock makes this the only process on the data dir, so the token written next is
    // the one this server checks (a start that loses the race writes nothing).
    let wired = crate::wiring::wire(config).await?;
    let svc = Arc::new(wired.services);
    let token = operator_token(config)?;
    // Background tasks run in this process: the local queue kept in the store, or SQS when configured.
    crate::worker::start(svc.clone(), wired.tasks.clone());
    let state = AppState {
        svc: svc.clone(),
        operator: Arc::new(OperatorAuth::Token(SecretString::from(token.clone()))),
    };
    let mut app = router(state, crate::http::routes::table());
    if let Some(local_files) = wired.local_files {
        app = app.merge(files::router(files::FilesState {
            svc: svc.clone(),
            files: local_files,
        }));
    }
    Ok(LocalApp {
        router: app,
        operator_token: token,
        svc,
        tasks: wired.tasks,
    })
}

fn banner(config: &Config, addr: std::net::SocketAddr, token: &str) -> String {
    let backend = match config.backend {
        Backend::Embedded => format!("embedded store in {}", config.data_dir.display()),
        Backend::Aws => format!("AWS ({} / {})", config.table, config.log_table),
    };
    let outbox = config.data_dir.join("outbox");
    let mail = match config.backend {
        Backend::Embedded => format!("mail outbox: {}", Path::new(&outbox).display()),
        Backend::Aws => "mail: SES".into(),
    };
    format!(
        "Kanri listening on http://{addr} ({backend})\n\
         operator token: {token}\n\
         {mail}\n\
         log in: create a tenant with POST /v1/ops/tenants (Authorization: Bearer <operator token>), open the\n\
         set-password link mailed to its admin in a browser (then http://{addr}/login), or use the API:\n\
         README.md walks through both."
    )
}

/// Runs until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (app, token) = app(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    println!("{}", banner(&config, addr, &token));
    serve_listener(listener, app, shutdown()).await?;
    Ok(())
}

/// Serves the app on a bound listener until `stop` completes (tests bind port 0 and never stop).
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
