//! The operator's command line (same configuration as the server: KANRI_BACKEND, KANRI_DATA_DIR, …).
//!
//!   kanri-ops backups                      list the backup generations
//!   kanri-ops restore <backup-id> <target>  restore one into a new data file (embedded) or into new
//!                                          tables named <table>-<target> (aws)

use kanri::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = run(&args).await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kanri-ops: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = Config::from_env()?;
    let svc = config.services().await?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["backups"] => {
            for b in svc.backups.list().await? {
                println!(
                    "{}\t{}\t{}",
                    b.id,
                    kanri::app::retention::created_at(&b.id),
                    b.size.map(|s| s.to_string()).unwrap_or_default()
                );
            }
            Ok(())
        }
        ["restore", id, target] => {
            svc.backups.restore(id, target).await?;
            println!("restored {id} into {target}");
            Ok(())
        }
        _ => Err("usage: kanri-ops backups | kanri-ops restore <backup-id> <target>".into()),
    }
}
