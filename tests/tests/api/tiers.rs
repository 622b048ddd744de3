//! Who may import whom, read off the code as `layout.rs` reads the route table (docs/ARCHITECTURE.md, "The
//! tiers of app"):
//! - the use cases (`app`) and the adapters answer in domain terms and know nothing of HTTP, so no file under
//!   `shared/src/app/` or `shared/src/adapters/` names `crate::http`;
//! - inside `app`, support modules name only support modules, records name support and records, `principal`
//!   and `access` name those and each other, and a use case names any of these but never another use case
//!   (the files of a use case's folder, `imports/job.rs`, are that use case).
//!
//! Both are read from `use` lines (over several lines too, with groups) and from paths written out in the code
//! (`crate::app::users::load(..)`, `super::groups::x`); comments are skipped.

use std::path::{Path, PathBuf};

use kanri_tests::repo_root;

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Whether a `use` tree (whitespace removed, e.g. `crate::{app::X,http::error::ApiError}`) reaches `crate::http`.
fn use_tree_names_http(tree: &str) -> bool {
    let Some(rest) = tree.strip_prefix("crate::") else {
        return false;
    };
    if rest == "http" || rest.starts_with("http::") {
        return true;
    }
    // A group at the crate's root: `crate::{..., http::..., ...}` (`http` at its first level).
    let Some(group) = rest.strip_prefix('{') else {
        return false;
    };
    let mut depth = 0;
    let mut item = String::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                if item == "http" || item.starts_with("http::") {
                    return true;
                }
                item.clear();
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    item == "http" || item.starts_with("http::")
}

/// The places in `source` that import `crate::http`: `use` statements (over several lines too) and paths
/// written out in code (`crate::http::error::ApiError::from(..)`). Comments are skipped.
fn http_imports(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut statement: Option<(usize, String)> = None;
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("").trim();
        if let Some((_, text)) = statement.as_mut() {
            text.push_str(code);
        } else if let Some(rest) = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|p| code.strip_prefix(p))
        {
            statement = Some((n + 1, rest.to_owned()));
        } else if code.contains("crate::http::") || code.contains("crate::http;") {
            found.push((n + 1, line.trim().to_owned()));
        }
        if let Some((start, text)) = statement.take_if(|(_, t)| t.contains(';')) {
            let tree: String = text.trim_end_matches(';').split_whitespace().collect();
            if use_tree_names_http(&tree) {
                found.push((start, format!("use {text}")));
            }
        }
    }
    found
}

#[test]
fn the_check_sees_each_way_of_naming_http() {
    let source = "use crate::http::error::ApiError;\n\
                  use crate::{app::AppError, http::AppState};\n\
                  use crate::{\n    domain::ids,\n    http,\n};\n\
                  use aws_sdk_dynamodb::config::http::HttpResponse;\n\
                  use crate::app::http_like::Thing;\n\
                  // crate::http::error::ApiError in a comment\n\
                  let e = crate::http::error::ApiError::from(f.error);\n";
    let lines: Vec<usize> = http_imports(source).into_iter().map(|(n, _)| n).collect();
    assert_eq!(lines, vec![1, 2, 3, 10]);
}

#[test]
fn no_file_of_app_or_adapters_imports_http() {
    let root = repo_root().join("shared/src");
    let mut offenders = Vec::new();
    let mut files = 0;
    for tier in ["app", "adapters"] {
        for path in rust_files(&root.join(tier)) {
            files += 1;
            let source = std::fs::read_to_string(&path).expect("read source");
            for (line, text) in http_imports(&source) {
                let shown = path.strip_prefix(&root).unwrap_or(&path).display();
                offenders.push(format!("shared/src/{shown}:{line}: {text}"));
            }
        }
    }
    assert!(
        files > 20,
        "only {files} files found under {}",
        root.display()
    );
    assert!(
        offenders.is_empty(),
        "app and adapters must not depend on http (the wire code of an error is AppError::code()):\n{}",
        offenders.join("\n")
    );
}

/// The tiers of `shared/src/app`, lowest first: a module may name modules of its own tier or below, and a use
/// case no other use case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    /// Keys, transactions, paging, audit entries, mail, CSV, throttling, and the root (`Services`, `AppError`).
    Support,
    /// One file per stored entity: the record, its codec, loaders and writes.
    Record,
    /// Who calls (`principal`) and on whom they may act (`access`).
    Caller,
    /// What a caller does.
    UseCase,
}

/// The tier of every module of `shared/src/app`, by its path under `app/` without `.rs` (a folder's `mod.rs`
/// is the folder). The one place a module's tier is declared: a file missing here fails
/// [`every_file_of_app_has_a_tier`].
const TIERS: &[(&str, Tier)] = &[
    ("mod", Tier::Support),
    ("layout", Tier::Support),
    ("tx", Tier::Support),
    ("paging", Tier::Support),
    ("audit", Tier::Support),
    ("mail", Tier::Support),
    ("csv_file", Tier::Support),
    ("throttle", Tier::Support),
    ("records", Tier::Record),
    ("records/factor", Tier::Record),
    ("records/group", Tier::Record),
    ("records/import", Tier::Record),
    ("records/membership", Tier::Record),
    ("records/policy", Tier::Record),
    ("records/questionnaire", Tier::Record),
    ("records/role", Tier::Record),
    ("records/scim", Tier::Record),
    ("records/sso", Tier::Record),
    ("records/subscription", Tier::Record),
    ("records/tenant", Tier::Record),
    ("records/token", Tier::Record),
    ("records/upload", Tier::Record),
    ("records/user", Tier::Record),
    ("principal", Tier::Caller),
    ("access", Tier::Caller),
    ("auth", Tier::UseCase),
    ("groups", Tier::UseCase),
    ("imports", Tier::UseCase),
    ("imports/job", Tier::UseCase),
    ("integrity", Tier::UseCase),
    ("logs", Tier::UseCase),
    ("mfa", Tier::UseCase),
    ("notices", Tier::UseCase),
    ("questionnaires", Tier::UseCase),
    ("retention", Tier::UseCase),
    ("roles", Tier::UseCase),
    ("scim_groups", Tier::UseCase),
    ("scim_tokens", Tier::UseCase),
    ("sign_in_policy", Tier::UseCase),
    ("sso", Tier::UseCase),
    ("tenants", Tier::UseCase),
    ("uploads", Tier::UseCase),
    ("users", Tier::UseCase),
    ("users/scim", Tier::UseCase),
];

fn tier_of(module: &str) -> Option<Tier> {
    TIERS.iter().find(|(m, _)| *m == module).map(|(_, t)| *t)
}

/// The use case a use-case module belongs to: its folder (`imports/job` is `imports`).
fn use_case_of(module: &str) -> &str {
    module.split('/').next().unwrap_or(module)
}

/// The module of `app` a path under `app` names (`["records", "user", "load"]` → `records/user`,
/// `["users", "create"]` → `users`, `["AppError"]` → `mod`): the longest declared prefix.
fn module_named(segments: &[&str]) -> Option<String> {
    (1..=segments.len().min(2))
        .rev()
        .map(|n| segments[..n].join("/"))
        .find(|m| tier_of(m).is_some())
        .or_else(|| Some("mod".to_owned()).filter(|_| !segments.is_empty()))
}

/// Expands a `use` tree (whitespace removed, without `;`) into its leaf paths: `a::{b,c::{d,e}}` → `a::b`,
/// `a::c::d`, `a::c::e`.
fn expand_use_tree(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut out = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    for c in inner.chars().chain(std::iter::once(',')) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                if !item.is_empty() {
                    for leaf in expand_use_tree(&item) {
                        out.push(format!("{prefix}{leaf}"));
                    }
                }
                item.clear();
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    out
}

/// The modules of `app` that `source`, the file of module `me`, names, each with the line naming it: through
/// `use` lines and through paths written out in the code, as `crate::app::…` or relative to the file's parent
/// module (`super::…`).
fn modules_named(me: &str, source: &str) -> Vec<(usize, String)> {
    // `super::` of a file is its parent module: `app` for `users.rs`, `app/records` for `records/user.rs`.
    let parent: Vec<&str> = {
        let mut p: Vec<&str> = me.split('/').collect();
        p.pop();
        p
    };
    let resolve = |path: &str| -> Option<String> {
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        let under_app: Vec<&str> = match segments.as_slice() {
            ["crate", "app", rest @ ..] => rest.to_vec(),
            ["super", rest @ ..] => {
                // `super::super::` climbs once more for each.
                let (mut up, mut rest) = (parent.clone(), rest);
                while let ["super", r @ ..] = rest {
                    up.pop();
                    rest = r;
                }
                up.into_iter().chain(rest.iter().copied()).collect()
            }
            _ => return None,
        };
        let under_app: Vec<&str> = under_app
            .into_iter()
            .filter(|s| *s != "self" && *s != "*")
            .collect();
        module_named(&under_app)
    };
    let mut found = Vec::new();
    let mut statement: Option<(usize, String)> = None;
    let inline = ["crate::app::", "super::"];
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("").trim();
        if let Some((_, text)) = statement.as_mut() {
            text.push_str(code);
        } else if let Some(rest) = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|p| code.strip_prefix(p))
        {
            statement = Some((n + 1, rest.to_owned()));
        } else {
            for start in inline {
                let mut from = 0;
                while let Some(at) = code[from..].find(start) {
                    let begin = from + at;
                    let before = code[..begin].chars().last();
                    let path: String = code[begin..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    from = begin + path.len().max(1);
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                        continue;
                    }
                    // The last segment is the item used (`crate::app::groups::create`), unless the path
                    // ends with `::` (a group follows, as in a `use` line).
                    let path = match path.rsplit_once("::") {
                        Some((head, tail)) if !tail.is_empty() => head.to_owned(),
                        _ => path.trim_end_matches(':').to_owned(),
                    };
                    if let Some(m) = resolve(&format!("{path}::")) {
                        found.push((n + 1, m));
                    }
                }
            }
        }
        if let Some((start, text)) = statement.take_if(|(_, t)| t.contains(';')) {
            let tree: String = text
                .trim_end_matches(';')
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let tree = tree
                .replace(" as ", "\u{0}")
                .replace(' ', "")
                .replace('\u{0}', " as ");
            for leaf in expand_use_tree(&tree) {
                if let Some(m) = resolve(&leaf) {
                    found.push((start, m));
                }
            }
        }
    }
    found
}

/// What `me` may not name of what it names, as `(line, module, why)`.
fn tier_offences(me: &str, source: &str) -> Vec<(usize, String, &'static str)> {
    let Some(mine) = tier_of(me) else {
        return Vec::new();
    };
    modules_named(me, source)
        .into_iter()
        .filter(|(_, m)| m != me)
        .filter_map(|(line, m)| {
            let theirs = tier_of(&m)?;
            let why = if theirs > mine {
                "names a module of a higher tier"
            } else if mine == Tier::UseCase
                && theirs == Tier::UseCase
                && use_case_of(&m) != use_case_of(me)
            {
                "a use case names another use case"
            } else {
                return None;
            };
            Some((line, m, why))
        })
        .collect()
}

/// The module of a file of `shared/src/app` (`records/user.rs` → `records/user`, `records/mod.rs` → `records`).
fn module_of_file(app: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(app).unwrap_or(path).with_extension("");
    let rel = rel.to_string_lossy().replace('\\', "/");
    match rel.strip_suffix("/mod") {
        Some(folder) => folder.to_owned(),
        None => rel,
    }
}

#[test]
fn the_check_sees_each_way_of_naming_a_use_case() {
    let source = "use crate::app::{users, groups};\n\
                  use crate::app::records::user::{self, UserRecord};\n\
                  use crate::app::{\n    AppError,\n    roles::grants_of,\n};\n\
                  let g = super::groups::x(a);\n\
                  // crate::app::notices::x in a comment\n\
                  let t = crate::app::tenants::create(svc, t).await?;\n\
                  let r = crate::app::records::tenant::load(svc, t).await?;\n\
                  let u = crate::app::users::scim::find(svc);\n\
                  let j = crate::app::imports::job::run(svc);\n\
                  use super::super::mfa;\n";
    let found: Vec<(usize, String)> = tier_offences("imports", source)
        .into_iter()
        .map(|(n, m, _)| (n, m))
        .collect();
    let want: Vec<(usize, String)> = [
        (1, "users"),
        (1, "groups"),
        (3, "roles"),
        (7, "groups"),
        (9, "tenants"),
        (11, "users/scim"),
        (13, "mfa"),
    ]
    .into_iter()
    .map(|(n, m)| (n, m.to_owned()))
    .collect();
    assert_eq!(found, want);
    // A record naming a use case is refused too; records naming records and support are not.
    let record = "use crate::app::records::tenant;\nuse crate::app::{AppError, layout, users};\n\
                  use super::group::load;\nlet p = crate::app::principal::authenticate(svc);\n";
    let found: Vec<(usize, String)> = tier_offences("records/membership", record)
        .into_iter()
        .map(|(n, m, _)| (n, m))
        .collect();
    assert_eq!(
        found,
        vec![(2, "users".to_owned()), (4, "principal".to_owned())]
    );
}

#[test]
fn every_file_of_app_has_a_tier() {
    let app = repo_root().join("shared/src/app");
    let missing: Vec<String> = rust_files(&app)
        .iter()
        .map(|p| module_of_file(&app, p))
        .filter(|m| tier_of(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "declare the tier of each module of app in TIERS (tests/tests/api/tiers.rs) and docs/ARCHITECTURE.md: {missing:?}"
    );
}

#[test]
fn no_use_case_names_another_and_no_tier_names_one_above() {
    let app = repo_root().join("shared/src/app");
    let mut offenders = Vec::new();
    let mut files = 0;
    for path in rust_files(&app) {
        files += 1;
        let me = module_of_file(&app, &path);
        let source = std::fs::read_to_string(&path).expect("read source");
        let shown = path
            .strip_prefix(&app)
            .unwrap_or(&path)
            .display()
            .to_string();
        for (line, module, why) in tier_offences(&me, &source) {
            offenders.push(format!("shared/src/app/{shown}:{line}: {why}: {module}"));
        }
    }
    assert!(
        files > 40,
        "only {files} files found under {}",
        app.display()
    );
    assert!(
        offenders.is_empty(),
        "move what two use cases share into a record (app/records/), see docs/ARCHITECTURE.md:\n{}",
        offenders.join("\n")
    );
}
