//! `kanri-ops check` as an operator runs it: on a sound store it says so and exits 0; after a row is
//! corrupted it prints the broken invariant and exits 1.

// A test helper that fails should stop the test right there (as in the kanri-tests package).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use kanri::app::layout::{self, attr};
use kanri::app::tenants::{self, NewTenant};
use kanri::config::{Backend, Config};
use kanri::domain::values::{Email, Name, Slug};
use kanri::ports::{Change, Table, Write};

fn config(dir: &Path) -> Config {
    Config {
        backend: Backend::Embedded,
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        operator_token: None,
        settings: Default::default(),
        table: String::new(),
        log_table: String::new(),
        keys_table: String::new(),
        kms_key_id: String::new(),
        aws_emulator: None,
        queue_url: None,
        bucket: String::new(),
        store_cache_bytes: kanri::adapters::embedded::store::DEFAULT_CACHE_BYTES,
        aws_timeouts: None,
    }
}

fn kanri_ops(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kanri-ops"))
        .args(args)
        .env("KANRI_BACKEND", "embedded")
        .env("KANRI_DATA_DIR", dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn check_exits_1_and_names_the_broken_invariant_once_a_row_is_corrupted() {
    let dir = std::env::temp_dir().join(format!("kanri-ops-{}", kanri::domain::ids::new_id()));
    let tenant = {
        let svc = config(&dir).services().await.unwrap();
        let created = tenants::create(
            &svc,
            NewTenant {
                slug: Slug::parse(&format!("ops-{}", &kanri::domain::ids::new_id()[16..])).unwrap(),
                name: Name::parse("name", "点検株式会社").unwrap(),
                seat_limit: 5,
                admin_name: Name::parse("name", "管理 太郎").unwrap(),
                admin_email: Email::parse("admin@example.jp").unwrap(),
            },
            kanri::domain::time::now(),
        )
        .await
        .unwrap();
        created.tenant.id
    };
    // The store is closed again (the binary opens the same file).
    let (code, out, err) = kanri_ops(&dir, &["check"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.contains(&format!(
            "{tenant}: 1 users, 0 groups, 0 memberships, 0 custom roles: sound"
        )),
        "{err}"
    );
    assert_eq!(out, "");

    {
        let svc = config(&dir).services().await.unwrap();
        svc.store
            .transact(vec![Write::Update {
                table: Table::Data,
                pk: layout::tenant_pk(&tenant),
                sk: layout::META.into(),
                changes: vec![Change::Add(attr::SEATS_USED, 1)],
                cond: None,
            }])
            .await
            .unwrap();
    }
    for args in [&["check"][..], &["check", tenant.as_str()][..]] {
        let (code, out, err) = kanri_ops(&dir, args);
        assert_eq!(code, Some(1), "{args:?}: {out}{err}");
        assert_eq!(
            out,
            format!(
                "{tenant}\tseats_used: the tenant counts 2 seats used but has 1 enabled users\n"
            )
        );
        assert!(err.contains("1 broken invariants"), "{err}");
    }
    let (code, _, err) = kanri_ops(&dir, &["check", "not-an-id"]);
    assert_eq!(
        (code, err.contains("not a tenant id")),
        (Some(1), true),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
