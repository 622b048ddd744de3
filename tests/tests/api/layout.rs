//! The route table is the one source: every route has its Lambda binary and its function in template.yaml,
//! and the other way round; the OpenAPI document lists every route.

use std::collections::BTreeSet;

use kanri::http::routes::{Access, Target, table};
use kanri_tests::repo_root;

#[test]
fn every_route_has_a_lambda_binary_and_every_binary_a_route() {
    let routes: BTreeSet<String> = table().iter().map(|r| r.id.to_owned()).collect();
    let bins: BTreeSet<String> = std::fs::read_dir(repo_root().join("functions/src/bin"))
        .expect("bin dir")
        .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(str::to_owned))
        .filter(|b| {
            b != "kanri-local"
                && b != "kanri-ops"
                && !b.starts_with("job-")
                && !b.starts_with("worker-")
        })
        .collect();
    assert_eq!(routes, bins);
    // Each binary serves the route its name says, and only that one: it hands the runtime that route's
    // function (named after the id, checked at compile time in `routes!`), so it links no other handler.
    for id in &bins {
        let text = std::fs::read_to_string(repo_root().join(format!("functions/src/bin/{id}.rs")))
            .expect("bin file");
        let call = format!(
            "kanri::http::lambda::run(kanri::http::routes::{}).await",
            id.replace('-', "_")
        );
        assert_eq!(
            text.matches(&call).count(),
            1,
            "{id}.rs does not call {call}"
        );
        assert_eq!(
            text.matches("routes::").count(),
            1,
            "{id}.rs names another route"
        );
    }
}

#[test]
fn template_yaml_routes_each_path_and_method_to_the_right_function() {
    let routes: Vec<serde_json::Value> = table()
        .iter()
        .map(|r| serde_json::json!({"id": r.id, "method": r.method.as_str(), "path": r.path, "operator": r.access == Access::Operator}))
        .collect();
    let file = std::env::temp_dir().join(format!("kanri-routes-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&routes).expect("json")).expect("write");
    let out = std::process::Command::new("python3")
        .arg(repo_root().join("tests/template_routes.py"))
        .arg(&file)
        .arg(repo_root().join("template.yaml"))
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_openapi_document_describes_every_route() {
    let doc = kanri::http::openapi::document();
    for r in table() {
        let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
        if r.is_page() {
            // Pages answer HTML to people, not JSON to clients.
            assert!(op.is_null(), "page {} is in the OpenAPI document", r.id);
        } else {
            assert_eq!(op["operationId"], r.id, "{} {}", r.method, r.path);
        }
    }
}

#[test]
fn every_scheduled_job_binary_has_a_function_with_a_schedule_in_template_yaml() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template");
    let jobs: Vec<String> = std::fs::read_dir(repo_root().join("functions/src/bin"))
        .expect("bin dir")
        .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(str::to_owned))
        .filter(|b| b.starts_with("job-"))
        .collect();
    assert!(jobs.len() >= 2, "{jobs:?}");
    for job in jobs {
        let at = template
            .find(&format!("Binary: {job}\n"))
            .unwrap_or_else(|| panic!("no function builds {job}"));
        let rest = &template[at..];
        let block = &rest[..rest.find("\n\n  ").unwrap_or(rest.len())];
        assert!(
            block.contains("Type: ScheduleV2")
                && block.contains("ScheduleExpressionTimezone: Asia/Tokyo"),
            "{job} has no schedule"
        );
    }
}

#[test]
fn the_task_worker_is_fed_by_the_queue_every_function_sends_to() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template");
    let at = template
        .find("Binary: worker-tasks\n")
        .expect("a function builds worker-tasks");
    let rest = &template[at..];
    let block = &rest[..rest.find("\n\n  ").unwrap_or(rest.len())];
    for wanted in [
        "Type: SQS",
        "Queue: !GetAtt TaskQueue.Arn",
        "FunctionResponseTypes: [ReportBatchItemFailures]",
        "KANRI_MAIL_RATE",
    ] {
        assert!(block.contains(wanted), "worker-tasks lacks {wanted}");
    }
    assert!(template.contains("KANRI_QUEUE_URL: !Ref TaskQueue"));
    assert!(template.contains("deadLetterTargetArn: !GetAtt TaskDeadLetterQueue.Arn"));
}

/// Whether a route's path or body names a user of the tenant: a path under `/v1/users` or with a
/// `{user_id}`, a body with user or member ids or a role to give, a CSV file (rows of users or members), or
/// an import whose kind may be users.
fn names_a_user(r: &kanri::http::routes::Route, doc: &serde_json::Value) -> bool {
    if r.path.starts_with("/v1/users") || r.path.contains("{user_id}") {
        return true;
    }
    let Some(schema) = r.doc.request else {
        return false;
    };
    if schema == "CsvFile" {
        return true;
    }
    let props = &doc["components"]["schemas"][schema]["properties"];
    let fields: Vec<&String> = props
        .as_object()
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    fields
        .iter()
        .any(|f| f.ends_with("user_ids") || *f == "member_ids" || *f == "role_id")
        || props["kind"]["enum"]
            .as_array()
            .is_some_and(|e| e.iter().any(|k| k == "users"))
}

#[test]
fn every_route_that_names_a_user_declares_its_target() {
    let doc = kanri::http::openapi::document();
    let mut declared = 0;
    for r in table() {
        let tenant_route = !matches!(r.access, Access::Public | Access::Operator);
        let mutating = r.method.as_str() != "GET";
        if tenant_route && mutating && names_a_user(&r, &doc) {
            assert_ne!(
                r.target,
                Target::NoAccount,
                "{} {} names a user: say in the route table how (Target), and give \
                 tests/tests/api/authz.rs a case for it",
                r.method,
                r.path
            );
        }
        if r.target != Target::NoAccount {
            declared += 1;
            assert!(
                tenant_route && mutating,
                "{} {}: only a signed-in caller's change can have a target",
                r.method,
                r.path
            );
        }
    }
    assert!(declared >= 16, "{declared}");
}

#[test]
fn the_http_api_serves_tls_1_2_on_its_custom_domain_and_only_there() {
    // The template as CloudFormation sees it after the SAM transform.
    let out = std::env::temp_dir().join(format!("kanri-translated-{}.json", std::process::id()));
    let run = std::process::Command::new("python3")
        .arg(repo_root().join("infra/sam_translate.py"))
        .arg(repo_root().join("template.yaml"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("python3 runs");
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("translated")).expect("json");
    let _ = std::fs::remove_file(&out);
    let res = &doc["Resources"];
    let conditional = serde_json::json!("HasCustomDomain");
    // Only deployed with a domain and its certificate (parameters), so the template deploys without them.
    for p in ["ApiDomainName", "ApiCertificateArn"] {
        assert_eq!(doc["Parameters"][p]["Default"], "", "{p}");
    }
    let domains: Vec<&serde_json::Value> = res
        .as_object()
        .expect("resources")
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGatewayV2::DomainName")
        .collect();
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0]["Condition"], conditional);
    let config = &domains[0]["Properties"]["DomainNameConfigurations"][0];
    assert_eq!(config["SecurityPolicy"], "TLS_1_2");
    assert_eq!(config["CertificateArn"]["Ref"], "ApiCertificateArn");
    let mapping = res
        .as_object()
        .expect("resources")
        .values()
        .find(|r| r["Type"] == "AWS::ApiGatewayV2::ApiMapping")
        .expect("an API mapping");
    assert_eq!(mapping["Condition"], conditional);
    assert_eq!(mapping["Properties"]["ApiId"]["Ref"], "HttpApi");
    // With the domain, the default execute-api endpoint is off.
    assert_eq!(
        res["HttpApi"]["Properties"]["Body"]["servers"][0]["x-amazon-apigateway-endpoint-configuration"]
            ["disableExecuteApiEndpoint"],
        serde_json::json!({"Fn::If": ["HasCustomDomain", true, false]})
    );
}
