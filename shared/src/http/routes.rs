//! The route table: method, path, the access each route needs, its handler and its documentation. The
//! local server, every Lambda binary, `GET /v1/openapi.json`, `GET /v1/permissions` and the check against
//! template.yaml all read this one table.

use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::domain::permissions::{Feature, Level};
use crate::http::AppState;
use crate::http::handlers::{
    groups, logs, me, mfa, notices, ops, questionnaires, roles, scim_tokens, session,
    sign_in_policy, sso, system, tenant, uploads, users,
};
use crate::http::{console, pages, scim};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No authentication.
    Public,
    /// The service operator (IAM authorization in AWS, the operator token locally).
    Operator,
    /// Any signed-in user, also one who must still change their password.
    SelfService,
    /// Any signed-in user.
    AnyUser,
    /// A user whose role (or org-admin flag) grants this feature at this level.
    Feature(Feature, Level),
    /// Organisation admins only.
    OrgAdmin,
    /// A tenant's SCIM token (`/scim/v2`, issue 18): never a user session.
    Scim,
}

/// Whether and how a route names accounts it changes: the column the target rule (`app::access`) is
/// checked against. `tests/tests/api/authz.rs` builds its matrix (every such route × target × caller) from it,
/// and `tests/tests/api/layout.rs` fails when a route whose path or body names a user says `NoAccount`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Changes no account, or only the caller's own (`/v1/me…`), or only reads.
    NoAccount,
    /// The path's `{id}` is the account changed: 403 `target_outranks_caller` unless the rule allows it
    /// (and `role_outranks_caller` for a role beyond the caller's grants, when the body names one).
    PathUser,
    /// The body's `ids` name the accounts changed: each one the rule refuses is a failed entry with
    /// `target_outranks_caller`, the others go ahead.
    BodyUserIds,
    /// Creates accounts with the role the body or a CSV row names, or the tenant default: 403
    /// `role_outranks_caller` (a failed row with that code in a CSV) for a role beyond the caller's grants.
    NewUsers,
    /// Sets the role later accounts get (the tenant default): the same role rule.
    DefaultRole,
    /// Names accounts only as members of a group. Memberships carry no permission, credential or
    /// identity, so the target rule does not apply (docs/ARCHITECTURE.md, "Who may act on whom").
    Members,
}

/// What the OpenAPI document says of a route beyond method and path.
#[derive(Clone, Copy, Debug)]
pub struct Doc {
    pub summary: &'static str,
    /// Component schema of the JSON body, if any.
    pub request: Option<&'static str>,
    pub status: u16,
    /// Component schema of the success body; `None` for an empty body.
    pub response: Option<&'static str>,
    /// Query parameters, by name (see `openapi::param`).
    pub query: &'static [&'static str],
    /// A second success a route answers, with its body's schema (`None`: empty): e.g. re-issuing an
    /// invitation (202 `{}`) besides a generated password (200).
    pub also: Option<(u16, Option<&'static str>)>,
}

/// What the table says of a route besides its handler: what the OpenAPI document, the permission catalogue,
/// `may` and the checks against template.yaml read. Building it references no handler, so code that reads it
/// (every page that shows a link) does not link every route.
#[derive(Clone, Debug)]
pub struct RouteInfo {
    /// Also the name of the route's Lambda binary and the key of its function in template.yaml.
    pub id: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub target: Target,
    pub doc: Doc,
}

/// A row of the table: its [`RouteInfo`] (read through `Deref`: `route.id`, `route.access`) and its
/// handler.
pub struct Route {
    pub info: RouteInfo,
    pub handler: fn() -> MethodRouter<AppState>,
}

impl std::ops::Deref for Route {
    type Target = RouteInfo;
    fn deref(&self) -> &RouteInfo {
        &self.info
    }
}

const fn doc(
    summary: &'static str,
    request: Option<&'static str>,
    status: u16,
    response: Option<&'static str>,
) -> Doc {
    Doc {
        summary,
        request,
        status,
        response,
        query: &[],
        also: None,
    }
}

const SETTINGS_EDIT: Access = Access::Feature(Feature::Settings, Level::Edit);
const SETTINGS_VIEW: Access = Access::Feature(Feature::Settings, Level::View);
const AUDIT_LOG_VIEW: Access = Access::Feature(Feature::AuditLog, Level::View);
const SUPPLY_CHAIN_EDIT: Access = Access::Feature(Feature::SupplyChain, Level::Edit);
const SUPPLY_CHAIN_VIEW: Access = Access::Feature(Feature::SupplyChain, Level::View);

impl Access {
    /// Whether a signed-in principal may call a route with this access (the operator is never a user).
    pub fn allows(self, p: &crate::app::principal::Principal) -> bool {
        match self {
            Access::Public | Access::SelfService | Access::AnyUser => true,
            Access::Operator | Access::Scim => false,
            Access::Feature(f, l) => {
                crate::domain::permissions::allows(&p.grants, p.user.org_admin, f, l)
            }
            Access::OrgAdmin => p.user.org_admin,
        }
    }
}

/// Whether a principal may call the route `id` (a page shows a link or button only when it may).
pub fn may(id: &str, p: &crate::app::principal::Principal) -> bool {
    infos().iter().any(|r| r.id == id && r.access.allows(p))
}

impl RouteInfo {
    /// A page for people (HTML, outside `/v1/`): not part of the JSON API or its OpenAPI document.
    pub fn is_page(&self) -> bool {
        !self.path.starts_with("/v1/") && !self.is_scim()
    }

    /// A SCIM endpoint (`/scim/v2/…`): in the OpenAPI document, with SCIM's media type and errors.
    pub fn is_scim(&self) -> bool {
        self.path.starts_with("/scim/")
    }
}

/// A page's documentation: HTML, no JSON schemas.
const fn page(summary: &'static str, status: u16) -> Doc {
    doc(summary, None, status, None)
}

impl Doc {
    /// The same documentation with the query parameters the route reads.
    const fn with_query(self, query: &'static [&'static str]) -> Doc {
        Doc { query, ..self }
    }

    const fn also(self, status: u16, response: Option<&'static str>) -> Doc {
        Doc {
            also: Some((status, response)),
            ..self
        }
    }
}

/// Whether `ident` is `id` with every `-` written `_`: a route's function is named after its id, checked at
/// compile time, so `functions/src/bin/<id>.rs` calling `routes::<id with _>` serves the route its name says.
const fn named_after(id: &str, ident: &str) -> bool {
    let (a, b) = (id.as_bytes(), ident.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let want = if a[i] == b'-' { b'_' } else { a[i] };
        if b[i] != want {
            return false;
        }
        i += 1;
    }
    true
}

/// The table: `name: (id, METHOD "/path", access, target, handler, doc)` per row, the method written once for
/// both the row and its handler; `; body_limit = n` after the doc raises the route's body limit. Each row
/// becomes a function `routes::<name>()` (the route, with its handler: what a Lambda binary calls, so the
/// binary links its own handler and no other) and an entry of [`table`] (every route, for the local server)
/// and of [`infos`] (every route without handlers).
macro_rules! routes {
    ($($f:ident: ($id:literal, $m:ident $path:literal, $access:expr, $target:expr, $handler:path, $doc:expr
        $(; body_limit = $limit:expr)?)),* $(,)?) => {
        /// The rows without their handlers.
        mod info {
            use super::*;
            $(
                const _: () = assert!(named_after($id, stringify!($f)), "a route's function is named after its id");
                pub(super) fn $f() -> RouteInfo {
                    #[allow(unused_imports)]
                    use Access::*;
                    #[allow(unused_imports)]
                    use Target::*;
                    RouteInfo {
                        id: $id,
                        method: Method::$m,
                        path: $path,
                        access: $access,
                        target: $target,
                        doc: $doc,
                    }
                }
            )*
            pub(super) fn all() -> Vec<RouteInfo> {
                vec![$($f()),*]
            }
        }
        $(
            #[doc = concat!("`", stringify!($m), " ", $path, "` (`", $id, "`)")]
            pub fn $f() -> Route {
                Route {
                    info: info::$f(),
                    handler: || on(MethodFilter::$m, $handler)$(.layer(axum::extract::DefaultBodyLimit::max($limit)))?,
                }
            }
        )*
        /// Every route, with its handler (the local server mounts them all; the tests read them).
        pub fn table() -> Vec<Route> {
            vec![$($f()),*]
        }
    };
}

/// Every route without its handler, in the table's order (the OpenAPI document, `GET /v1/permissions`,
/// [`may`]).
pub fn infos() -> Vec<RouteInfo> {
    info::all()
}

routes! {

        health: ("health", GET "/v1/health", Public, NoAccount, system::health,
            doc("Liveness, readiness (the store answers a read; 503 unavailable otherwise) and version",
                None, 200, Some("Health"))),
        openapi: ("openapi", GET "/v1/openapi.json", Public, NoAccount, system::openapi,
            doc("This OpenAPI document", None, 200, Some("OpenApi"))),
        ops_tenants_create: ("ops-tenants-create", POST "/v1/ops/tenants", Operator, NoAccount, ops::create_tenant,
            doc("Create a tenant and invite its first org admin", Some("NewTenant"), 201, Some("CreatedTenant"))),
        ops_tenants_get: ("ops-tenants-get", GET "/v1/ops/tenants/{id}", Operator, NoAccount, ops::get_tenant,
            doc("Read a tenant", None, 200, Some("Tenant"))),
        ops_tenants_update: ("ops-tenants-update", PATCH "/v1/ops/tenants/{id}", Operator, NoAccount, ops::update_tenant,
            doc("Change a tenant's name or seat limit", Some("TenantChanges"), 200, Some("Tenant"))),
        auth_login: ("auth-login", POST "/v1/auth/login", Public, NoAccount, session::login,
            doc("Log in with tenant slug, e-mail or login id, and password (a user with a second factor gets a challenge, no session)",
                Some("LoginRequest"), 200, Some("LoginResult"))),
        auth_login_mfa: ("auth-login-mfa", POST "/v1/auth/login/mfa", Public, NoAccount, mfa::login,
            doc("Complete a login that answered mfa_required, with a TOTP code or a recovery code",
                Some("MfaLogin"), 200, Some("Session"))),
        me_mfa_totp: ("me-mfa-totp", POST "/v1/me/mfa/totp", AnyUser, NoAccount, mfa::start,
            doc("Start a TOTP enrolment: a new secret and its otpauth:// URI, active once confirmed",
                None, 201, Some("TotpEnrolment"))),
        me_mfa_totp_confirm: ("me-mfa-totp-confirm", POST "/v1/me/mfa/totp/confirm", AnyUser, NoAccount, mfa::confirm,
            doc("Activate the pending TOTP secret with one code; answers ten single-use recovery codes, once",
                Some("TotpCode"), 200, Some("RecoveryCodes"))),
        me_mfa_delete: ("me-mfa-delete", DELETE "/v1/me/mfa", AnyUser, NoAccount, mfa::remove,
            doc("Remove one's second factor (and its recovery codes) with the current password",
                Some("MfaRemoval"), 204, None)),
        users_mfa_reset: ("users-mfa-reset", DELETE "/v1/users/{id}/mfa", SETTINGS_EDIT, PathUser, mfa::reset,
            doc("Reset a user's second factor (a lost phone): removed with its recovery codes, logged and mailed to the user (not your own)",
                None, 204, None)),
        auth_logout: ("auth-logout", POST "/v1/auth/logout", SelfService, NoAccount, session::logout,
            doc("Revoke the current session", None, 204, None)),
        auth_password_reset: ("auth-password-reset", POST "/v1/auth/password-reset", Public, NoAccount, session::password_reset,
            doc("Mail a password-reset link (same answer whether or not the account exists)",
                Some("ResetRequest"), 202, Some("Empty"))),
        auth_set_password: ("auth-set-password", POST "/v1/auth/set-password", Public, NoAccount, session::set_password,
            doc("Set a password with an invitation or reset token", Some("SetPassword"), 204, None)),
        me_get: ("me-get", GET "/v1/me", SelfService, NoAccount, me::get,
            doc("The signed-in user with effective grants", None, 200, Some("Me"))),
        me_password: ("me-password", POST "/v1/me/password", SelfService, NoAccount, me::change_password,
            doc("Change one's own password", Some("ChangePassword"), 204, None)),
        tenant_get: ("tenant-get", GET "/v1/tenant", AnyUser, NoAccount, tenant::get,
            doc("The caller's tenant", None, 200, Some("Tenant"))),
        users_create: ("users-create", POST "/v1/users", SETTINGS_EDIT, NewUsers, users::create,
            doc("Register a user (invitation link or generated password)",
                Some("NewUser"), 201, Some("CreatedUser"))),
        users_list: ("users-list", GET "/v1/users", SETTINGS_EDIT, NoAccount, users::list,
            doc("List users, optionally searching name, e-mail and login id by prefix, or by status",
                None, 200, Some("UserPage")).with_query(&["limit", "cursor", "q", "status"])),
        users_get: ("users-get", GET "/v1/users/{id}", SETTINGS_EDIT, NoAccount, users::get,
            doc("Read a user", None, 200, Some("User"))),
        users_update: ("users-update", PATCH "/v1/users/{id}", SETTINGS_EDIT, PathUser, users::update,
            doc("Change a user's name, e-mail or login id", Some("UserChanges"), 200, Some("User"))),
        users_credentials: ("users-credentials", POST "/v1/users/{id}/credentials", SETTINGS_EDIT, PathUser, users::credentials,
            doc("Re-issue an invitation link (202) or a generated password (200)",
                Some("Credentials"), 200, Some("Reissued")).also(202, Some("Empty"))),
        users_import: ("users-import", POST "/v1/users/import", SETTINGS_EDIT, NewUsers, users::import,
            doc("Register users from a CSV file (UTF-8 or Shift_JIS), up to 1 MiB; generated passwords for at most 30 rows",
                Some("CsvFile"), 200, Some("UserImportReport")).with_query(&["delivery"])),
        users_delete: ("users-delete", DELETE "/v1/users/{id}", SETTINGS_EDIT, PathUser, users::delete,
            doc("Delete a user immediately and for good (not yourself, not the last org admin)", None, 204, None)),
        users_bulk_delete: ("users-bulk-delete", POST "/v1/users/bulk-delete", SETTINGS_EDIT, BodyUserIds, users::bulk_delete,
            doc("Delete up to 1000 users, reporting each failure", Some("Ids"), 200, Some("BulkDeleted"))),
        users_disable: ("users-disable", POST "/v1/users/{id}/disable", SETTINGS_EDIT, PathUser, users::disable,
            doc("Disable a user: no login, no seat; sessions and links end; data, groups and role stay (not yourself)",
                None, 200, Some("User"))),
        users_enable: ("users-enable", POST "/v1/users/{id}/enable", SETTINGS_EDIT, PathUser, users::enable,
            doc("Enable a disabled user again, taking a seat (409 seat_limit_reached when none is free)",
                None, 200, Some("User"))),
        groups_create: ("groups-create", POST "/v1/groups", SETTINGS_EDIT, Members, groups::create,
            doc("Create a group, optionally with members", Some("NewGroup"), 201, Some("Group"))),
        groups_bulk_create: ("groups-bulk-create", POST "/v1/groups/bulk", SETTINGS_EDIT, NoAccount, groups::bulk_create,
            doc("Create up to 1000 groups by name", Some("GroupNames"), 200, Some("GroupsCreated"))),
        groups_import: ("groups-import", POST "/v1/groups/import", SETTINGS_EDIT, Members, groups::import,
            doc("Create groups and add members from a CSV file (group_name,members)",
                Some("CsvFile"), 200, Some("GroupImportReport"))),
        groups_list: ("groups-list", GET "/v1/groups", SETTINGS_EDIT, NoAccount, groups::list,
            doc("List groups, optionally by name prefix",
                None, 200, Some("GroupPage")).with_query(&["limit", "cursor", "q"])),
        groups_get: ("groups-get", GET "/v1/groups/{id}", SETTINGS_EDIT, NoAccount, groups::get,
            doc("Read a group", None, 200, Some("Group"))),
        groups_rename: ("groups-rename", PATCH "/v1/groups/{id}", SETTINGS_EDIT, NoAccount, groups::rename,
            doc("Rename a group", Some("GroupRename"), 200, Some("Group"))),
        groups_delete: ("groups-delete", DELETE "/v1/groups/{id}", SETTINGS_EDIT, NoAccount, groups::delete,
            doc("Delete a group (its members stay)", None, 204, None)),
        groups_bulk_delete: ("groups-bulk-delete", POST "/v1/groups/bulk-delete", SETTINGS_EDIT, NoAccount, groups::bulk_delete,
            doc("Delete up to 1000 groups, reporting each failure", Some("Ids"), 200, Some("BulkDeleted"))),
        groups_members_list: ("groups-members-list", GET "/v1/groups/{id}/members", SETTINGS_EDIT, NoAccount, groups::members,
            doc("A page of a group's members", None, 200, Some("UserPage")).with_query(&["limit", "cursor"])),
        groups_members_add: ("groups-members-add", POST "/v1/groups/{id}/members", SETTINGS_EDIT, Members, groups::add_members,
            doc("Add up to 1000 users to a group", Some("UserIds"), 200, Some("MembersAdded"))),
        groups_members_remove: ("groups-members-remove", POST "/v1/groups/{id}/members/remove",
            SETTINGS_EDIT, Members, groups::remove_members,
            doc("Remove up to 1000 users from a group", Some("UserIds"), 200, Some("MembersRemoved"))),
        groups_member_delete: ("groups-member-delete", DELETE "/v1/groups/{id}/members/{user_id}",
            SETTINGS_EDIT, Members, groups::remove_member,
            doc("Remove one user from a group", None, 204, None)),
        roles_list: ("roles-list", GET "/v1/roles", AnyUser, NoAccount, roles::list,
            doc("The tenant's roles, built-in and custom", None, 200, Some("RoleList"))),
        roles_create: ("roles-create", POST "/v1/roles", OrgAdmin, NoAccount, roles::create,
            doc("Create a custom role", Some("NewRole"), 201, Some("Role"))),
        roles_update: ("roles-update", PATCH "/v1/roles/{id}", OrgAdmin, NoAccount, roles::update,
            doc("Rename a custom role or change its grants", Some("RoleChanges"), 200, Some("Role"))),
        roles_delete: ("roles-delete", DELETE "/v1/roles/{id}", OrgAdmin, NoAccount, roles::delete,
            doc("Delete a custom role nobody holds", None, 204, None)),
        permissions: ("permissions", GET "/v1/permissions", AnyUser, NoAccount, roles::permissions,
            doc("The permission catalogue, generated from the route table", None, 200, Some("PermissionList"))),
        tenant_default_role: ("tenant-default-role", PUT "/v1/tenant/default-role", OrgAdmin, DefaultRole, roles::set_default,
            doc("Set the role new users get when none is named", Some("RoleId"), 200, Some("Tenant"))),
        tenant_sign_in_policy_get: ("tenant-sign-in-policy-get", GET "/v1/tenant/sign-in-policy",
            OrgAdmin, NoAccount, sign_in_policy::get,
            doc("The tenant's sign-in policy: second factor, password length, session lifetime and idle timeout, IP allow-list",
                None, 200, Some("SignInPolicy"))),
        tenant_sign_in_policy_put: ("tenant-sign-in-policy-put", PUT "/v1/tenant/sign-in-policy",
            OrgAdmin, NoAccount, sign_in_policy::put,
            doc("Replace the sign-in policy; every session follows it from its next request (409 self_lockout for a list without your own address unless confirmed)",
                Some("SignInPolicyInput"), 200, Some("SignInPolicy"))),
        users_role: ("users-role", PUT "/v1/users/{id}/role", SETTINGS_EDIT, PathUser, roles::assign,
            doc("Give a user another role (within your own grants unless you are an org admin)",
                Some("RoleId"), 200, Some("User"))),
        users_org_admin_grant: ("users-org-admin-grant", PUT "/v1/users/{id}/org-admin", OrgAdmin, PathUser, roles::grant_org_admin,
            doc("Make a user an organisation admin", None, 200, Some("User"))),
        users_org_admin_revoke: ("users-org-admin-revoke", DELETE "/v1/users/{id}/org-admin",
            OrgAdmin, PathUser, roles::revoke_org_admin,
            doc("Take the organisation-admin flag away (never from the last one)", None, 200, Some("User"))),
        scim_tokens_create: ("scim-tokens-create", POST "/v1/scim-tokens", OrgAdmin, NoAccount, scim_tokens::create,
            doc("Create a named SCIM bearer token for an identity provider (shown once)",
                Some("NewScimToken"), 201, Some("CreatedScimToken"))),
        scim_tokens_list: ("scim-tokens-list", GET "/v1/scim-tokens", OrgAdmin, NoAccount, scim_tokens::list,
            doc("The tenant's SCIM tokens: name, creation and last use (never the secret)",
                None, 200, Some("ScimTokenList"))),
        scim_tokens_revoke: ("scim-tokens-revoke", DELETE "/v1/scim-tokens/{id}", OrgAdmin, NoAccount, scim_tokens::revoke,
            doc("Revoke a SCIM token at once", None, 204, None)),
        scim_service_provider_config: ("scim-service-provider-config", GET "/scim/v2/ServiceProviderConfig",
            Scim, NoAccount, scim::service_provider_config,
            doc("SCIM: what this service provider supports", None, 200, Some("ScimServiceProviderConfig"))),
        scim_resource_types: ("scim-resource-types", GET "/scim/v2/ResourceTypes", Scim, NoAccount, scim::resource_types_list,
            doc("SCIM: the resource types", None, 200, Some("ScimListResponse"))),
        scim_resource_type: ("scim-resource-type", GET "/scim/v2/ResourceTypes/{id}", Scim, NoAccount, scim::resource_type_get,
            doc("SCIM: one resource type", None, 200, Some("ScimResource"))),
        scim_schemas: ("scim-schemas", GET "/scim/v2/Schemas", Scim, NoAccount, scim::schemas_list,
            doc("SCIM: the schemas", None, 200, Some("ScimListResponse"))),
        scim_schema: ("scim-schema", GET "/scim/v2/Schemas/{id}", Scim, NoAccount, scim::schema_get,
            doc("SCIM: one schema", None, 200, Some("ScimResource"))),
        scim_search: ("scim-search", POST "/scim/v2/.search", Scim, NoAccount, scim::search_all,
            doc("SCIM: query every resource type by POST (users, then groups; a SearchRequest)",
                Some("ScimSearchRequest"), 200, Some("ScimListResponse"))),
        scim_users_list: ("scim-users-list", GET "/scim/v2/Users", Scim, NoAccount, scim::users::list,
            doc("SCIM: list users (filter, startIndex, count, attributes, excludedAttributes)",
                None, 200, Some("ScimListResponse")).with_query(&["filter", "startIndex", "count", "attributes", "excludedAttributes"])),
        scim_users_search: ("scim-users-search", POST "/scim/v2/Users/.search", Scim, NoAccount, scim::users::search,
            doc("SCIM: query users by POST (a SearchRequest: filter, startIndex, count, attributes, excludedAttributes)",
                Some("ScimSearchRequest"), 200, Some("ScimListResponse"))),
        scim_users_create: ("scim-users-create", POST "/scim/v2/Users", Scim, NoAccount, scim::users::create,
            doc("SCIM: create a user (default role, an invitation link when it has an address)",
                Some("ScimUser"), 201, Some("ScimUser"))),
        scim_users_get: ("scim-users-get", GET "/scim/v2/Users/{id}", Scim, NoAccount, scim::users::get,
            doc("SCIM: read a user",
                None, 200, Some("ScimUser")).with_query(&["attributes", "excludedAttributes"])),
        scim_users_replace: ("scim-users-replace", PUT "/scim/v2/Users/{id}", Scim, NoAccount, scim::users::replace,
            doc("SCIM: replace a user (active false disables, true enables and takes a seat)",
                Some("ScimUser"), 200, Some("ScimUser"))),
        scim_users_patch: ("scim-users-patch", PATCH "/scim/v2/Users/{id}", Scim, NoAccount, scim::users::patch,
            doc("SCIM: change a user (PatchOp; answers 200 with the user)",
                Some("ScimPatchOp"), 200, Some("ScimUser"))),
        scim_users_delete: ("scim-users-delete", DELETE "/scim/v2/Users/{id}", Scim, NoAccount, scim::users::delete,
            doc("SCIM: delete a user immediately and for good", None, 204, None)),
        scim_groups_list: ("scim-groups-list", GET "/scim/v2/Groups", Scim, NoAccount, scim::groups::list,
            doc("SCIM: list groups (filter, startIndex, count, attributes, excludedAttributes=members)",
                None, 200, Some("ScimListResponse")).with_query(&["filter", "startIndex", "count", "attributes", "excludedAttributes"])),
        scim_groups_search: ("scim-groups-search", POST "/scim/v2/Groups/.search", Scim, NoAccount, scim::groups::search,
            doc("SCIM: query groups by POST (a SearchRequest, as GET /scim/v2/Groups)",
                Some("ScimSearchRequest"), 200, Some("ScimListResponse"))),
        scim_groups_create: ("scim-groups-create", POST "/scim/v2/Groups", Scim, NoAccount, scim::groups::create,
            doc("SCIM: create a group, with or without members", Some("ScimGroup"), 201, Some("ScimGroup"))),
        scim_groups_get: ("scim-groups-get", GET "/scim/v2/Groups/{id}", Scim, NoAccount, scim::groups::get,
            doc("SCIM: read a group",
                None, 200, Some("ScimGroup")).with_query(&["attributes", "excludedAttributes"])),
        scim_groups_replace: ("scim-groups-replace", PUT "/scim/v2/Groups/{id}", Scim, NoAccount, scim::groups::replace,
            doc("SCIM: replace a group's name and members", Some("ScimGroup"), 200, Some("ScimGroup"))),
        scim_groups_patch: ("scim-groups-patch", PATCH "/scim/v2/Groups/{id}", Scim, NoAccount, scim::groups::patch,
            doc("SCIM: rename, add, remove or replace members (PatchOp; answers 200 with the group)",
                Some("ScimPatchOp"), 200, Some("ScimGroup"))),
        scim_groups_delete: ("scim-groups-delete", DELETE "/scim/v2/Groups/{id}", Scim, NoAccount, scim::groups::delete,
            doc("SCIM: delete a group (its users stay)", None, 204, None)),
        audit_log: ("audit-log", GET "/v1/audit-log", AUDIT_LOG_VIEW, NoAccount, logs::audit,
            doc("The tenant's operation log, newest first, times in JST",
                None, 200, Some("AuditPage")).with_query(&["limit", "cursor", "from", "to"])),
        mail_log: ("mail-log", GET "/v1/mail-log", AUDIT_LOG_VIEW, NoAccount, logs::mail,
            doc("The mails sent for the tenant, newest first",
                None, 200, Some("MailPage")).with_query(&["limit", "cursor", "from", "to"])),
        ops_tenants_audit_log: ("ops-tenants-audit-log", GET "/v1/ops/tenants/{id}/audit-log", Operator, NoAccount, logs::ops_audit,
            doc("A tenant's operation log, kept after the purge",
                None, 200, Some("AuditPage")).with_query(&["limit", "cursor", "from", "to"])),
        questionnaires_create: ("questionnaires-create", POST "/v1/questionnaires",
            SUPPLY_CHAIN_EDIT, NoAccount, questionnaires::create,
            doc("Create a supply-chain questionnaire", Some("NewQuestionnaire"), 201, Some("Questionnaire"))),
        questionnaires_respond: ("questionnaires-respond", POST "/v1/questionnaires/{id}/responses",
            SUPPLY_CHAIN_EDIT, NoAccount, questionnaires::respond,
            doc("Record a respondent's answers", Some("NewResponse"), 201, Some("QuestionnaireResponse"))),
        questionnaires_get: ("questionnaires-get", GET "/v1/questionnaires/{id}",
            SUPPLY_CHAIN_VIEW, NoAccount, questionnaires::get,
            doc("A questionnaire with its responses", None, 200, Some("Questionnaire"))),
        ops_tenants_terminate: ("ops-tenants-terminate", POST "/v1/ops/tenants/{id}/terminate", Operator, NoAccount, ops::terminate,
            doc("End a tenant's contract on a date; its data is erased 90 days later",
                Some("Terminate"), 200, Some("Tenant"))),
        ops_tenants_questionnaires: ("ops-tenants-questionnaires", GET "/v1/ops/tenants/{id}/questionnaires",
            Operator, NoAccount, ops::questionnaires,
            doc("A tenant's questionnaires; after the purge without respondents",
                None, 200, Some("QuestionnaireList"))),
        ops_jobs_backup: ("ops-jobs-backup", POST "/v1/ops/jobs/backup", Operator, NoAccount, ops::backup,
            doc("Take a backup generation; exactly the 7 newest remain", Some("Job"), 200, Some("BackupReport"))),
        ops_backups_list: ("ops-backups-list", GET "/v1/ops/backups", Operator, NoAccount, ops::backups,
            doc("The backup generations, newest first", None, 200, Some("BackupList"))),
        ops_jobs_purge: ("ops-jobs-purge", POST "/v1/ops/jobs/purge", Operator, NoAccount, ops::purge,
            doc("Erase tenants whose contract ended 90 or more days before as_of",
                Some("Job"), 200, Some("PurgeReport"))),
        me_subscriptions_get: ("me-subscriptions-get", GET "/v1/me/subscriptions", AnyUser, NoAccount, notices::subscriptions,
            doc("The caller's e-mail subscriptions to notices", None, 200, Some("Subscriptions"))),
        me_subscriptions_put: ("me-subscriptions-put", PUT "/v1/me/subscriptions", AnyUser, NoAccount, notices::subscribe,
            doc("Subscribe to (or unsubscribe from) notice mails by kind; needs an e-mail address",
                Some("Subscriptions"), 200, Some("Subscriptions"))),
        notices_list: ("notices-list", GET "/v1/notices", AnyUser, NoAccount, notices::list,
            doc("Release notes and incident notices, newest first",
                None, 200, Some("NoticePage")).with_query(&["kind", "limit", "cursor"])),
        ops_notices_create: ("ops-notices-create", POST "/v1/ops/notices", Operator, NoAccount, notices::publish,
            doc("Publish a notice and mail it to every subscriber of its kind in every active tenant",
                Some("NewNotice"), 201, Some("OpsNotice"))),
        ops_notices_list: ("ops-notices-list", GET "/v1/ops/notices", Operator, NoAccount, notices::ops_list,
            doc("The notices with their mailing counts; incidents show whether the 72-hour promise held",
                None, 200, Some("OpsNoticePage")).with_query(&["kind", "limit", "cursor"])),
        uploads_create: ("uploads-create", POST "/v1/uploads", AnyUser, NoAccount, uploads::create,
            doc("Issue a presigned URL for one file (materials need materials/edit, import files settings/edit)",
                Some("NewUpload"), 201, Some("IssuedUpload"))),
        uploads_get: ("uploads-get", GET "/v1/uploads/{id}", AnyUser, NoAccount, uploads::get,
            doc("An upload, with a short-lived download URL once stored", None, 200, Some("Upload"))),
        uploads_delete: ("uploads-delete", DELETE "/v1/uploads/{id}", AnyUser, NoAccount, uploads::delete,
            doc("Delete an upload's file and record", None, 204, None)),
        imports_create: ("imports-create", POST "/v1/imports", SETTINGS_EDIT, NewUsers, uploads::start_import,
            doc("Import an uploaded CSV of users or groups in the background",
                Some("NewImport"), 202, Some("ImportId"))),
        tenant_sso_get: ("tenant-sso-get", GET "/v1/tenant/sso", OrgAdmin, NoAccount, sso::get,
            doc("The tenant's OpenID Connect provider for single sign-on (never the client secret)",
                None, 200, Some("SsoConfig"))),
        tenant_sso_put: ("tenant-sso-put", PUT "/v1/tenant/sso", OrgAdmin, NoAccount, sso::put,
            doc("Configure the tenant's OpenID Connect provider: issuer, client, claim, domains, mode",
                Some("SsoConfigInput"), 200, Some("SsoConfig"))),
        tenant_sso_delete: ("tenant-sso-delete", DELETE "/v1/tenant/sso", OrgAdmin, NoAccount, sso::delete,
            doc("Remove the tenant's single sign-on: everyone signs in with a password again", None, 204, None)),
        imports_get: ("imports-get", GET "/v1/imports/{id}", SETTINGS_EDIT, NoAccount, uploads::import_status,
            doc("A background import's progress and failed rows", None, 200, Some("Import"))),
        imports_cancel: ("imports-cancel", POST "/v1/imports/{id}/cancel",
            SETTINGS_EDIT, Target::NoAccount, uploads::cancel_import,
            doc("Cancel a queued or running import: its file is deleted at once, users created so far stay",
                None, 200, Some("Import"))),
        ops_jobs_cleanup_uploads: ("ops-jobs-cleanup-uploads", POST "/v1/ops/jobs/cleanup-uploads",
            Operator, NoAccount, uploads::cleanup,
            doc("Delete uploads pending for 24 hours and import files whose import ended, as of as_of",
                Some("CleanupJob"), 200, Some("CleanupReport"))),
        // ---- pages for people (HTML; see http::pages) ----
        page_login: ("page-login", GET "/login", Public, Target::NoAccount, pages::login,
            page("Sign-in page", 200)),
        page_login_post: ("page-login-post", POST "/login", Public, Target::NoAccount, pages::login_post,
            page("Sign in from the page (session cookie)", 303)),
        page_login_mfa: ("page-login-mfa", GET "/login/mfa", Public, Target::NoAccount, pages::mfa::login_code,
            page("The sign-in's code step: a TOTP code or a recovery code (the challenge in its cookie)", 200)),
        page_login_mfa_post: ("page-login-mfa-post", POST "/login/mfa", Public, Target::NoAccount, pages::mfa::login_code_post,
            page("Complete the sign-in with a code (session cookie)", 303)),
        page_sso_start: ("page-sso-start", GET "/sso/start", Public, Target::NoAccount, pages::sso_start,
            page("Start a single sign-on at the tenant's identity provider (303 there)", 303)),
        page_sso_callback: ("page-sso-callback", GET "/sso/callback", Public, Target::NoAccount, pages::sso_callback,
            page("The identity provider's answer: a session and the account page (303), or why not", 303)),
        page_logout_post: ("page-logout-post", POST "/logout", Public, Target::NoAccount, pages::logout_post,
            page("Sign out from the page", 303)),
        page_account: ("page-account", GET "/account", Public, Target::NoAccount, pages::account,
            page("The signed-in person's account page", 200)),
        page_account_password: ("page-account-password", GET "/account/password", Public, Target::NoAccount, pages::change_password,
            page("Change-password page", 200)),
        page_account_password_post: ("page-account-password-post", POST "/account/password",
            Public, Target::NoAccount, pages::change_password_post,
            page("Change the password from the page", 303)),
        page_account_subscriptions_post: ("page-account-subscriptions-post", POST "/account/subscriptions",
            Public, Target::NoAccount, pages::subscriptions_post,
            page("Choose notice mails from the page", 303)),
        page_account_mfa: ("page-account-mfa", GET "/account/mfa", AnyUser, Target::NoAccount, pages::mfa::account_mfa,
            page("Two-step verification: its state, the QR code of a set-up, turning it off", 200)),
        page_account_mfa_totp_post: ("page-account-mfa-totp-post", POST "/account/mfa/totp",
            AnyUser, Target::NoAccount, pages::mfa::account_mfa_start,
            page("Start (or start again) a TOTP set-up from the page", 303)),
        page_account_mfa_confirm_post: ("page-account-mfa-confirm-post", POST "/account/mfa/totp/confirm",
            AnyUser, Target::NoAccount, pages::mfa::account_mfa_confirm,
            page("Turn the factor on with one code; the recovery codes are shown once", 200)),
        page_account_mfa_delete_post: ("page-account-mfa-delete-post", POST "/account/mfa/delete",
            AnyUser, Target::NoAccount, pages::mfa::account_mfa_delete,
            page("Turn the factor off with the current password", 303)),
        page_notices: ("page-notices", GET "/notices", AnyUser, Target::NoAccount, pages::notices_read,
            page("Release and incident notices, newest first, by kind (as GET /v1/notices)", 200)),
        page_set_password: ("page-set-password", GET "/set-password", Public, Target::NoAccount, pages::set_password,
            page("The mailed invitation or reset link: shows it without using it", 200)),
        page_set_password_post: ("page-set-password-post", POST "/set-password", Public, Target::NoAccount, pages::set_password_post,
            page("Set the password with the link, then sign in", 303)),
        page_password_reset: ("page-password-reset", GET "/password-reset", Public, Target::NoAccount, pages::password_reset,
            page("Password reset request page", 200)),
        page_password_reset_post: ("page-password-reset-post", POST "/password-reset",
            Public, Target::NoAccount, pages::password_reset_post,
            page("Request a reset link from the page", 303)),
        // ---- the admin console (HTML; see http::console): the access and target of the API's routes ----
        page_admin_users: ("page-admin-users", GET "/admin/users", SETTINGS_EDIT, NoAccount, console::users_list,
            page("The user list: search, group filter, paging, seats used", 200)),
        page_admin_users_new: ("page-admin-users-new", GET "/admin/users/new", SETTINGS_EDIT, NoAccount, console::user_new,
            page("The form to register a user", 200)),
        page_admin_users_create: ("page-admin-users-create", POST "/admin/users", SETTINGS_EDIT, NewUsers, console::user_create,
            page("Register a user: a mailed link (303) or a generated password shown once (201)", 201)),
        page_admin_user: ("page-admin-user", GET "/admin/users/{id}", SETTINGS_EDIT, NoAccount, console::user_show,
            page("One user, with the role form and the delete button", 200)),
        page_admin_user_role_post: ("page-admin-user-role-post", POST "/admin/users/{id}/role",
            SETTINGS_EDIT, PathUser, console::user_role,
            page("Change a user's role from the page", 303)),
        page_admin_user_org_admin_post: ("page-admin-user-org-admin-post", POST "/admin/users/{id}/org-admin",
            OrgAdmin, PathUser, console::user_org_admin,
            page("Make a user an organisation admin (on=1) or take it away (on=0)", 303)),
        page_admin_user_status_post: ("page-admin-user-status-post", POST "/admin/users/{id}/status",
            SETTINGS_EDIT, PathUser, console::user_status,
            page("Disable a user (disable=1) or enable them again (disable=0)", 303)),
        page_admin_user_credentials_post: ("page-admin-user-credentials-post", POST "/admin/users/{id}/credentials",
            SETTINGS_EDIT, PathUser, console::user_credentials,
            page("Re-issue the first password (shown once, 200) or invitation link (303)", 200)),
        page_admin_user_mfa_reset_post: ("page-admin-user-mfa-reset-post", POST "/admin/users/{id}/mfa/reset",
            SETTINGS_EDIT, PathUser, console::user_mfa_reset,
            page("Reset a user's second factor, confirmed by a checkbox (as DELETE /v1/users/{id}/mfa)", 303)),
        page_admin_users_delete: ("page-admin-users-delete", GET "/admin/users/delete",
            SETTINGS_EDIT, NoAccount, console::users_delete_confirm,
            page("Confirm deleting the chosen users: it cannot be undone", 200)),
        page_admin_users_delete_post: ("page-admin-users-delete-post", POST "/admin/users/delete",
            SETTINGS_EDIT, BodyUserIds, console::users_delete,
            page("Delete the chosen users", 303)),
        page_admin_users_export: ("page-admin-users-export", GET "/admin/users/export",
            SETTINGS_EDIT, NoAccount, console::users_export,
            page("The users of the list as a CSV file for Excel (UTF-8 with BOM, or encoding=cp932)", 200)),
        page_admin_users_import: ("page-admin-users-import", GET "/admin/users/import",
            SETTINGS_EDIT, NoAccount, console::users_import,
            page("The form to register users from a CSV file (UTF-8 or CP932)", 200)),
        page_admin_users_import_preview: ("page-admin-users-import-preview", POST "/admin/users/import/preview",
            SETTINGS_EDIT, NewUsers, console::users_import_preview,
            page("What importing the chosen CSV file would do (rows to create, rows that would fail and why, seats left); nothing written",
                200)),
        // The confirm form carries the previewed file in base64.
        page_admin_users_import_post: ("page-admin-users-import-post", POST "/admin/users/import",
            SETTINGS_EDIT, NewUsers, console::users_import_post,
            page("Import the previewed file: the report with generated passwords shown once (200), or a background import's page (303)", 200);
            body_limit = console::CONFIRM_LIMIT),
        page_admin_users_import_status: ("page-admin-users-import-status", GET "/admin/users/imports/{id}",
            SETTINGS_EDIT, NoAccount, console::users_import_status,
            page("A background user import: progress (the page reloads itself), then its counts and failed rows",
                200)),
        page_admin_users_import_report: ("page-admin-users-import-report", GET "/admin/users/imports/{id}/report",
            SETTINGS_EDIT, NoAccount, console::users_import_report,
            page("A background user import's per-row report as a CSV file for Excel (UTF-8 with BOM)", 200)),
        page_admin_audit_log: ("page-admin-audit-log", GET "/admin/audit-log", AUDIT_LOG_VIEW, NoAccount, console::audit_log,
            page("The operation log in JST, filtered by days", 200)),
        page_admin_mail_log: ("page-admin-mail-log", GET "/admin/mail-log", AUDIT_LOG_VIEW, NoAccount, console::mail_log,
            page("The mail-send log in JST, filtered by days", 200)),
        page_admin_roles: ("page-admin-roles", GET "/admin/roles", SETTINGS_VIEW, NoAccount, console::roles_list,
            page("What each role may do: the feature × view/edit table (as GET /v1/roles)", 200)),
        page_admin_roles_new: ("page-admin-roles-new", GET "/admin/roles/new", OrgAdmin, NoAccount, console::role_new,
            page("The form to create a custom role", 200)),
        page_admin_roles_create: ("page-admin-roles-create", POST "/admin/roles", OrgAdmin, NoAccount, console::role_create,
            page("Create a custom role, then the role table (303)", 303)),
        page_admin_role: ("page-admin-role", GET "/admin/roles/{id}", OrgAdmin, NoAccount, console::role_edit,
            page("The form to rename a custom role or change its grants", 200)),
        page_admin_role_post: ("page-admin-role-post", POST "/admin/roles/{id}", OrgAdmin, NoAccount, console::role_update,
            page("Rename a custom role or change its grants, then the role table (303)", 303)),
        page_admin_role_delete: ("page-admin-role-delete", GET "/admin/roles/{id}/delete",
            OrgAdmin, NoAccount, console::role_delete_confirm,
            page("Confirm deleting a custom role: it cannot be undone", 200)),
        page_admin_role_delete_post: ("page-admin-role-delete-post", POST "/admin/roles/{id}/delete",
            OrgAdmin, NoAccount, console::role_delete,
            page("Delete a custom role nobody holds (303)", 303)),
        page_admin_default_role: ("page-admin-default-role", GET "/admin/default-role", OrgAdmin, NoAccount, console::default_role,
            page("The role new users get by default, and the form to change it", 200)),
        page_admin_default_role_post: ("page-admin-default-role-post", POST "/admin/default-role",
            OrgAdmin, DefaultRole, console::default_role_post,
            page("Change the role new users get by default (303)", 303)),
        page_admin_sign_in_policy: ("page-admin-sign-in-policy", GET "/admin/sign-in-policy",
            OrgAdmin, NoAccount, console::sign_in_policy,
            page("The tenant's sign-in policy (as GET /v1/tenant/sign-in-policy) and the form to change it", 200)),
        page_admin_sign_in_policy_post: ("page-admin-sign-in-policy-post", POST "/admin/sign-in-policy",
            OrgAdmin, NoAccount, console::sign_in_policy_post,
            page("Save the sign-in policy (303); a list without your own address needs the confirmation (409)", 303)),
        page_admin_sso: ("page-admin-sso", GET "/admin/sso", OrgAdmin, NoAccount, console::sso_show,
            page("The tenant's single sign-on provider, and the form to change it", 200)),
        page_admin_sso_post: ("page-admin-sso-post", POST "/admin/sso", OrgAdmin, NoAccount, console::sso_save,
            page("Save the single sign-on provider (303)", 303)),
        page_admin_sso_delete_post: ("page-admin-sso-delete-post", POST "/admin/sso/delete", OrgAdmin, NoAccount, console::sso_delete,
            page("Remove the single sign-on provider (303)", 303)),
        page_admin_groups: ("page-admin-groups", GET "/admin/groups", SETTINGS_EDIT, NoAccount, console::groups_list,
            page("The group list: search by name, paging, member counts", 200)),
        page_admin_groups_new: ("page-admin-groups-new", GET "/admin/groups/new", SETTINGS_EDIT, NoAccount, console::group_new,
            page("The form to create a group", 200)),
        page_admin_groups_create: ("page-admin-groups-create", POST "/admin/groups", SETTINGS_EDIT, NoAccount, console::group_create,
            page("Create a group, then its page (303)", 303)),
        page_admin_groups_bulk: ("page-admin-groups-bulk", GET "/admin/groups/bulk", SETTINGS_EDIT, NoAccount, console::groups_bulk,
            page("The form to create several groups by typed names, one a line", 200)),
        page_admin_groups_bulk_post: ("page-admin-groups-bulk-post", POST "/admin/groups/bulk",
            SETTINGS_EDIT, NoAccount, console::groups_bulk_create,
            page("Create the typed groups: the list (303), or the names not created and why", 303)),
        page_admin_groups_import: ("page-admin-groups-import", GET "/admin/groups/import",
            SETTINGS_EDIT, NoAccount, console::groups_import,
            page("The form to create groups from a CSV file (group_name,members)", 200)),
        page_admin_groups_import_post: ("page-admin-groups-import-post", POST "/admin/groups/import",
            SETTINGS_EDIT, Members, console::groups_import_post,
            page("Create groups and add members from the uploaded CSV file: the per-row report", 200)),
        page_admin_group: ("page-admin-group", GET "/admin/groups/{id}", SETTINGS_EDIT, NoAccount, console::group_show,
            page("One group: rename, its members, users to add, the delete button", 200)),
        page_admin_group_rename_post: ("page-admin-group-rename-post", POST "/admin/groups/{id}/name",
            SETTINGS_EDIT, NoAccount, console::group_rename,
            page("Rename a group from its page", 303)),
        page_admin_group_members_add_post: ("page-admin-group-members-add-post", POST "/admin/groups/{id}/members",
            SETTINGS_EDIT, Members, console::group_members_add,
            page("Add the ticked users to the group", 303)),
        page_admin_group_members_remove_post: ("page-admin-group-members-remove-post", POST "/admin/groups/{id}/members/remove",
            SETTINGS_EDIT, Members, console::group_members_remove,
            page("Remove the ticked users from the group", 303)),
        page_admin_groups_delete: ("page-admin-groups-delete", GET "/admin/groups/delete",
            SETTINGS_EDIT, NoAccount, console::groups_delete_confirm,
            page("Confirm deleting the chosen groups: it cannot be undone", 200)),
        page_admin_groups_delete_post: ("page-admin-groups-delete-post", POST "/admin/groups/delete",
            SETTINGS_EDIT, NoAccount, console::groups_delete,
            page("Delete the chosen groups (their members stay)", 303)),
}
