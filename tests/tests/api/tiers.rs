//! Who may import whom, read off the code as `layout.rs` reads the route table: the use cases (`app`) and the
//! adapters answer in domain terms and know nothing of HTTP, so no file under `shared/src/app/` or
//! `shared/src/adapters/` names `crate::http`, in a `use` line or in a path written out in the code.

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
