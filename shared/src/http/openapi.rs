//! The OpenAPI 3.1 document, generated from the route table (paths, methods, access, parameters) and the
//! component schemas below. A test checks every route's schemas exist, and schemathesis checks the server
//! against the document.

use serde_json::{Map, Value, json};

use crate::app::notices::{BODY_MAX, TITLE_MAX};
use crate::app::questionnaires::MAX_QUESTIONS;
use crate::app::records::user::MAX_GROUPS_ON_CREATE;
use crate::app::uploads::FILENAME_MAX;
use crate::domain::values::{BULK_LIMIT, LoginId, Name, Password, Slug};
use crate::http::routes::{self, Access, Target};

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

fn obj(required: &[&str], props: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": props})
}

fn page_of(item: &str) -> Value {
    obj(
        &["items", "next_cursor"],
        json!({
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            "next_cursor": nullable("string"),
        }),
    )
}

fn components() -> Map<String, Value> {
    let ts =
        json!({"type": "string", "format": "date-time", "description": "RFC 3339 in JST (+09:00)"});
    let grants = json!({"type": "object", "additionalProperties": {"enum": ["view", "edit"]}});
    let user_props = json!({
        "id": {"type": "string"},
        "name": {"type": "string"},
        "email": nullable("string"),
        "login_id": nullable("string"),
        "role_id": {"type": "string"},
        "org_admin": {"type": "boolean"},
        "group_ids": {"type": "array", "items": {"type": "string"}},
        "status": {"enum": ["invited", "active", "disabled"], "description": "disabled: cannot log in and holds no seat (POST /v1/users/{id}/disable, /enable)"},
        "must_change_password": {"type": "boolean"},
        "created_at": ts,
        "updated_at": ts,
    });
    let user_required = [
        "id",
        "name",
        "email",
        "login_id",
        "role_id",
        "org_admin",
        "group_ids",
        "status",
        "must_change_password",
        "created_at",
        "updated_at",
    ];
    let mut me_props = user_props.clone();
    me_props["grants"] = grants.clone();
    me_props["mfa_enabled"] =
        json!({"type": "boolean", "description": "a second factor is active"});
    me_props["mfa_enrolment_required"] = json!({"type": "boolean",
        "description": "the tenant's sign-in policy requires a second factor this user has not enrolled: only enrolment, GET /v1/me, the password change and logout work (others answer 403 mfa_enrolment_required)"});
    let mut me_required = user_required.to_vec();
    me_required.push("grants");
    me_required.push("mfa_enabled");
    me_required.push("mfa_enrolment_required");
    let schemas = json!({
        "Error": obj(&["error"], json!({"error": {
            "type": "object", "required": ["code", "message"], "additionalProperties": false,
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}})),
        "Health": obj(&["status", "version"], json!({"status": {"const": "ok"}, "version": {"type": "string"}})),
        "OpenApi": {"type": "object"},
        "Tenant": obj(&["id", "slug", "name", "seat_limit", "seats_used", "default_role_id", "contract_end", "created_at"], json!({
            "id": {"type": "string"}, "slug": {"type": "string"}, "name": {"type": "string"},
            "seat_limit": {"type": "integer"}, "seats_used": {"type": "integer"},
            "default_role_id": {"type": "string"},
            "contract_end": {"type": ["string", "null"], "format": "date"},
            "created_at": ts,
        })),
        "NewTenant": obj(&["slug", "name", "seat_limit", "admin"], json!({
            "slug": {"type": "string", "pattern": Slug::PATTERN},
            "name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS},
            "seat_limit": {"type": "integer", "minimum": 1, "maximum": crate::domain::values::MAX_SEAT_LIMIT},
            "admin": obj(&["name", "email"], json!({
                "name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS},
                "email": {"type": "string", "format": "email"}})),
        })),
        "CreatedTenant": obj(&["tenant", "admin"], json!({
            "tenant": {"$ref": "#/components/schemas/Tenant"}, "admin": {"$ref": "#/components/schemas/User"}})),
        "TenantChanges": obj(&[], json!({
            "name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS},
            "seat_limit": {"type": "integer", "minimum": 1, "maximum": crate::domain::values::MAX_SEAT_LIMIT}})),
        "LoginRequest": obj(&["tenant", "login", "password"], json!({
            "tenant": {"type": "string"}, "login": {"type": "string"}, "password": {"type": "string"}})),
        "Session": obj(&["token", "expires_at", "user"], json!({
            "token": {"type": "string"}, "expires_at": ts, "user": {"$ref": "#/components/schemas/User"},
            "mfa_enrolment_required": {"const": true, "description": "present only when the session may only enrol a second factor (the tenant's sign-in policy)"}})),
        "SetPassword": obj(&["token", "password"], json!({
            "token": {"type": "string"}, "password": {"type": "string", "minLength": Password::MIN_CHARS, "maxLength": Password::MAX_CHARS}})),
        "ChangePassword": obj(&["current_password", "new_password"], json!({
            "current_password": {"type": "string"}, "new_password": {"type": "string", "minLength": Password::MIN_CHARS, "maxLength": Password::MAX_CHARS}})),
        "User": {"type": "object", "additionalProperties": false, "required": user_required, "properties": user_props},
        "Me": {"type": "object", "additionalProperties": false, "required": me_required, "properties": me_props},
        "NewUser": obj(&["name", "delivery"], json!({
            "name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS},
            "email": {"type": "string", "format": "email"},
            "login_id": {"type": "string", "pattern": LoginId::PATTERN},
            "delivery": {"enum": ["invite_link", "generated"]},
            "role_id": {"type": "string"},
            "group_ids": {"type": "array", "maxItems": MAX_GROUPS_ON_CREATE, "items": {"type": "string"}},
        })),
        "CreatedUser": obj(&["user"], json!({
            "user": {"$ref": "#/components/schemas/User"},
            "initial_password": {"type": "string", "description": "shown once, with delivery generated"}})),
    });
    let more = json!({
        "UserPage": page_of("User"),
        "Empty": obj(&[], json!({})),
        "NewQuestionnaire": obj(&["title", "questions"], json!({"title": {"type": "string", "minLength": 1},
            "questions": {"type": "array", "minItems": 1, "maxItems": MAX_QUESTIONS, "items": obj(&["text"], json!({"text": {"type": "string", "minLength": 1}}))}})),
        "NewResponse": obj(&["respondent", "answers"], json!({
            "respondent": obj(&["name", "email", "company"], json!({"name": {"type": "string"}, "email": {"type": "string", "format": "email"}, "company": {"type": "string"}})),
            "answers": {"type": "array", "items": {"type": "string"}}})),
    });
    let part0 = json!({
        "QuestionnaireResponse": obj(&["id", "respondent", "answers", "submitted_at"], json!({"id": {"type": "string"},
            "respondent": {"oneOf": [{"type": "null"}, obj(&["name", "email", "company"], json!({"name": {"type": "string"}, "email": {"type": "string"}, "company": {"type": "string"}}))]},
            "answers": {"type": "array", "items": {"type": "string"}}, "submitted_at": {"type": "string", "format": "date-time"}})),
        "Questionnaire": obj(&["id", "title", "questions", "created_at"], json!({"id": {"type": "string"}, "title": {"type": "string"},
            "questions": {"type": "array", "items": obj(&["text"], json!({"text": {"type": "string"}}))},
            "created_at": {"type": "string", "format": "date-time"},
            "responses": {"type": "array", "items": {"$ref": "#/components/schemas/QuestionnaireResponse"}}})),
        "QuestionnaireList": obj(&["items"], json!({"items": {"type": "array", "items": {"$ref": "#/components/schemas/Questionnaire"}}})),
        "AuditEntry": obj(&["id", "at", "actor", "action", "target", "result"], json!({
            "id": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
            "actor": obj(&["id", "name"], json!({"id": {"type": "string"}, "name": {"type": ["string", "null"]}})),
            "action": {"type": "string"},
            "target": obj(&["type", "id"], json!({"type": {"type": "string"}, "id": {"type": "string"}})),
            "result": {"type": "string"}})),
        "AuditPage": page_of("AuditEntry"),
        "MailEntry": obj(&["id", "at", "to", "kind", "message_id", "status"], json!({
            "id": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "to": {"type": "string"},
            "kind": {"enum": ["invitation", "password_reset", "notice"]}, "message_id": {"type": "string"},
            "status": {"enum": ["sent", "failed"]}})),
        "MailPage": page_of("MailEntry"),
    });
    let part2 = json!({
        "Terminate": obj(&["contract_end"], json!({"contract_end": {"type": "string", "format": "date"}})),
        "Job": obj(&[], json!({"as_of": {"type": "string", "format": "date-time"}, "max_items": {"type": "integer", "minimum": 1}})),
        "BackupInfo": obj(&["id", "created_at"], json!({"id": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}, "size": {"type": "integer"}})),
        "BackupReport": obj(&["backup", "kept", "deleted"], json!({"backup": {"$ref": "#/components/schemas/BackupInfo"},
            "kept": {"type": "array", "items": {"type": "string"}}, "deleted": {"type": "array", "items": {"type": "string"}}})),
        "BackupList": obj(&["items"], json!({"items": {"type": "array", "items": {"$ref": "#/components/schemas/BackupInfo"}}})),
        "PurgeReport": obj(&["purged", "in_progress", "items_deleted"], json!({"purged": {"type": "array", "items": {"type": "string"}},
            "in_progress": {"type": "array", "items": {"type": "string"}}, "items_deleted": {"type": "integer"}})),
        "CsvFile": {"type": "string", "contentMediaType": "text/csv"},
        "RowFailure": obj(&["line", "code", "message"], json!({"line": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"}})),
        "UserImportReport": obj(&["created", "failed", "users"], json!({
            "created": {"type": "integer"},
            "failed": {"type": "array", "items": {"$ref": "#/components/schemas/RowFailure"}},
            "users": {"type": "array", "items": obj(&["line", "id", "login"], json!({
                "line": {"type": "integer"}, "id": {"type": "string"}, "login": {"type": "string"}, "initial_password": {"type": "string"}}))}})),
        "GroupImportReport": obj(&["created", "updated", "failed"], json!({
            "created": {"type": "integer"}, "updated": {"type": "integer"},
            "failed": {"type": "array", "items": {"$ref": "#/components/schemas/RowFailure"}}})),
    });
    let part1 = json!({
        "Group": obj(&["id", "name", "member_count", "created_at", "updated_at"], json!({
            "id": {"type": "string"}, "name": {"type": "string"}, "member_count": {"type": "integer", "minimum": 0},
            "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
            "failed_members": {"type": "array", "items": {"$ref": "#/components/schemas/Failure"}}})),
        "GroupPage": page_of("Group"),
        "NewGroup": obj(&["name"], json!({"name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS},
            "member_ids": {"type": "array", "maxItems": BULK_LIMIT, "items": {"type": "string"}}})),
        "GroupRename": obj(&["name"], json!({"name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS}})),
        "GroupNames": obj(&["names"], json!({"names": {"type": "array", "maxItems": BULK_LIMIT, "items": {"type": "string"}}})),
        "GroupsCreated": obj(&["created", "failed"], json!({
            "created": {"type": "array", "items": {"$ref": "#/components/schemas/Group"}},
            "failed": {"type": "array", "items": obj(&["index", "name", "code", "message"], json!({
                "index": {"type": "integer"}, "name": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}))}})),
        "UserIds": obj(&["user_ids"], json!({"user_ids": {"type": "array", "maxItems": BULK_LIMIT, "items": {"type": "string"}}})),
        "Failure": obj(&["id", "code", "message"], json!({"id": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}})),
        "MembersAdded": obj(&["added", "failed"], json!({"added": {"type": "array", "items": {"type": "string"}},
            "failed": {"type": "array", "items": {"$ref": "#/components/schemas/Failure"}}})),
        "MembersRemoved": obj(&["removed", "failed"], json!({"removed": {"type": "array", "items": {"type": "string"}},
            "failed": {"type": "array", "items": {"$ref": "#/components/schemas/Failure"}}})),
        "ResetRequest": obj(&["tenant", "login"], json!({"tenant": {"type": "string"}, "login": {"type": "string"}})),
        "Credentials": obj(&["delivery"], json!({"delivery": {"enum": ["invite_link", "generated"]}})),
        "Reissued": obj(&[], json!({"initial_password": {"type": "string"}})),
        "Ids": obj(&["ids"], json!({"ids": {"type": "array", "maxItems": BULK_LIMIT, "items": {"type": "string"}}})),
        "BulkDeleted": obj(&["deleted", "failed"], json!({
            "deleted": {"type": "array", "items": {"type": "string"}},
            "failed": {"type": "array", "items": obj(&["id", "code", "message"], json!({
                "id": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}))}})),
        "UserChanges": obj(&[], json!({
            "name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS},
            "email": {"type": ["string", "null"], "format": "email"},
            "login_id": {"type": ["string", "null"], "pattern": LoginId::PATTERN}})),
        "Role": obj(&["id", "name", "builtin", "grants"], json!({
            "id": {"type": "string"}, "name": {"type": "string"}, "builtin": {"type": "boolean"}, "grants": grants})),
        "NewRole": obj(&["name", "grants"], json!({"name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS}, "grants": grants})),
        "RoleChanges": obj(&[], json!({"name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS}, "grants": grants})),
        "RoleId": obj(&["role_id"], json!({"role_id": {"type": "string"}})),
        "NewScimToken": obj(&["name"], json!({"name": {"type": "string", "minLength": 1, "maxLength": 100, "description": "e.g. Microsoft Entra ID"}})),
        "ScimToken": obj(&["id", "name", "created_at", "last_used_at"], json!({
            "id": {"type": "string"}, "name": {"type": "string"}, "created_at": ts,
            "last_used_at": {"type": ["string", "null"], "format": "date-time", "description": "RFC 3339 in JST; updated at most once a minute"}})),
        "CreatedScimToken": obj(&["id", "name", "created_at", "last_used_at", "token"], json!({
            "id": {"type": "string"}, "name": {"type": "string"}, "created_at": ts, "last_used_at": {"type": "null"},
            "token": {"type": "string", "description": "the bearer token for /scim/v2, shown only in this answer"}})),
        "ScimTokenList": obj(&["items"], json!({"items": {"type": "array", "items": {"$ref": "#/components/schemas/ScimToken"}}})),
        "SsoConfig": obj(&["issuer", "client_id", "client_secret_set", "display_name", "claim", "allowed_domains", "mode", "redirect_uri", "updated_at"], json!({
            "issuer": {"type": "string", "format": "uri"}, "client_id": {"type": "string"},
            "client_secret_set": {"type": "boolean", "description": "the secret is never answered"},
            "display_name": {"type": "string"}, "claim": {"type": "string"},
            "allowed_domains": {"type": "array", "items": {"type": "string"}},
            "mode": {"type": "string", "enum": ["optional", "required"]},
            "redirect_uri": {"type": "string", "description": "the callback URL to register at the provider"},
            "updated_at": ts})),
        "SsoConfigInput": obj(&["issuer", "client_id", "display_name"], json!({
            "issuer": {"type": "string", "maxLength": 512, "description": "https URL whose /.well-known/openid-configuration is read"},
            "client_id": {"type": "string", "minLength": 1, "maxLength": 255},
            "client_secret": {"type": "string", "minLength": 1, "maxLength": 1024, "description": "required the first time; left out, the stored one stays"},
            "display_name": {"type": "string", "minLength": 1, "maxLength": Name::MAX_CHARS},
            "claim": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9_.:-]{1,64}$", "description": "the ID token claim naming the user (an e-mail address or login id); email by default"},
            "allowed_domains": {"type": "array", "maxItems": 50, "items": {"type": "string"}, "description": "when not empty, the claim's address must be in one of these domains"},
            "mode": {"type": "string", "enum": ["optional", "required"], "description": "required: a password login is refused except for org admins"}})),
        "RoleList": obj(&["items"], json!({"items": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}}})),
        "PermissionList": obj(&["items"], json!({"items": {"type": "array", "items": obj(&["feature", "description", "view", "edit"], json!({
            "feature": {"type": "string"}, "description": {"type": "string"},
            "view": {"type": "array", "items": {"type": "string"}},
            "edit": {"type": "array", "items": {"type": "string"}}}))}})),
    });
    let notice = json!({
        "id": {"type": "string"}, "kind": {"enum": ["release", "incident"]},
        "title": {"type": "string"}, "body": {"type": "string"}, "published_at": ts,
        "occurred_at": ts, "published_within_72h": {"type": "boolean", "description": "incidents only"}});
    let mut ops_notice = notice.clone();
    ops_notice["mails_sent"] = json!({"type": "integer", "minimum": 0});
    ops_notice["mails_failed"] =
        json!({"type": "integer", "minimum": 0, "description": "failed attempts; each is retried"});
    ops_notice["mails_remaining"] = json!({"type": "integer", "minimum": 0,
        "description": "subscribers not mailed yet (counted when the mailing starts, settled per tenant as it ends); 0 once through"});
    let notice_required = ["id", "kind", "title", "body", "published_at"];
    let part3 = json!({
        "Subscriptions": obj(&["release", "incident"], json!({"release": {"type": "boolean"}, "incident": {"type": "boolean"}})),
        "Notice": obj(&notice_required, notice),
        "NoticePage": page_of("Notice"),
        "OpsNotice": obj(&[&notice_required[..], &["mails_sent", "mails_failed", "mails_remaining"]].concat(), ops_notice),
        "OpsNoticePage": page_of("OpsNotice"),
        "NewNotice": obj(&["kind", "title", "body"], json!({
            "kind": {"enum": ["release", "incident"]},
            "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*\\S[^\\u0000-\\u001f\\u007f-\\u009f]*$"},
            "body": {"type": "string", "minLength": 1, "maxLength": BODY_MAX, "pattern": "\\S"},
            "occurred_at": {"type": "string", "format": "date-time", "description": "required for incidents, refused for releases; not in the future"}})),
    });
    let part4 = json!({
        "NewUpload": obj(&["purpose", "filename", "content_type", "size"], json!({
            "purpose": {"enum": ["material", "user_import", "group_import"]},
            "filename": {"type": "string", "minLength": 1, "maxLength": FILENAME_MAX},
            "content_type": {"type": "string", "description": "materials: pdf, images, mp4, mp3, zip, text, Office; imports: text/csv (or application/vnd.ms-excel, text/plain)"},
            "size": {"type": "integer", "minimum": 1, "description": "bytes; at most 100 MiB for materials, 20 MiB for imports (413 beyond)"}})),
        "IssuedUpload": obj(&["id", "upload_url", "upload_method", "upload_headers", "expires_at"], json!({
            "id": {"type": "string"}, "upload_url": {"type": "string"}, "upload_method": {"enum": ["PUT"]},
            "upload_headers": {"type": "object", "additionalProperties": {"type": "string"}}, "expires_at": ts})),
        "Upload": obj(&["id", "purpose", "filename", "content_type", "size", "status", "download_url", "created_at"], json!({
            "id": {"type": "string"}, "purpose": {"enum": ["material", "user_import", "group_import"]},
            "filename": {"type": "string"}, "content_type": {"type": "string"}, "size": {"type": "integer"},
            "status": {"enum": ["pending", "stored"]}, "download_url": nullable("string"), "created_at": ts})),
        "NewImport": obj(&["upload_id", "kind"], json!({
            "upload_id": {"type": "string"}, "kind": {"enum": ["users", "groups"]},
            "delivery": {"enum": ["invite_link"], "description": "user imports mail invitation links; generated passwords need POST /v1/users/import"}})),
        "ImportId": obj(&["id"], json!({"id": {"type": "string"}})),
        "Import": obj(&["id", "kind", "status", "total", "processed", "created", "failed", "failed_rows", "created_at", "updated_at"], json!({
            "id": {"type": "string"}, "kind": {"enum": ["users", "groups"]},
            "status": {"enum": ["queued", "running", "done", "failed", "cancelled"]},
            "total": {"type": ["integer", "null"]}, "processed": {"type": "integer"}, "created": {"type": "integer"},
            "failed": {"type": "integer"},
            "failed_rows": {"type": "array", "items": obj(&["line", "code", "message"], json!({
                "line": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"}}))},
            "message": {"type": "string"}, "created_at": ts,
            "updated_at": {"type": "string", "format": "date-time",
                "description": "RFC 3339 in JST; moves at least every 30 s while the import runs (a queued or running import silent for 10 minutes has lost its worker and is queued again)"}})),
        "CleanupReport": obj(&["deleted"], json!({"deleted": {"type": "integer", "minimum": 0}})),
        "CleanupJob": obj(&[], json!({"as_of": {"type": "string", "format": "date-time"}})),
    });
    let mfa = json!({
        "LoginResult": {"oneOf": [
            {"$ref": "#/components/schemas/Session"},
            {"$ref": "#/components/schemas/MfaChallenge"}]},
        "MfaChallenge": {
            "description": "the password was right and the user has a second factor: no session yet; send the challenge with a code to POST /v1/auth/login/mfa within 5 minutes",
            "type": "object", "additionalProperties": false, "required": ["mfa_required", "challenge", "expires_at"],
            "properties": {"mfa_required": {"const": true}, "challenge": {"type": "string"}, "expires_at": ts}},
        "MfaLogin": obj(&["challenge", "code"], json!({
            "challenge": {"type": "string"},
            "code": {"type": "string", "description": "the six digits the app shows now, or an unused recovery code (xxxx-xxxx-xxxx)"}})),
        "TotpEnrolment": obj(&["secret", "otpauth_uri"], json!({
            "secret": {"type": "string", "description": "base32, to type into an authenticator app"},
            "otpauth_uri": {"type": "string", "description": "otpauth://totp/… (SHA-1, 6 digits, 30 s)"}})),
        "TotpCode": obj(&["code"], json!({"code": {"type": "string"}})),
        "RecoveryCodes": obj(&["recovery_codes"], json!({"recovery_codes": {
            "type": "array", "minItems": 10, "maxItems": 10, "items": {"type": "string"},
            "description": "each usable once instead of a code; shown only here; a new set voids the old"}})),
        "MfaRemoval": obj(&["password"], json!({"password": {"type": "string"}})),
    });
    let policy = sign_in_policy_schemas();
    let mut out = Map::new();
    // SCIM (issue 18): its own part, the macro's recursion limit is near.
    let scim = json!({
        "ScimError": obj(&["schemas", "status", "detail"], json!({
            "schemas": {"type": "array", "items": {"const": crate::http::scim::ERROR}},
            "status": {"type": "string", "description": "the HTTP status, as a string"},
            "scimType": {"type": "string"}, "detail": {"type": "string"}})),
        "ScimResource": {"type": "object", "required": ["schemas"], "properties": {"schemas": {"type": "array", "items": {"type": "string"}}}},
        "ScimServiceProviderConfig": {"type": "object", "required": ["schemas", "patch", "bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes"]},
        "ScimListResponse": {"type": "object", "required": ["schemas", "totalResults", "startIndex", "itemsPerPage", "Resources"], "properties": {
            "totalResults": {"type": "integer"}, "startIndex": {"type": "integer"}, "itemsPerPage": {"type": "integer"},
            "Resources": {"type": "array", "items": {"type": "object"}}}},
        "ScimUser": {"type": "object", "required": ["userName"], "description": "RFC 7643 User with the enterprise extension (docs/SCIM.md)", "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}}, "id": {"type": "string"}, "externalId": {"type": "string"},
            "userName": {"type": "string", "description": "the e-mail address, or the login id of a user without one"},
            "name": {"type": "object"}, "displayName": {"type": "string"}, "emails": {"type": "array", "items": {"type": "object"}},
            "active": {"type": ["boolean", "string"], "description": "false disables, true enables; \"True\"/\"False\" accepted"}}},
        "ScimGroup": {"type": "object", "required": ["displayName"], "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}}, "id": {"type": "string"}, "displayName": {"type": "string"},
            "members": {"type": "array", "items": {"type": "object", "properties": {"value": {"type": "string"}}}}}},
        "ScimSearchRequest": {"type": "object", "description": "RFC 7644 §3.4.3; sortBy and sortOrder are ignored", "properties": {
            "schemas": {"type": "array", "items": {"const": crate::http::scim::SEARCH_REQUEST}},
            "filter": {"type": "string"}, "startIndex": {"type": "integer"}, "count": {"type": "integer"},
            "attributes": {"type": "array", "items": {"type": "string"}},
            "excludedAttributes": {"type": "array", "items": {"type": "string"}},
            "sortBy": {"type": "string"}, "sortOrder": {"type": "string"}}},
        "ScimPatchOp": {"type": "object", "required": ["schemas", "Operations"], "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "Operations": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "object", "required": ["op"], "properties": {
                "op": {"type": "string", "description": "add, replace or remove, in any case"}, "path": {"type": "string"}, "value": {}}}}}},
    });
    for part in [
        schemas, more, part0, part1, part2, part3, part4, scim, mfa, policy,
    ] {
        if let Value::Object(m) = part {
            out.extend(m);
        }
    }
    out
}

/// The tenant's sign-in policy (`app::sign_in_policy`): what is stored and shown, and what is sent.
fn sign_in_policy_schemas() -> Value {
    use crate::app::records::policy as sp;
    let (lmin, lmax) = sp::SESSION_LIFETIME_MINUTES;
    let (imin, imax) = sp::IDLE_TIMEOUT_MINUTES;
    let fields = json!({
        "second_factor": {"enum": ["off", "admins", "everyone"],
            "description": "who must have a second factor (admins: org admins); a user who must and has none gets a session limited to enrolling one"},
        "password_min_length": {"type": "integer", "minimum": Password::MIN_CHARS, "maximum": sp::PASSWORD_MIN_LENGTH_MAX,
            "description": "wherever a password is set (links, change); generated passwords are made at least this long"},
        "session_lifetime_minutes": {"type": ["integer", "null"], "minimum": lmin, "maximum": lmax,
            "description": "null: the service's lifetime; also ends sessions opened earlier once they are older"},
        "idle_timeout_minutes": {"type": ["integer", "null"], "minimum": imin, "maximum": imax,
            "description": "null: none; a session without requests for this long ends (measured to a tenth of it); shorter than the lifetime"},
        "ip_allowlist": {"type": "array", "maxItems": sp::IP_ALLOWLIST_MAX, "items": {"type": "string"},
            "description": "IPv4 and IPv6 networks in CIDR notation (a bare address is one host); empty: anywhere. Checked at login and on every request (403 ip_not_allowed)"},
    });
    let mut shown = fields.clone();
    shown["service_session_lifetime_minutes"] = json!({"type": "integer", "description": "the service's lifetime, used when session_lifetime_minutes is null"});
    let mut sent = fields;
    sent["confirm_self_lockout"] = json!({"type": "boolean", "default": false,
        "description": "save an allow-list that does not contain the caller's own address (else 409 self_lockout)"});
    json!({
        "SignInPolicy": obj(&["second_factor", "password_min_length", "session_lifetime_minutes",
            "idle_timeout_minutes", "ip_allowlist", "service_session_lifetime_minutes"], shown),
        "SignInPolicyInput": obj(&["second_factor", "password_min_length", "ip_allowlist"], sent),
    })
}

/// The 403 codes a route's target adds to `forbidden`, and the rule in words (`x-kanri-target`).
fn target_rule(target: Target, request: Option<&str>) -> Option<(Vec<&'static str>, &'static str)> {
    let gives_role = request == Some("RoleId");
    let (mut codes, rule) = match target {
        Target::NoAccount | Target::Members => return None,
        Target::PathUser => (
            vec!["target_outranks_caller"],
            "the account in the path must not be an org admin and its role's grants must lie within \
             the caller's, unless the caller is an org admin",
        ),
        Target::BodyUserIds => (
            vec![],
            "each id is refused on its own (a failed entry with code target_outranks_caller) when it \
             names an org admin or an account whose role's grants go beyond the caller's, unless the \
             caller is an org admin",
        ),
        Target::NewUsers => (
            vec!["role_outranks_caller"],
            "the role given (named, or the tenant default) must lie within the caller's grants unless \
             the caller is an org admin; in a CSV file a refused row is a failed row with code \
             role_outranks_caller",
        ),
        Target::DefaultRole => (
            vec!["role_outranks_caller"],
            "the role must lie within the caller's grants unless the caller is an org admin",
        ),
    };
    if gives_role && !codes.contains(&"role_outranks_caller") {
        codes.push("role_outranks_caller");
    }
    Some((codes, rule))
}

/// A query parameter by name.
pub fn param(name: &str) -> Value {
    let (schema, desc) = match name {
        "limit" => (
            json!({"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
            "page size",
        ),
        "cursor" => (
            json!({"type": "string"}),
            "next_cursor of the previous page",
        ),
        "kind" => (
            json!({"enum": ["release", "incident"]}),
            "only notices of this kind",
        ),
        "q" => (
            json!({"type": "string", "maxLength": Name::MAX_CHARS}),
            "prefix of name, e-mail or login id",
        ),
        "status" => (
            json!({"enum": ["invited", "active", "disabled"]}),
            "only users with this status",
        ),
        _ => (json!({"type": "string"}), ""),
    };
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": desc})
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for r in routes::infos().into_iter().filter(|r| !r.is_page()) {
        let mut op = json!({
            "operationId": r.id,
            "summary": r.doc.summary,
            "responses": {"default": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        });
        let mut params: Vec<Value> = r.doc.query.iter().map(|q| param(q)).collect();
        for name in ["id", "user_id"] {
            if r.path.contains(&format!("{{{name}}}")) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
            }
        }
        if !params.is_empty() {
            op["parameters"] = json!(params);
        }
        let json_media = if r.is_scim() {
            crate::http::scim::CONTENT_TYPE
        } else {
            "application/json"
        };
        if r.is_scim() {
            op["responses"]["default"] = json!({"description": "a SCIM error", "content": {json_media: {"schema": {"$ref": "#/components/schemas/ScimError"}}}});
        }
        if let Some(req) = r.doc.request {
            let media = if req == "CsvFile" {
                "text/csv"
            } else {
                json_media
            };
            op["requestBody"] = json!({"required": true, "content": {media: {"schema": {"$ref": format!("#/components/schemas/{req}")}}}});
        }
        let success = |response: Option<&str>| match response {
            Some(s) => {
                json!({"description": "success", "content": {json_media: {"schema": {"$ref": format!("#/components/schemas/{s}")}}}})
            }
            None => json!({"description": "success, no content"}),
        };
        op["responses"][r.doc.status.to_string()] = success(r.doc.response);
        if let Some((status, response)) = r.doc.also {
            op["responses"][status.to_string()] = success(response);
        }
        op["security"] = match r.access {
            Access::Public => json!([]),
            Access::Operator => json!([{"operator": []}]),
            Access::Scim => json!([{"scim": []}]),
            _ => json!([{"session": []}]),
        };
        if let Access::Feature(f, l) = r.access {
            op["x-kanri-permission"] = json!({"feature": f, "level": l});
        }
        if let Some((codes, rule)) = target_rule(r.target, r.doc.request) {
            op["x-kanri-target"] = json!(rule);
            let error =
                json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
            let mut all = vec!["forbidden"];
            all.extend(codes);
            op["responses"]["403"] = json!({
                "description": format!("refused: {}", all.join(", ")),
                "content": error,
            });
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Kanri API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Accounts and data lifecycle of a multi-tenant security-management SaaS. Times are JST."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components(),
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer", "description": "session token from POST /v1/auth/login; opaque: send it back exactly as received"},
                "operator": {"type": "http", "scheme": "bearer", "description": "operator token locally; IAM (SigV4) in AWS"},
                "scim": {"type": "http", "scheme": "bearer", "description": "a tenant's SCIM token from POST /v1/scim-tokens (docs/SCIM.md)"},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_schema_a_route_names_exists() {
        let doc = super::document();
        for r in super::routes::infos() {
            for s in [r.doc.request, r.doc.response].into_iter().flatten() {
                assert!(
                    doc["components"]["schemas"].get(s).is_some(),
                    "{} names missing schema {s}",
                    r.id
                );
            }
        }
    }

    #[test]
    fn every_path_parameter_is_declared() {
        let doc = super::document();
        // Pages are not in the API's document.
        for r in super::routes::infos().into_iter().filter(|r| !r.is_page()) {
            let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            let used: Vec<&str> = r
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            assert_eq!(declared, used, "{} {}", r.method, r.path);
        }
    }
}
