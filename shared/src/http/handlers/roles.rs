//! Roles and the permission catalogue.

use std::collections::BTreeMap;

use axum::Json as Out;
use serde_json::{Value, json};

use crate::domain::permissions::{BUILTIN_ROLES, Feature, Level};
use crate::http::routes::{self, Access};

pub async fn list() -> Out<Value> {
    let items: Vec<Value> = BUILTIN_ROLES
        .iter()
        .map(|r| json!({"id": r.id, "name": r.name, "builtin": true, "grants": (r.grants)()}))
        .collect();
    Out(json!({"items": items}))
}

/// For each feature, the endpoints that `view` and `edit` open: read off the route table the server
/// enforces, so the two cannot disagree.
pub fn catalogue() -> Value {
    let mut opens: BTreeMap<Feature, (Vec<String>, Vec<String>)> = Feature::ALL
        .iter()
        .map(|f| (*f, (vec![], vec![])))
        .collect();
    for r in routes::table() {
        if let Access::Feature(f, level) = r.access {
            let e = format!("{} {}", r.method, r.path);
            let entry = opens.entry(f).or_default();
            // Edit includes view, so an endpoint needing view is opened by both.
            if level == Level::View {
                entry.0.push(e.clone());
            }
            entry.1.push(e);
        }
    }
    let items: Vec<Value> = opens
        .into_iter()
        .map(|(f, (view, edit))| json!({"feature": f, "description": f.description(), "view": view, "edit": edit}))
        .collect();
    json!({"items": items})
}

pub async fn permissions() -> Out<Value> {
    Out(catalogue())
}
