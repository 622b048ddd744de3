//! The calls of `aws-requests` beyond the core rows: every other route of the route table once, as its
//! client calls it (the API with a session, SCIM with a SCIM token, the operator's routes with the operator
//! token, the pages with the browser's cookies and the form's CSRF token, the second factor with a real
//! TOTP code computed here). `check_covered` then fails the bench when a route of the table was not
//! called.

use serde_json::{Value, json};

use crate::{Api, Auth, Body, Recorder, Res, err, invitation_token, str_at};

/// Routes whose cost is counted by `kanri-bench bulk-requests` (section 6 of BENCHMARKS.md: the contract
/// ended, then the purge), not here: a terminated tenant and its purge would end the tenant these calls
/// use.
pub(crate) const COUNTED_IN_BULK: &[&str] = &["ops-tenants-terminate", "ops-jobs-purge"];

const SCIM_CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const SCIM_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const SCIM_PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SCIM_SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Fails, naming them, when routes of the route table were not called (neither here nor, for
/// [`COUNTED_IN_BULK`], by `bulk-requests`).
pub(crate) fn check_covered(rec: &Recorder) -> Res<Vec<String>> {
    let missing: Vec<String> = kanri::http::routes::table()
        .iter()
        .map(|r| r.id)
        .filter(|id| !rec.measured.contains(*id) && !COUNTED_IN_BULK.contains(id))
        .map(str::to_owned)
        .collect();
    if missing.is_empty() {
        Ok(missing)
    } else {
        Err(err(format!(
            "routes of the route table that aws-requests does not call (add a call in \
             bench/src/every_route.rs and its minimum in bench/report.py MINIMUM): {}",
            missing.join(", ")
        )))
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The code an authenticator app shows at `t` for a base32 secret (SHA-1, 6 digits, 30 s).
fn totp(secret: &str, t: u64) -> Res<String> {
    let secret: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = totp_rs::Secret::try_from_base32(&secret)
        .map_err(|e| err(format!("TOTP secret: {e:?}")))?;
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_secret(secret)
        .build()
        .map_err(|e| err(format!("TOTP: {e}")))?;
    Ok(totp.generate(t).to_string())
}

/// The value of cookie `name` a response sets.
fn set_cookie(r: &crate::Resp, name: &str) -> Option<String> {
    r.headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
}

fn location(r: &crate::Resp) -> String {
    r.headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn html(r: &crate::Resp) -> &str {
    r.body.as_str().unwrap_or("")
}

/// The value of a form field in a page (`name="…" value="…"`).
fn field(page: &str, name: &str) -> Res<String> {
    let pat = format!("name=\"{name}\" value=\"");
    let at = page
        .find(&pat)
        .ok_or_else(|| err(format!("no field {name} in the page")))?;
    let rest = &page[at + pat.len()..];
    Ok(unescape(&rest[..rest.find('"').unwrap_or(0)]))
}

/// The text of an HTML-escaped attribute value.
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#43;", "+")
        .replace("&#x2b;", "+")
        .replace("&#x3d;", "=")
        .replace("&#61;", "=")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of the element with id `id` (`id="…">text<`).
fn text_of(page: &str, id: &str) -> Res<String> {
    let pat = format!("id=\"{id}\">");
    let at = page
        .find(&pat)
        .ok_or_else(|| err(format!("no #{id} in the page")))?;
    let rest = &page[at + pat.len()..];
    Ok(rest[..rest.find('<').unwrap_or(0)].trim().to_owned())
}

fn form(pairs: &[(&str, &str)]) -> Body {
    Body::Form(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn rfc3339(t: time::OffsetDateTime) -> Res<String> {
    Ok(t.format(&time::format_description::well_known::Rfc3339)?)
}

/// A user with a generated password, signed in and past the forced change: id, session, password.
/// Not measured.
async fn new_user(api: &Api, s: &Auth, slug: &str, login: &str) -> Res<(String, String, String)> {
    let r = api
        .send_as(
            "POST",
            "/v1/users",
            s,
            Body::Json(json!({"name": format!("Bench {login}"), "login_id": login, "delivery": "generated"})),
        )
        .await?;
    let id = str_at(&r.body, &["user", "id"])?.to_owned();
    let initial = str_at(&r.body, &["initial_password"])?.to_owned();
    let t = login_token(api, slug, login, &initial).await?;
    let pw = format!("{login}-bench-passphrase");
    let c = api
        .send_as(
            "POST",
            "/v1/me/password",
            &Auth::Bearer(t.clone()),
            Body::Json(json!({"current_password": initial, "new_password": pw})),
        )
        .await?;
    if c.status != 204 {
        return Err(err(format!(
            "{login}: password change {} {}",
            c.status, c.body
        )));
    }
    Ok((id, t, pw))
}

async fn login_token(api: &Api, slug: &str, login: &str, pw: &str) -> Res<String> {
    let r = api
        .send_as(
            "POST",
            "/v1/auth/login",
            &Auth::None,
            Body::Json(json!({"tenant": slug, "login": login, "password": pw})),
        )
        .await?;
    Ok(str_at(&r.body, &["token"])?.to_owned())
}

/// What the calls need of the tenant `aws_requests` set up.
pub(crate) struct Ctx<'a> {
    pub api: &'a Api,
    pub moto: &'a str,
    pub slug: &'a str,
    pub domain: &'a str,
    pub tenant_id: &'a str,
    /// The admin's API session and password.
    pub admin: &'a str,
    pub admin_email: &'a str,
    pub admin_pw: &'a str,
    /// Invited users of the tenant, in no group, not yet signed in, named filler<i>@domain.
    pub spare: Vec<String>,
}

impl Ctx<'_> {
    fn spare(&mut self) -> Res<String> {
        self.spare.pop().ok_or_else(|| err("no spare user left"))
    }
}

pub(crate) async fn every_route(rec: &mut Recorder, mut c: Ctx<'_>) -> Res<()> {
    api_routes(rec, &mut c).await?;
    scim_routes(rec, &c).await?;
    task_routes(rec, &c).await?;
    pages(rec, &mut c).await?;
    Ok(())
}

/// Users, roles, the second factor, the sign-in policy's neighbours.
async fn api_routes(rec: &mut Recorder, c: &mut Ctx<'_>) -> Res<()> {
    let api = c.api;
    let s = Auth::Bearer(c.admin.to_owned());
    let op = Auth::Bearer(api.operator.clone());
    let j = Body::Json;

    rec.hit(
        api,
        "auth-password-reset",
        "known login (mail sent)",
        "/v1/auth/password-reset",
        &Auth::None,
        j(json!({"tenant": c.slug, "login": c.admin_email})),
    )
    .await?;
    let u = c.spare()?;
    rec.hit(
        api,
        "users-credentials",
        "generated password for an invited user",
        &format!("/v1/users/{u}/credentials"),
        &s,
        j(json!({"delivery": "generated"})),
    )
    .await?;
    rec.hit(
        api,
        "users-disable",
        "",
        &format!("/v1/users/{u}/disable"),
        &s,
        j(json!({})),
    )
    .await?;
    rec.hit(
        api,
        "users-enable",
        "",
        &format!("/v1/users/{u}/enable"),
        &s,
        j(json!({})),
    )
    .await?;

    // Roles.
    let role = rec
        .hit(
            api,
            "roles-create",
            "2 grants",
            "/v1/roles",
            &s,
            j(json!({"name": "Bench Role", "grants": {"notices": "view", "elearning": "edit"}})),
        )
        .await?;
    let rid = str_at(&role.body, &["id"])?.to_owned();
    rec.hit(
        api,
        "roles-update",
        "name and grants",
        &format!("/v1/roles/{rid}"),
        &s,
        j(json!({"name": "Bench Role (renamed)", "grants": {"notices": "edit"}})),
    )
    .await?;
    rec.hit(
        api,
        "users-role",
        "custom role",
        &format!("/v1/users/{u}/role"),
        &s,
        j(json!({"role_id": rid})),
    )
    .await?;
    rec.hit(
        api,
        "tenant-default-role",
        "custom role",
        "/v1/tenant/default-role",
        &s,
        j(json!({"role_id": rid})),
    )
    .await?;
    api.send_as(
        "PUT",
        "/v1/tenant/default-role",
        &s,
        j(json!({"role_id": "member"})),
    )
    .await?;
    rec.hit(
        api,
        "users-org-admin-grant",
        "",
        &format!("/v1/users/{u}/org-admin"),
        &s,
        Body::Empty,
    )
    .await?;
    rec.hit(
        api,
        "users-org-admin-revoke",
        "",
        &format!("/v1/users/{u}/org-admin"),
        &s,
        Body::Empty,
    )
    .await?;
    let unused = api
        .send_as(
            "POST",
            "/v1/roles",
            &s,
            j(json!({"name": "Bench Unused Role", "grants": {}})),
        )
        .await?;
    let unused = str_at(&unused.body, &["id"])?.to_owned();
    rec.hit(
        api,
        "roles-delete",
        "a role nobody has",
        &format!("/v1/roles/{unused}"),
        &s,
        Body::Empty,
    )
    .await?;

    // The second factor, with the codes an authenticator app would show.
    let login = format!("mfa-{}", c.slug);
    let (mid, mt, mpw) = new_user(api, &s, c.slug, &login).await?;
    let m = Auth::Bearer(mt.clone());
    let e = rec
        .hit(api, "me-mfa-totp", "", "/v1/me/mfa/totp", &m, j(json!({})))
        .await?;
    let secret = str_at(&e.body, &["secret"])?.to_owned();
    rec.hit(
        api,
        "me-mfa-totp-confirm",
        "a code of the app",
        "/v1/me/mfa/totp/confirm",
        &m,
        j(json!({"code": totp(&secret, now_secs())?})),
    )
    .await?;
    let ch = rec
        .hit_expect(
            api,
            "auth-login",
            "password step of a user with a second factor",
            "/v1/auth/login",
            &Auth::None,
            j(json!({"tenant": c.slug, "login": login, "password": mpw})),
            200,
        )
        .await?;
    let challenge = str_at(&ch.body, &["challenge"])?.to_owned();
    // The confirming code's step is used up: the next step's code, within the allowed skew.
    rec.hit(
        api,
        "auth-login-mfa",
        "the app's code",
        "/v1/auth/login/mfa",
        &Auth::None,
        j(json!({"challenge": challenge, "code": totp(&secret, now_secs() + 30)?})),
    )
    .await?;
    rec.hit(
        api,
        "me-mfa-delete",
        "with the password",
        "/v1/me/mfa",
        &m,
        j(json!({"password": mpw})),
    )
    .await?;
    // Enrolled again (a new secret), then reset by the admin.
    let e = api
        .send_as("POST", "/v1/me/mfa/totp", &m, j(json!({})))
        .await?;
    let secret = str_at(&e.body, &["secret"])?.to_owned();
    api.send_as(
        "POST",
        "/v1/me/mfa/totp/confirm",
        &m,
        j(json!({"code": totp(&secret, now_secs())?})),
    )
    .await?;
    rec.hit(
        api,
        "users-mfa-reset",
        "an enrolled user",
        &format!("/v1/users/{mid}/mfa"),
        &s,
        Body::Empty,
    )
    .await?;

    // Questionnaires (supply chain).
    let q = rec
        .hit(
            api,
            "questionnaires-create",
            "3 questions",
            "/v1/questionnaires",
            &s,
            j(json!({"title": "Bench survey", "questions": [
                {"text": "Q1"}, {"text": "Q2"}, {"text": "Q3"}]})),
        )
        .await?;
    let qid = str_at(&q.body, &["id"])?.to_owned();
    rec.hit(
        api,
        "questionnaires-respond",
        "3 answers",
        &format!("/v1/questionnaires/{qid}/responses"),
        &s,
        j(
            json!({"respondent": {"name": "Respondent", "email": "r@supplier.example.com",
                                "company": "Supplier KK"},
                 "answers": ["A1", "A2", "A3"]}),
        ),
    )
    .await?;
    rec.hit(
        api,
        "questionnaires-get",
        "1 response",
        &format!("/v1/questionnaires/{qid}"),
        &s,
        Body::Empty,
    )
    .await?;
    rec.hit(
        api,
        "ops-tenants-questionnaires",
        "",
        &format!("/v1/ops/tenants/{}/questionnaires", c.tenant_id),
        &op,
        Body::Empty,
    )
    .await?;

    // Notices and subscriptions.
    rec.hit(
        api,
        "me-subscriptions-get",
        "",
        "/v1/me/subscriptions",
        &s,
        Body::Empty,
    )
    .await?;
    rec.hit(
        api,
        "me-subscriptions-put",
        "release on",
        "/v1/me/subscriptions",
        &s,
        j(json!({"release": true, "incident": false})),
    )
    .await?;
    // The notice's fan-out task mails the subscriber at the mail rate: counted with the call.
    rec.settle = Some(std::time::Duration::from_millis(2000));
    rec.hit(
        api,
        "ops-notices-create",
        "release notice, 1 subscriber (the admin), its fan-out and mail counted with it",
        "/v1/ops/notices",
        &op,
        j(json!({"kind": "release", "title": "Bench release", "body": "Body"})),
    )
    .await?;
    rec.hit(api, "notices-list", "", "/v1/notices", &s, Body::Empty)
        .await?;
    rec.hit(
        api,
        "ops-notices-list",
        "",
        "/v1/ops/notices",
        &op,
        Body::Empty,
    )
    .await?;

    // Single sign-on's settings: the provider is a discovery document served by this process.
    let issuer = discovery_server().await?;
    rec.hit(
        api,
        "tenant-sso-put",
        "new provider",
        "/v1/tenant/sso",
        &s,
        j(
            json!({"issuer": issuer, "client_id": "kanri-bench", "client_secret": "bench-secret",
                 "display_name": "Bench IdP", "allowed_domains": [c.domain], "mode": "optional"}),
        ),
    )
    .await?;
    rec.hit(api, "tenant-sso-get", "", "/v1/tenant/sso", &s, Body::Empty)
        .await?;
    Ok(())
}

/// An OpenID provider's discovery document at `http://127.0.0.1:<port>` (what `GET /sso/start` reads
/// before sending the browser to the provider): the issuer.
async fn discovery_server() -> Res<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
    })
    .to_string();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let doc = doc.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{doc}",
                    doc.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(issuer)
}

/// Every SCIM route, as an identity provider calls them with the tenant's SCIM token.
async fn scim_routes(rec: &mut Recorder, c: &Ctx<'_>) -> Res<()> {
    let api = c.api;
    let s = Auth::Bearer(c.admin.to_owned());
    let t = rec
        .hit(
            api,
            "scim-tokens-create",
            "",
            "/v1/scim-tokens",
            &s,
            Body::Json(json!({"name": "Bench IdP"})),
        )
        .await?;
    let token = str_at(&t.body, &["token"])?.to_owned();
    let token_id = str_at(&t.body, &["id"])?.to_owned();
    rec.hit(
        api,
        "scim-tokens-list",
        "",
        "/v1/scim-tokens",
        &s,
        Body::Empty,
    )
    .await?;
    let k = Auth::Bearer(token);
    let sc = Body::Scim;
    for (route, path) in [
        (
            "scim-service-provider-config",
            "/scim/v2/ServiceProviderConfig".to_owned(),
        ),
        ("scim-resource-types", "/scim/v2/ResourceTypes".to_owned()),
        (
            "scim-resource-type",
            "/scim/v2/ResourceTypes/User".to_owned(),
        ),
        ("scim-schemas", "/scim/v2/Schemas".to_owned()),
        ("scim-schema", format!("/scim/v2/Schemas/{SCIM_CORE}")),
    ] {
        rec.hit(api, route, "", &path, &k, Body::Empty).await?;
    }
    let email = format!("scim1@{}", c.domain);
    let u = rec
        .hit(
            api,
            "scim-users-create",
            "with e-mail and external id",
            "/scim/v2/Users",
            &k,
            sc(
                json!({"schemas": [SCIM_CORE], "externalId": "bench-ext-1", "userName": email,
                      "active": true, "displayName": "SCIM One",
                      "emails": [{"primary": true, "type": "work", "value": email}]}),
            ),
        )
        .await?;
    let uid = str_at(&u.body, &["id"])?.to_owned();
    rec.hit(
        api,
        "scim-users-list",
        "filter userName eq (the connection test)",
        "/scim/v2/Users?filter=userName%20eq%20%22nobody-bench%22",
        &k,
        Body::Empty,
    )
    .await?;
    rec.hit(
        api,
        "scim-users-search",
        "filter externalId eq",
        "/scim/v2/Users/.search",
        &k,
        sc(json!({"schemas": [SCIM_SEARCH], "filter": "externalId eq \"bench-ext-1\""})),
    )
    .await?;
    rec.hit(
        api,
        "scim-search",
        "filter userName eq, all resource types",
        "/scim/v2/.search",
        &k,
        sc(json!({"schemas": [SCIM_SEARCH], "filter": format!("userName eq \"{email}\"")})),
    )
    .await?;
    rec.hit(
        api,
        "scim-users-get",
        "",
        &format!("/scim/v2/Users/{uid}"),
        &k,
        Body::Empty,
    )
    .await?;
    rec.hit(
        api,
        "scim-users-replace",
        "display name",
        &format!("/scim/v2/Users/{uid}"),
        &k,
        sc(
            json!({"schemas": [SCIM_CORE], "externalId": "bench-ext-1", "userName": email,
                  "active": true, "displayName": "SCIM One (renamed)",
                  "emails": [{"primary": true, "type": "work", "value": email}]}),
        ),
    )
    .await?;
    rec.hit(
        api,
        "scim-users-patch",
        "active false",
        &format!("/scim/v2/Users/{uid}"),
        &k,
        sc(json!({"schemas": [SCIM_PATCH],
                  "Operations": [{"op": "replace", "value": {"active": false}}]})),
    )
    .await?;
    let g = rec
        .hit(
            api,
            "scim-groups-create",
            "1 member",
            "/scim/v2/Groups",
            &k,
            sc(json!({"schemas": [SCIM_GROUP], "displayName": "SCIM Group",
                      "externalId": "bench-group-1", "members": [{"value": uid}]})),
        )
        .await?;
    let gid = str_at(&g.body, &["id"])?.to_owned();
    rec.hit(
        api,
        "scim-groups-list",
        "excludedAttributes=members",
        "/scim/v2/Groups?excludedAttributes=members",
        &k,
        Body::Empty,
    )
    .await?;
    rec.hit(
        api,
        "scim-groups-search",
        "filter displayName eq",
        "/scim/v2/Groups/.search",
        &k,
        sc(json!({"schemas": [SCIM_SEARCH], "filter": "displayName eq \"SCIM Group\""})),
    )
    .await?;
    rec.hit(
        api,
        "scim-groups-get",
        "1 member",
        &format!("/scim/v2/Groups/{gid}"),
        &k,
        Body::Empty,
    )
    .await?;
    rec.hit(
        api,
        "scim-groups-replace",
        "name, same member",
        &format!("/scim/v2/Groups/{gid}"),
        &k,
        sc(
            json!({"schemas": [SCIM_GROUP], "id": gid, "displayName": "SCIM Group (renamed)",
                  "externalId": "bench-group-1", "members": [{"value": uid}]}),
        ),
    )
    .await?;
    rec.hit(
        api,
        "scim-groups-patch",
        "remove the member",
        &format!("/scim/v2/Groups/{gid}"),
        &k,
        sc(json!({"schemas": [SCIM_PATCH], "Operations": [
            {"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]})),
    )
    .await?;
    rec.hit(
        api,
        "scim-groups-delete",
        "",
        &format!("/scim/v2/Groups/{gid}"),
        &k,
        Body::Empty,
    )
    .await?;
    rec.hit(
        api,
        "scim-users-delete",
        "",
        &format!("/scim/v2/Users/{uid}"),
        &k,
        Body::Empty,
    )
    .await?;
    rec.hit(
        api,
        "scim-tokens-revoke",
        "",
        &format!("/v1/scim-tokens/{token_id}"),
        &s,
        Body::Empty,
    )
    .await?;
    Ok(())
}

/// Uploads, background imports and the operator's jobs (backup, the clean-up of uploads).
async fn task_routes(rec: &mut Recorder, c: &Ctx<'_>) -> Res<()> {
    let api = c.api;
    let s = Auth::Bearer(c.admin.to_owned());
    let op = Auth::Bearer(api.operator.clone());
    let csv = crate::users_csv(100..103, c.domain).into_bytes();
    let up = rec
        .hit(
            api,
            "uploads-create",
            "user_import CSV (a signed PUT URL)",
            "/v1/uploads",
            &s,
            Body::Json(json!({"purpose": "user_import", "filename": "users.csv",
                              "content_type": "text/csv", "size": csv.len()})),
        )
        .await?;
    put_upload(api, &up.body, csv.clone()).await?;
    let upload_id = str_at(&up.body, &["id"])?.to_owned();
    rec.hit(
        api,
        "uploads-get",
        "uploaded",
        &format!("/v1/uploads/{upload_id}"),
        &s,
        Body::Empty,
    )
    .await?;
    // The import task starts when the worker takes it: counted with the call.
    rec.settle = Some(std::time::Duration::from_millis(2000));
    let i = rec
        .hit(
            api,
            "imports-create",
            "3 rows (the worker's import task counted with it)",
            "/v1/imports",
            &s,
            Body::Json(json!({"upload_id": upload_id, "kind": "users"})),
        )
        .await?;
    let import_id = str_at(&i.body, &["id"])?.to_owned();
    wait_import(api, &s, &import_id).await?;
    rec.hit(
        api,
        "imports-get",
        "done",
        &format!("/v1/imports/{import_id}"),
        &s,
        Body::Empty,
    )
    .await?;
    // A second import, to cancel.
    let up2 = api
        .send_as(
            "POST",
            "/v1/uploads",
            &s,
            Body::Json(json!({"purpose": "user_import", "filename": "users.csv",
                              "content_type": "text/csv", "size": csv.len()})),
        )
        .await?;
    put_upload(
        api,
        &up2.body,
        crate::users_csv(200..203, c.domain).into_bytes(),
    )
    .await?;
    let i2 = api
        .send_as(
            "POST",
            "/v1/imports",
            &s,
            Body::Json(json!({"upload_id": up2.body["id"], "kind": "users"})),
        )
        .await?;
    let i2 = str_at(&i2.body, &["id"])?.to_owned();
    wait_import(api, &s, &i2).await?;
    // The in-process worker ends a small import before the next call (and the bench waits for it to be
    // idle before each call, so that no task's requests are counted with another call): the cancel finds
    // the import ended, and refuses.
    rec.hit_expect(
        api,
        "imports-cancel",
        "an import that has ended: refused, 409 import_ended",
        &format!("/v1/imports/{i2}/cancel"),
        &s,
        Body::Empty,
        409,
    )
    .await?;
    let up3 = api
        .send_as(
            "POST",
            "/v1/uploads",
            &s,
            Body::Json(json!({"purpose": "user_import", "filename": "unused.csv",
                              "content_type": "text/csv", "size": 10})),
        )
        .await?;
    rec.hit(
        api,
        "uploads-delete",
        "never uploaded",
        &format!("/v1/uploads/{}", str_at(&up3.body, &["id"])?),
        &s,
        Body::Empty,
    )
    .await?;
    let tomorrow = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(2))?;
    rec.hit(
        api,
        "ops-jobs-cleanup-uploads",
        "as of 2 days later",
        "/v1/ops/jobs/cleanup-uploads",
        &op,
        Body::Json(json!({"as_of": tomorrow})),
    )
    .await?;
    rec.hit(
        api,
        "ops-jobs-backup",
        "every tenant of the tables",
        "/v1/ops/jobs/backup",
        &op,
        Body::Json(json!({})),
    )
    .await?;
    rec.hit(
        api,
        "ops-backups-list",
        "",
        "/v1/ops/backups",
        &op,
        Body::Empty,
    )
    .await?;
    Ok(())
}

/// Waits for a background import to end (not measured).
async fn wait_import(api: &Api, s: &Auth, id: &str) -> Res<()> {
    for _ in 0..300 {
        let g = api
            .send_as("GET", &format!("/v1/imports/{id}"), s, Body::Empty)
            .await?;
        if g.body["status"] == "done" || g.body["status"] == "failed" {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(err(format!("import {id} did not end")))
}

/// The PUT of a file to the signed URL of an upload (the client's direct upload to S3; not counted: it
/// is not the app's request).
async fn put_upload(api: &Api, upload: &Value, bytes: Vec<u8>) -> Res<()> {
    let url = str_at(upload, &["upload_url"])?;
    let mut put = api.http.put(url);
    if let Some(h) = upload["upload_headers"].as_object() {
        for (k, v) in h {
            put = put.header(k, v.as_str().unwrap_or(""));
        }
    }
    let r = put.body(bytes).send().await?;
    if !r.status().is_success() {
        return Err(err(format!("upload PUT: {}", r.status())));
    }
    Ok(())
}

/// A browser: its cookies, as a `Cookie` header.
struct Browser {
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new() -> Self {
        Browser { cookies: vec![] }
    }
    fn auth(&self) -> Auth {
        Auth::Cookie(
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
    /// Keeps the cookies a response sets (an empty value or Max-Age=0 removes one).
    fn keep(&mut self, r: &crate::Resp) {
        for line in r
            .headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let pair = line.split(';').next().unwrap_or("");
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() && !line.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }
}

/// One page call through a browser: measured, the cookies kept.
#[allow(clippy::too_many_arguments)]
async fn page(
    rec: &mut Recorder,
    api: &Api,
    b: &mut Browser,
    route: &str,
    label: &str,
    path: &str,
    body: Body,
    expect: Option<u16>,
) -> Res<crate::Resp> {
    let r = match expect {
        Some(e) => {
            rec.hit_expect(api, route, label, path, &b.auth(), body, e)
                .await?
        }
        None => rec.hit(api, route, label, path, &b.auth(), body).await?,
    };
    b.keep(&r);
    Ok(r)
}

async fn pages(rec: &mut Recorder, c: &mut Ctx<'_>) -> Res<()> {
    account_pages(rec, c).await?;
    admin_pages(rec, c).await?;
    Ok(())
}

/// The pages of the sign-in and of one's own account.
async fn account_pages(rec: &mut Recorder, c: &mut Ctx<'_>) -> Res<()> {
    let api = c.api;
    let s = Auth::Bearer(c.admin.to_owned());
    // A user with a generated password: the first sign-in goes to the forced password change.
    let login = format!("page-{}", c.slug);
    let r = api
        .send_as(
            "POST",
            "/v1/users",
            &s,
            Body::Json(json!({"name": "Bench Page User", "login_id": login, "email": format!("page@{}", c.domain), "delivery": "generated"})),
        )
        .await?;
    let initial = str_at(&r.body, &["initial_password"])?.to_owned();
    let mut b = Browser::new();
    let r = page(
        rec,
        api,
        &mut b,
        "page-login",
        "",
        "/login",
        Body::Empty,
        None,
    )
    .await?;
    let csrf = set_cookie(&r, "kanri_csrf").ok_or_else(|| err("/login set no kanri_csrf"))?;
    page(
        rec,
        api,
        &mut b,
        "page-login-post",
        "password that must be changed",
        "/login",
        form(&[
            ("tenant", c.slug),
            ("login", &login),
            ("password", &initial),
            ("csrf", &csrf),
        ]),
        None,
    )
    .await?;
    let r = page(
        rec,
        api,
        &mut b,
        "page-account-password",
        "forced change",
        "/account/password",
        Body::Empty,
        None,
    )
    .await?;
    let sc = field(html(&r), "csrf")?;
    let pw = format!("{login}-page-passphrase");
    page(
        rec,
        api,
        &mut b,
        "page-account-password-post",
        "forced change",
        "/account/password",
        form(&[
            ("current", &initial),
            ("password", &pw),
            ("confirm", &pw),
            ("csrf", &sc),
        ]),
        None,
    )
    .await?;
    let r = page(
        rec,
        api,
        &mut b,
        "page-account",
        "",
        "/account",
        Body::Empty,
        None,
    )
    .await?;
    let sc = field(html(&r), "csrf")?;
    page(
        rec,
        api,
        &mut b,
        "page-account-subscriptions-post",
        "release on",
        "/account/subscriptions",
        form(&[("release", "on"), ("csrf", &sc)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-notices",
        "",
        "/notices",
        Body::Empty,
        None,
    )
    .await?;
    // The second factor on the pages.
    page(
        rec,
        api,
        &mut b,
        "page-account-mfa",
        "off",
        "/account/mfa",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-account-mfa-totp-post",
        "start: a new secret, back to the page",
        "/account/mfa/totp",
        form(&[("csrf", &sc)]),
        None,
    )
    .await?;
    let r = page(
        rec,
        api,
        &mut b,
        "page-account-mfa",
        "pending: QR code and key",
        "/account/mfa",
        Body::Empty,
        None,
    )
    .await?;
    let secret = text_of(html(&r), "mfa-secret")?;
    page(
        rec,
        api,
        &mut b,
        "page-account-mfa-confirm-post",
        "a code of the app",
        "/account/mfa/totp/confirm",
        form(&[("code", &totp(&secret, now_secs())?), ("csrf", &sc)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-logout-post",
        "",
        "/logout",
        form(&[("csrf", &sc)]),
        None,
    )
    .await?;
    // Signing in again: the password step, then the code step.
    let r = api.send_as("GET", "/login", &b.auth(), Body::Empty).await?;
    b.keep(&r);
    let csrf = set_cookie(&r, "kanri_csrf").unwrap_or(csrf);
    let r = rec
        .hit_expect(
            api,
            "page-login-post",
            "password step of a user with a second factor",
            "/login",
            &b.auth(),
            form(&[
                ("tenant", c.slug),
                ("login", &login),
                ("password", &pw),
                ("csrf", &csrf),
            ]),
            303,
        )
        .await?;
    b.keep(&r);
    let to = location(&r);
    page(
        rec,
        api,
        &mut b,
        "page-login-mfa",
        "",
        &to,
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-login-mfa-post",
        "the app's code",
        "/login/mfa",
        form(&[
            ("code", &totp(&secret, now_secs() + 30)?),
            ("csrf", &csrf),
            ("tenant", c.slug),
        ]),
        None,
    )
    .await?;
    let r = api
        .send_as("GET", "/account", &b.auth(), Body::Empty)
        .await?;
    let sc = field(html(&r), "csrf")?;
    page(
        rec,
        api,
        &mut b,
        "page-account-mfa-delete-post",
        "with the password",
        "/account/mfa/delete",
        form(&[("password", &pw), ("csrf", &sc)]),
        None,
    )
    .await?;

    // Setting a password from an invitation, and asking for a reset, in a browser without a session.
    let invited = c.spare()?;
    let email = api
        .send_as("GET", &format!("/v1/users/{invited}"), &s, Body::Empty)
        .await?;
    let email = str_at(&email.body, &["email"])?.to_owned();
    let token = invitation_token(c.moto, &email).await?;
    let mut b = Browser::new();
    let r = page(
        rec,
        api,
        &mut b,
        "page-set-password",
        "invitation link",
        &format!("/set-password?token={token}"),
        Body::Empty,
        None,
    )
    .await?;
    let fc = field(html(&r), "csrf")?;
    let npw = format!("{}-invited-passphrase", c.slug);
    page(
        rec,
        api,
        &mut b,
        "page-set-password-post",
        "invitation",
        "/set-password",
        form(&[
            ("token", &token),
            ("password", &npw),
            ("confirm", &npw),
            ("csrf", &fc),
        ]),
        None,
    )
    .await?;
    let mut b = Browser::new();
    let r = page(
        rec,
        api,
        &mut b,
        "page-password-reset",
        "",
        "/password-reset",
        Body::Empty,
        None,
    )
    .await?;
    let fc = field(html(&r), "csrf")?;
    page(
        rec,
        api,
        &mut b,
        "page-password-reset-post",
        "known login (mail sent)",
        "/password-reset",
        form(&[("tenant", c.slug), ("login", &email), ("csrf", &fc)]),
        None,
    )
    .await?;

    // Single sign-on: off to the provider (its discovery document read), then the provider sends the
    // browser back with an error (the user cancelled there): no ID token is exchanged.
    let mut b = Browser::new();
    let r = page(
        rec,
        api,
        &mut b,
        "page-sso-start",
        "to the provider",
        &format!("/sso/start?tenant={}", c.slug),
        Body::Empty,
        None,
    )
    .await?;
    let to = location(&r);
    let state = to
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .ok_or_else(|| err(format!("no state in {to}")))?
        .to_owned();
    page(
        rec,
        api,
        &mut b,
        "page-sso-callback",
        "the provider answers access_denied: refused, the state used up",
        &format!("/sso/callback?state={state}&error=access_denied"),
        Body::Empty,
        Some(400),
    )
    .await?;
    Ok(())
}

/// The console's admin pages, signed in as the tenant's admin through the login page.
async fn admin_pages(rec: &mut Recorder, c: &mut Ctx<'_>) -> Res<()> {
    let api = c.api;
    let s = Auth::Bearer(c.admin.to_owned());
    let mut b = Browser::new();
    let r = api
        .send_as("GET", "/login", &Auth::None, Body::Empty)
        .await?;
    b.keep(&r);
    let csrf = set_cookie(&r, "kanri_csrf").ok_or_else(|| err("/login set no kanri_csrf"))?;
    let r = rec
        .hit(
            api,
            "page-login-post",
            "e-mail and password",
            "/login",
            &b.auth(),
            form(&[
                ("tenant", c.slug),
                ("login", c.admin_email),
                ("password", c.admin_pw),
                ("csrf", &csrf),
            ]),
        )
        .await?;
    b.keep(&r);
    let r = api
        .send_as("GET", "/account", &b.auth(), Body::Empty)
        .await?;
    let k = field(html(&r), "csrf")?;
    let k = k.as_str();

    // Users.
    page(
        rec,
        api,
        &mut b,
        "page-admin-users",
        "first page",
        "/admin/users",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-users-new",
        "",
        "/admin/users/new",
        Body::Empty,
        None,
    )
    .await?;
    let email = format!("console1@{}", c.domain);
    page(
        rec,
        api,
        &mut b,
        "page-admin-users-create",
        "delivery invite_link",
        "/admin/users",
        form(&[
            ("name", "Console User"),
            ("email", &email),
            ("login_id", ""),
            ("role", "member"),
            ("delivery", "invite_link"),
            ("csrf", k),
        ]),
        Some(303),
    )
    .await?;
    let found = api
        .send_as(
            "GET",
            "/v1/users?limit=50&q=console%20user",
            &s,
            Body::Empty,
        )
        .await?;
    let uid = found.body["items"][0]["id"]
        .as_str()
        .ok_or_else(|| err(format!("the console's user not found: {}", found.body)))?
        .to_owned();
    let up = format!("/admin/users/{uid}");
    page(
        rec,
        api,
        &mut b,
        "page-admin-user",
        "",
        &up,
        Body::Empty,
        None,
    )
    .await?;
    let role = api
        .send_as(
            "POST",
            "/v1/roles",
            &s,
            Body::Json(json!({"name": "Bench Console Role", "grants": {"notices": "view"}})),
        )
        .await?;
    let rid = str_at(&role.body, &["id"])?.to_owned();
    page(
        rec,
        api,
        &mut b,
        "page-admin-user-role-post",
        "custom role",
        &format!("{up}/role"),
        form(&[("role_id", &rid), ("csrf", k)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-user-org-admin-post",
        "grant",
        &format!("{up}/org-admin"),
        form(&[("on", "1"), ("csrf", k)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-user-credentials-post",
        "a new invitation link",
        &format!("{up}/credentials"),
        form(&[("delivery", "invite_link"), ("confirm", "1"), ("csrf", k)]),
        Some(303),
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-user-status-post",
        "disable",
        &format!("{up}/status"),
        form(&[("disable", "1"), ("csrf", k)]),
        None,
    )
    .await?;
    // An enrolled user for the reset.
    let login = format!("console-mfa-{}", c.slug);
    let (mid, mt, _) = new_user(api, &s, c.slug, &login).await?;
    let m = Auth::Bearer(mt);
    let e = api
        .send_as("POST", "/v1/me/mfa/totp", &m, Body::Json(json!({})))
        .await?;
    let secret = str_at(&e.body, &["secret"])?.to_owned();
    api.send_as(
        "POST",
        "/v1/me/mfa/totp/confirm",
        &m,
        Body::Json(json!({"code": totp(&secret, now_secs())?})),
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-user-mfa-reset-post",
        "an enrolled user",
        &format!("/admin/users/{mid}/mfa/reset"),
        form(&[("confirm", "1"), ("csrf", k)]),
        None,
    )
    .await?;
    let victim = c.spare()?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-users-delete",
        "1 id",
        &format!("/admin/users/delete?id={victim}"),
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-users-delete-post",
        "1 id",
        "/admin/users/delete",
        form(&[("id", &victim), ("csrf", k)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-users-export",
        "CSV of every user",
        "/admin/users/export",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-users-import",
        "",
        "/admin/users/import",
        Body::Empty,
        None,
    )
    .await?;
    let csv = crate::users_csv(300..303, c.domain);
    let r = page(
        rec,
        api,
        &mut b,
        "page-admin-users-import-preview",
        "3 rows",
        "/admin/users/import/preview",
        Body::Multipart {
            fields: vec![
                ("csrf".into(), k.into()),
                ("delivery".into(), "invite_link".into()),
            ],
            filename: "users.csv".into(),
            bytes: csv.into_bytes(),
        },
        None,
    )
    .await?;
    let data = field(html(&r), "data")?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-users-import-post",
        "3 rows, delivery invite_link",
        "/admin/users/import",
        Body::Multipart {
            fields: [
                ("csrf", k),
                ("data", &data),
                ("filename", "users.csv"),
                ("delivery", "invite_link"),
            ]
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
            filename: String::new(),
            bytes: vec![],
        },
        None,
    )
    .await?;
    // A background import's pages: its status and its report of failed rows.
    let bytes = format!(
        "name,email,login_id,role,groups\nI400,i400@{d},,,\nBad,not-an-address,,,\n",
        d = c.domain
    )
    .into_bytes();
    let up = api
        .send_as(
            "POST",
            "/v1/uploads",
            &s,
            Body::Json(json!({"purpose": "user_import", "filename": "users.csv",
                              "content_type": "text/csv", "size": bytes.len()})),
        )
        .await?;
    put_upload(api, &up.body, bytes).await?;
    let i = api
        .send_as(
            "POST",
            "/v1/imports",
            &s,
            Body::Json(json!({"upload_id": up.body["id"], "kind": "users"})),
        )
        .await?;
    let iid = str_at(&i.body, &["id"])?.to_owned();
    wait_import(api, &s, &iid).await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-users-import-status",
        "done, 1 failed row",
        &format!("/admin/users/imports/{iid}"),
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-users-import-report",
        "1 failed row",
        &format!("/admin/users/imports/{iid}/report"),
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-audit-log",
        "page of 50",
        "/admin/audit-log",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-mail-log",
        "page of 50",
        "/admin/mail-log",
        Body::Empty,
        None,
    )
    .await?;

    // Roles.
    page(
        rec,
        api,
        &mut b,
        "page-admin-roles",
        "",
        "/admin/roles",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-roles-new",
        "",
        "/admin/roles/new",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-roles-create",
        "1 grant",
        "/admin/roles",
        form(&[
            ("name", "Bench Page Role"),
            ("g_notices", "view"),
            ("csrf", k),
        ]),
        None,
    )
    .await?;
    let roles = api.send_as("GET", "/v1/roles", &s, Body::Empty).await?;
    let prid = roles.body["items"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "Bench Page Role"))
        .and_then(|r| r["id"].as_str())
        .ok_or_else(|| err(format!("the console's role not found: {}", roles.body)))?
        .to_owned();
    let rp = format!("/admin/roles/{prid}");
    page(
        rec,
        api,
        &mut b,
        "page-admin-role",
        "",
        &rp,
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-role-post",
        "name and grants",
        &rp,
        form(&[
            ("name", "Bench Page Role (renamed)"),
            ("g_notices", "edit"),
            ("csrf", k),
        ]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-role-delete",
        "",
        &format!("{rp}/delete"),
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-role-delete-post",
        "a role nobody has",
        &format!("{rp}/delete"),
        form(&[("csrf", k)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-default-role",
        "",
        "/admin/default-role",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-default-role-post",
        "member",
        "/admin/default-role",
        form(&[("role_id", "member"), ("csrf", k)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-sign-in-policy",
        "",
        "/admin/sign-in-policy",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-sign-in-policy-post",
        "IP allow-list, session lifetime, password length",
        "/admin/sign-in-policy",
        form(&[
            ("second_factor", "off"),
            ("password_min_length", "12"),
            ("session_lifetime_minutes", "600"),
            ("idle_timeout_minutes", ""),
            ("ip_allowlist", "0.0.0.0/0\n::/0"),
            ("csrf", k),
        ]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-sso",
        "provider set",
        "/admin/sso",
        Body::Empty,
        None,
    )
    .await?;
    let issuer = api
        .send_as("GET", "/v1/tenant/sso", &s, Body::Empty)
        .await?;
    let issuer = str_at(&issuer.body, &["issuer"])?.to_owned();
    page(
        rec,
        api,
        &mut b,
        "page-admin-sso-post",
        "display name (secret kept)",
        "/admin/sso",
        form(&[
            ("issuer", &issuer),
            ("client_id", "kanri-bench"),
            ("client_secret", ""),
            ("display_name", "Bench IdP (renamed)"),
            ("allowed_domains", c.domain),
            ("claim", "email"),
            ("mode", "optional"),
            ("csrf", k),
        ]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-sso-delete-post",
        "",
        "/admin/sso/delete",
        form(&[("csrf", k)]),
        None,
    )
    .await?;
    api.send_as(
        "PUT",
        "/v1/tenant/sso",
        &s,
        Body::Json(
            json!({"issuer": issuer, "client_id": "kanri-bench", "client_secret": "bench-secret",
                          "display_name": "Bench IdP", "allowed_domains": [c.domain]}),
        ),
    )
    .await?;
    rec.hit(
        api,
        "tenant-sso-delete",
        "",
        "/v1/tenant/sso",
        &s,
        Body::Empty,
    )
    .await?;

    // Groups.
    page(
        rec,
        api,
        &mut b,
        "page-admin-groups",
        "",
        "/admin/groups",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-groups-new",
        "",
        "/admin/groups/new",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-groups-create",
        "no members",
        "/admin/groups",
        form(&[("name", "Bench Page Group"), ("csrf", k)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-groups-bulk",
        "",
        "/admin/groups/bulk",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-groups-bulk-post",
        "3 names",
        "/admin/groups/bulk",
        form(&[
            (
                "names",
                "Bench Page Bulk 1\nBench Page Bulk 2\nBench Page Bulk 3",
            ),
            ("csrf", k),
        ]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-groups-import",
        "",
        "/admin/groups/import",
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-groups-import-post",
        "1 new group with 2 members",
        "/admin/groups/import",
        Body::Multipart {
            fields: vec![("csrf".into(), k.into())],
            filename: "groups.csv".into(),
            bytes: format!(
                "group_name,members\nBench Page Imported,filler2@{d};filler3@{d}\n",
                d = c.domain
            )
            .into_bytes(),
        },
        None,
    )
    .await?;
    let groups = api
        .send_as("GET", "/v1/groups?limit=200", &s, Body::Empty)
        .await?;
    let gid = |name: &str| -> Res<String> {
        groups.body["items"]
            .as_array()
            .and_then(|a| a.iter().find(|g| g["name"] == name))
            .and_then(|g| g["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| err(format!("group {name} not found: {}", groups.body)))
    };
    let g = gid("Bench Page Group")?;
    let gone = gid("Bench Page Bulk 1")?;
    let gp = format!("/admin/groups/{g}");
    page(
        rec,
        api,
        &mut b,
        "page-admin-group",
        "no members",
        &gp,
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-group-rename-post",
        "",
        &format!("{gp}/name"),
        form(&[("name", "Bench Page Group (renamed)"), ("csrf", k)]),
        None,
    )
    .await?;
    let m1 = c.spare()?;
    let m2 = c.spare()?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-group-members-add-post",
        "2 ids",
        &format!("{gp}/members"),
        form(&[("user_id", &m1), ("user_id", &m2), ("csrf", k)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-group-members-remove-post",
        "1 id",
        &format!("{gp}/members/remove"),
        form(&[("user_id", &m1), ("csrf", k)]),
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-groups-delete",
        "1 id",
        &format!("/admin/groups/delete?id={gone}"),
        Body::Empty,
        None,
    )
    .await?;
    page(
        rec,
        api,
        &mut b,
        "page-admin-groups-delete-post",
        "1 id",
        "/admin/groups/delete",
        form(&[("id", &gone), ("csrf", k)]),
        None,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_not_called_fails_the_bench_by_name() {
        let mut rec = Recorder::new();
        let e = check_covered(&rec).expect_err("nothing called").to_string();
        assert!(e.contains("users-get") && e.contains("page-login"), "{e}");
        assert!(!e.contains("ops-jobs-purge"), "counted in section 6: {e}");
        for r in kanri::http::routes::table() {
            rec.measured.insert(r.id.to_owned());
        }
        rec.measured.remove("scim-users-patch");
        let e = check_covered(&rec).expect_err("one missing").to_string();
        assert!(e.ends_with(": scim-users-patch"), "{e}");
        rec.measured.insert("scim-users-patch".into());
        assert_eq!(
            check_covered(&rec).expect("all called"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn totp_codes_are_those_of_rfc_6238() {
        // RFC 6238 appendix B, SHA-1: the secret "12345678901234567890", 8 digits there, the last 6 here.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(totp(secret, 59).expect("code"), "287082");
        assert_eq!(totp(secret, 1_111_111_109).expect("code"), "081804");
    }

    #[test]
    fn forms_are_urlencoded_as_a_browser_sends_them() {
        let f = [
            ("name".to_owned(), "a b&c=d/é".to_owned()),
            ("csrf".to_owned(), "x".to_owned()),
        ];
        assert_eq!(crate::form_encode(&f), "name=a+b%26c%3Dd%2F%C3%A9&csrf=x");
    }

    #[test]
    fn page_fields_are_unescaped() {
        let page = r#"<input type="hidden" name="data" value="YWJj&#x2f;ZA&#61;&#61;">"#;
        assert_eq!(field(page, "data").expect("field"), "YWJj/ZA==");
    }
}
