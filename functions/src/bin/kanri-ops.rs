//! The operator's command line (same configuration as the server: KANRI_BACKEND, KANRI_DATA_DIR, …).
//!
//!   kanri-ops backups                      list the backup generations
//!   kanri-ops restore <backup-id> <target>  restore one into a new data file (embedded) or into new
//!                                          tables named <table>-<target> (aws)
//!   kanri-ops check [<tenant-id>]          check the derived state of one tenant (or of every tenant):
//!                                          prints each broken invariant; exit status 1 when one is broken

use kanri::app::integrity;
use kanri::config::Config;
use kanri::domain::ids::TenantId;

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
        ["check", rest @ ..] if rest.len() <= 1 => {
            let reports = match rest.first() {
                Some(id) => {
                    let tenant = TenantId::parse(id).ok_or("not a tenant id")?;
                    vec![integrity::check_tenant(&svc, &tenant).await?]
                }
                None => integrity::check_all(&svc).await?,
            };
            let mut broken = 0;
            for r in &reports {
                for p in &r.problems {
                    println!("{}\t{p}", r.tenant);
                }
                broken += r.problems.len();
                eprintln!(
                    "{}: {} users, {} groups, {} memberships, {} custom roles: {}",
                    r.tenant,
                    r.users,
                    r.groups,
                    r.memberships,
                    r.roles,
                    if r.is_sound() { "sound" } else { "BROKEN" }
                );
            }
            match broken {
                0 => Ok(()),
                n => Err(format!("{n} broken invariants in {} tenants checked", reports.len()).into()),
            }
        }
        _ => Err(
            "usage: kanri-ops backups | kanri-ops restore <backup-id> <target> | kanri-ops check [<tenant-id>]"
                .into(),
        ),
    }
}
