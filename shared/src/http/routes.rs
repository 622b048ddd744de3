//! The route table: method, path, the access each route needs, its handler and its documentation. The
//! local server, every Lambda binary, `GET /v1/openapi.json`, `GET /v1/permissions` and the check against
//! template.yaml all read this one table.

use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use crate::domain::permissions::{Feature, Level};
use crate::http::AppState;
use crate::http::handlers::{
    groups, logs, me, notices, ops, questionnaires, roles, scim_tokens, session, system, tenant,
    uploads, users,
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
}

pub struct Route {
    /// Also the name of the route's Lambda binary and the key of its function in template.yaml.
    pub id: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub target: Target,
    pub handler: fn() -> MethodRouter<AppState>,
    pub doc: Doc,
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
    }
}

const SETTINGS_EDIT: Access = Access::Feature(Feature::Settings, Level::Edit);
const AUDIT_LOG_VIEW: Access = Access::Feature(Feature::AuditLog, Level::View);
const SUPPLY_CHAIN_EDIT: Access = Access::Feature(Feature::SupplyChain, Level::Edit);
const SUPPLY_CHAIN_VIEW: Access = Access::Feature(Feature::SupplyChain, Level::View);

impl Access {
    /// Whether a signed-in principal may call a route with this access (the operator is never a user).
    pub fn allows(self, p: &crate::app::auth::Principal) -> bool {
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
pub fn may(id: &str, p: &crate::app::auth::Principal) -> bool {
    table().iter().any(|r| r.id == id && r.access.allows(p))
}

impl Route {
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

pub fn table() -> Vec<Route> {
    use Access::*;
    use Target::*;
    vec![
        Route {
            id: "health",
            method: Method::GET,
            path: "/v1/health",
            access: Public,
            target: NoAccount,
            handler: || get(system::health),
            doc: doc(
                "Liveness, readiness (the store answers a read; 503 unavailable otherwise) and version",
                None,
                200,
                Some("Health"),
            ),
        },
        Route {
            id: "openapi",
            method: Method::GET,
            path: "/v1/openapi.json",
            access: Public,
            target: NoAccount,
            handler: || get(system::openapi),
            doc: doc("This OpenAPI document", None, 200, Some("OpenApi")),
        },
        Route {
            id: "ops-tenants-create",
            method: Method::POST,
            path: "/v1/ops/tenants",
            access: Operator,
            target: NoAccount,
            handler: || post(ops::create_tenant),
            doc: doc(
                "Create a tenant and invite its first org admin",
                Some("NewTenant"),
                201,
                Some("CreatedTenant"),
            ),
        },
        Route {
            id: "ops-tenants-get",
            method: Method::GET,
            path: "/v1/ops/tenants/{id}",
            access: Operator,
            target: NoAccount,
            handler: || get(ops::get_tenant),
            doc: doc("Read a tenant", None, 200, Some("Tenant")),
        },
        Route {
            id: "ops-tenants-update",
            method: Method::PATCH,
            path: "/v1/ops/tenants/{id}",
            access: Operator,
            target: NoAccount,
            handler: || patch(ops::update_tenant),
            doc: doc(
                "Change a tenant's name or seat limit",
                Some("TenantChanges"),
                200,
                Some("Tenant"),
            ),
        },
        Route {
            id: "auth-login",
            method: Method::POST,
            path: "/v1/auth/login",
            access: Public,
            target: NoAccount,
            handler: || post(session::login),
            doc: doc(
                "Log in with tenant slug, e-mail or login id, and password",
                Some("LoginRequest"),
                200,
                Some("Session"),
            ),
        },
        Route {
            id: "auth-logout",
            method: Method::POST,
            path: "/v1/auth/logout",
            access: SelfService,
            target: NoAccount,
            handler: || post(session::logout),
            doc: doc("Revoke the current session", None, 204, None),
        },
        Route {
            id: "auth-password-reset",
            method: Method::POST,
            path: "/v1/auth/password-reset",
            access: Public,
            target: NoAccount,
            handler: || post(session::password_reset),
            doc: doc(
                "Mail a password-reset link (same answer whether or not the account exists)",
                Some("ResetRequest"),
                202,
                Some("Empty"),
            ),
        },
        Route {
            id: "auth-set-password",
            method: Method::POST,
            path: "/v1/auth/set-password",
            access: Public,
            target: NoAccount,
            handler: || post(session::set_password),
            doc: doc(
                "Set a password with an invitation or reset token",
                Some("SetPassword"),
                204,
                None,
            ),
        },
        Route {
            id: "me-get",
            method: Method::GET,
            path: "/v1/me",
            access: SelfService,
            target: NoAccount,
            handler: || get(me::get),
            doc: doc(
                "The signed-in user with effective grants",
                None,
                200,
                Some("Me"),
            ),
        },
        Route {
            id: "me-password",
            method: Method::POST,
            path: "/v1/me/password",
            access: SelfService,
            target: NoAccount,
            handler: || post(me::change_password),
            doc: doc(
                "Change one's own password",
                Some("ChangePassword"),
                204,
                None,
            ),
        },
        Route {
            id: "tenant-get",
            method: Method::GET,
            path: "/v1/tenant",
            access: AnyUser,
            target: NoAccount,
            handler: || get(tenant::get),
            doc: doc("The caller's tenant", None, 200, Some("Tenant")),
        },
        Route {
            id: "users-create",
            method: Method::POST,
            path: "/v1/users",
            access: SETTINGS_EDIT,
            target: NewUsers,
            handler: || post(users::create),
            doc: doc(
                "Register a user (invitation link or generated password)",
                Some("NewUser"),
                201,
                Some("CreatedUser"),
            ),
        },
        Route {
            id: "users-list",
            method: Method::GET,
            path: "/v1/users",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(users::list),
            doc: Doc {
                query: &["limit", "cursor", "q", "status"],
                ..doc(
                    "List users, optionally searching name, e-mail and login id by prefix, or by status",
                    None,
                    200,
                    Some("UserPage"),
                )
            },
        },
        Route {
            id: "users-get",
            method: Method::GET,
            path: "/v1/users/{id}",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(users::get),
            doc: doc("Read a user", None, 200, Some("User")),
        },
        Route {
            id: "users-update",
            method: Method::PATCH,
            path: "/v1/users/{id}",
            access: SETTINGS_EDIT,
            target: PathUser,
            handler: || patch(users::update),
            doc: doc(
                "Change a user's name, e-mail or login id",
                Some("UserChanges"),
                200,
                Some("User"),
            ),
        },
        Route {
            id: "users-credentials",
            method: Method::POST,
            path: "/v1/users/{id}/credentials",
            access: SETTINGS_EDIT,
            target: PathUser,
            handler: || post(users::credentials),
            doc: doc(
                "Re-issue an invitation link (202) or a generated password (200)",
                Some("Credentials"),
                200,
                Some("Reissued"),
            ),
        },
        Route {
            id: "users-import",
            method: Method::POST,
            path: "/v1/users/import",
            access: SETTINGS_EDIT,
            target: NewUsers,
            handler: || post(users::import),
            doc: Doc {
                query: &["delivery"],
                ..doc(
                    "Register users from a CSV file (UTF-8 or Shift_JIS), up to 1 MiB",
                    Some("CsvFile"),
                    200,
                    Some("UserImportReport"),
                )
            },
        },
        Route {
            id: "users-delete",
            method: Method::DELETE,
            path: "/v1/users/{id}",
            access: SETTINGS_EDIT,
            target: PathUser,
            handler: || delete(users::delete),
            doc: doc(
                "Delete a user immediately and for good (not yourself, not the last org admin)",
                None,
                204,
                None,
            ),
        },
        Route {
            id: "users-bulk-delete",
            method: Method::POST,
            path: "/v1/users/bulk-delete",
            access: SETTINGS_EDIT,
            target: BodyUserIds,
            handler: || post(users::bulk_delete),
            doc: doc(
                "Delete up to 1000 users, reporting each failure",
                Some("Ids"),
                200,
                Some("BulkDeleted"),
            ),
        },
        Route {
            id: "users-disable",
            method: Method::POST,
            path: "/v1/users/{id}/disable",
            access: SETTINGS_EDIT,
            target: PathUser,
            handler: || post(users::disable),
            doc: doc(
                "Disable a user: no login, no seat; sessions and links end; data, groups and role stay (not yourself)",
                None,
                200,
                Some("User"),
            ),
        },
        Route {
            id: "users-enable",
            method: Method::POST,
            path: "/v1/users/{id}/enable",
            access: SETTINGS_EDIT,
            target: PathUser,
            handler: || post(users::enable),
            doc: doc(
                "Enable a disabled user again, taking a seat (409 seat_limit_reached when none is free)",
                None,
                200,
                Some("User"),
            ),
        },
        Route {
            id: "groups-create",
            method: Method::POST,
            path: "/v1/groups",
            access: SETTINGS_EDIT,
            target: Members,
            handler: || post(groups::create),
            doc: doc(
                "Create a group, optionally with members",
                Some("NewGroup"),
                201,
                Some("Group"),
            ),
        },
        Route {
            id: "groups-bulk-create",
            method: Method::POST,
            path: "/v1/groups/bulk",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || post(groups::bulk_create),
            doc: doc(
                "Create up to 1000 groups by name",
                Some("GroupNames"),
                200,
                Some("GroupsCreated"),
            ),
        },
        Route {
            id: "groups-import",
            method: Method::POST,
            path: "/v1/groups/import",
            access: SETTINGS_EDIT,
            target: Members,
            handler: || post(groups::import),
            doc: doc(
                "Create groups and add members from a CSV file (group_name,members)",
                Some("CsvFile"),
                200,
                Some("GroupImportReport"),
            ),
        },
        Route {
            id: "groups-list",
            method: Method::GET,
            path: "/v1/groups",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(groups::list),
            doc: Doc {
                query: &["limit", "cursor", "q"],
                ..doc(
                    "List groups, optionally by name prefix",
                    None,
                    200,
                    Some("GroupPage"),
                )
            },
        },
        Route {
            id: "groups-get",
            method: Method::GET,
            path: "/v1/groups/{id}",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(groups::get),
            doc: doc("Read a group", None, 200, Some("Group")),
        },
        Route {
            id: "groups-rename",
            method: Method::PATCH,
            path: "/v1/groups/{id}",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || patch(groups::rename),
            doc: doc("Rename a group", Some("GroupRename"), 200, Some("Group")),
        },
        Route {
            id: "groups-delete",
            method: Method::DELETE,
            path: "/v1/groups/{id}",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || delete(groups::delete),
            doc: doc("Delete a group (its members stay)", None, 204, None),
        },
        Route {
            id: "groups-bulk-delete",
            method: Method::POST,
            path: "/v1/groups/bulk-delete",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || post(groups::bulk_delete),
            doc: doc(
                "Delete up to 1000 groups, reporting each failure",
                Some("Ids"),
                200,
                Some("BulkDeleted"),
            ),
        },
        Route {
            id: "groups-members-list",
            method: Method::GET,
            path: "/v1/groups/{id}/members",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(groups::members),
            doc: Doc {
                query: &["limit", "cursor"],
                ..doc("A page of a group's members", None, 200, Some("UserPage"))
            },
        },
        Route {
            id: "groups-members-add",
            method: Method::POST,
            path: "/v1/groups/{id}/members",
            access: SETTINGS_EDIT,
            target: Members,
            handler: || post(groups::add_members),
            doc: doc(
                "Add up to 1000 users to a group",
                Some("UserIds"),
                200,
                Some("MembersAdded"),
            ),
        },
        Route {
            id: "groups-members-remove",
            method: Method::POST,
            path: "/v1/groups/{id}/members/remove",
            access: SETTINGS_EDIT,
            target: Members,
            handler: || post(groups::remove_members),
            doc: doc(
                "Remove up to 1000 users from a group",
                Some("UserIds"),
                200,
                Some("MembersRemoved"),
            ),
        },
        Route {
            id: "groups-member-delete",
            method: Method::DELETE,
            path: "/v1/groups/{id}/members/{user_id}",
            access: SETTINGS_EDIT,
            target: Members,
            handler: || delete(groups::remove_member),
            doc: doc("Remove one user from a group", None, 204, None),
        },
        Route {
            id: "roles-list",
            method: Method::GET,
            path: "/v1/roles",
            access: AnyUser,
            target: NoAccount,
            handler: || get(roles::list),
            doc: doc(
                "The tenant's roles, built-in and custom",
                None,
                200,
                Some("RoleList"),
            ),
        },
        Route {
            id: "roles-create",
            method: Method::POST,
            path: "/v1/roles",
            access: OrgAdmin,
            target: NoAccount,
            handler: || post(roles::create),
            doc: doc("Create a custom role", Some("NewRole"), 201, Some("Role")),
        },
        Route {
            id: "roles-update",
            method: Method::PATCH,
            path: "/v1/roles/{id}",
            access: OrgAdmin,
            target: NoAccount,
            handler: || patch(roles::update),
            doc: doc(
                "Rename a custom role or change its grants",
                Some("RoleChanges"),
                200,
                Some("Role"),
            ),
        },
        Route {
            id: "roles-delete",
            method: Method::DELETE,
            path: "/v1/roles/{id}",
            access: OrgAdmin,
            target: NoAccount,
            handler: || delete(roles::delete),
            doc: doc("Delete a custom role nobody holds", None, 204, None),
        },
        Route {
            id: "permissions",
            method: Method::GET,
            path: "/v1/permissions",
            access: AnyUser,
            target: NoAccount,
            handler: || get(roles::permissions),
            doc: doc(
                "The permission catalogue, generated from the route table",
                None,
                200,
                Some("PermissionList"),
            ),
        },
        Route {
            id: "tenant-default-role",
            method: Method::PUT,
            path: "/v1/tenant/default-role",
            access: OrgAdmin,
            target: DefaultRole,
            handler: || put(roles::set_default),
            doc: doc(
                "Set the role new users get when none is named",
                Some("RoleId"),
                200,
                Some("Tenant"),
            ),
        },
        Route {
            id: "users-role",
            method: Method::PUT,
            path: "/v1/users/{id}/role",
            access: SETTINGS_EDIT,
            target: PathUser,
            handler: || put(roles::assign),
            doc: doc(
                "Give a user another role (within your own grants unless you are an org admin)",
                Some("RoleId"),
                200,
                Some("User"),
            ),
        },
        Route {
            id: "users-org-admin-grant",
            method: Method::PUT,
            path: "/v1/users/{id}/org-admin",
            access: OrgAdmin,
            target: PathUser,
            handler: || put(roles::grant_org_admin),
            doc: doc("Make a user an organisation admin", None, 200, Some("User")),
        },
        Route {
            id: "users-org-admin-revoke",
            method: Method::DELETE,
            path: "/v1/users/{id}/org-admin",
            access: OrgAdmin,
            target: PathUser,
            handler: || delete(roles::revoke_org_admin),
            doc: doc(
                "Take the organisation-admin flag away (never from the last one)",
                None,
                200,
                Some("User"),
            ),
        },
        Route {
            id: "scim-tokens-create",
            method: Method::POST,
            path: "/v1/scim-tokens",
            access: OrgAdmin,
            target: NoAccount,
            handler: || post(scim_tokens::create),
            doc: doc(
                "Create a named SCIM bearer token for an identity provider (shown once)",
                Some("NewScimToken"),
                201,
                Some("CreatedScimToken"),
            ),
        },
        Route {
            id: "scim-tokens-list",
            method: Method::GET,
            path: "/v1/scim-tokens",
            access: OrgAdmin,
            target: NoAccount,
            handler: || get(scim_tokens::list),
            doc: doc(
                "The tenant's SCIM tokens: name, creation and last use (never the secret)",
                None,
                200,
                Some("ScimTokenList"),
            ),
        },
        Route {
            id: "scim-tokens-revoke",
            method: Method::DELETE,
            path: "/v1/scim-tokens/{id}",
            access: OrgAdmin,
            target: NoAccount,
            handler: || delete(scim_tokens::revoke),
            doc: doc("Revoke a SCIM token at once", None, 204, None),
        },
        Route {
            id: "scim-service-provider-config",
            method: Method::GET,
            path: "/scim/v2/ServiceProviderConfig",
            access: Scim,
            target: NoAccount,
            handler: || get(scim::service_provider_config),
            doc: doc(
                "SCIM: what this service provider supports",
                None,
                200,
                Some("ScimServiceProviderConfig"),
            ),
        },
        Route {
            id: "scim-resource-types",
            method: Method::GET,
            path: "/scim/v2/ResourceTypes",
            access: Scim,
            target: NoAccount,
            handler: || get(scim::resource_types_list),
            doc: doc(
                "SCIM: the resource types",
                None,
                200,
                Some("ScimListResponse"),
            ),
        },
        Route {
            id: "scim-resource-type",
            method: Method::GET,
            path: "/scim/v2/ResourceTypes/{id}",
            access: Scim,
            target: NoAccount,
            handler: || get(scim::resource_type_get),
            doc: doc("SCIM: one resource type", None, 200, Some("ScimResource")),
        },
        Route {
            id: "scim-schemas",
            method: Method::GET,
            path: "/scim/v2/Schemas",
            access: Scim,
            target: NoAccount,
            handler: || get(scim::schemas_list),
            doc: doc("SCIM: the schemas", None, 200, Some("ScimListResponse")),
        },
        Route {
            id: "scim-schema",
            method: Method::GET,
            path: "/scim/v2/Schemas/{id}",
            access: Scim,
            target: NoAccount,
            handler: || get(scim::schema_get),
            doc: doc("SCIM: one schema", None, 200, Some("ScimResource")),
        },
        Route {
            id: "scim-users-list",
            method: Method::GET,
            path: "/scim/v2/Users",
            access: Scim,
            target: NoAccount,
            handler: || get(scim::users::list),
            doc: Doc {
                query: &[
                    "filter",
                    "startIndex",
                    "count",
                    "attributes",
                    "excludedAttributes",
                ],
                ..doc(
                    "SCIM: list users (filter, startIndex, count, attributes, excludedAttributes)",
                    None,
                    200,
                    Some("ScimListResponse"),
                )
            },
        },
        Route {
            id: "scim-users-create",
            method: Method::POST,
            path: "/scim/v2/Users",
            access: Scim,
            target: NoAccount,
            handler: || post(scim::users::create),
            doc: doc(
                "SCIM: create a user (default role, an invitation link when it has an address)",
                Some("ScimUser"),
                201,
                Some("ScimUser"),
            ),
        },
        Route {
            id: "scim-users-get",
            method: Method::GET,
            path: "/scim/v2/Users/{id}",
            access: Scim,
            target: NoAccount,
            handler: || get(scim::users::get),
            doc: Doc {
                query: &["attributes", "excludedAttributes"],
                ..doc("SCIM: read a user", None, 200, Some("ScimUser"))
            },
        },
        Route {
            id: "scim-users-replace",
            method: Method::PUT,
            path: "/scim/v2/Users/{id}",
            access: Scim,
            target: NoAccount,
            handler: || put(scim::users::replace),
            doc: doc(
                "SCIM: replace a user (active false disables, true enables and takes a seat)",
                Some("ScimUser"),
                200,
                Some("ScimUser"),
            ),
        },
        Route {
            id: "scim-users-patch",
            method: Method::PATCH,
            path: "/scim/v2/Users/{id}",
            access: Scim,
            target: NoAccount,
            handler: || patch(scim::users::patch),
            doc: doc(
                "SCIM: change a user (PatchOp; answers 200 with the user)",
                Some("ScimPatchOp"),
                200,
                Some("ScimUser"),
            ),
        },
        Route {
            id: "scim-users-delete",
            method: Method::DELETE,
            path: "/scim/v2/Users/{id}",
            access: Scim,
            target: NoAccount,
            handler: || delete(scim::users::delete),
            doc: doc(
                "SCIM: delete a user immediately and for good",
                None,
                204,
                None,
            ),
        },
        Route {
            id: "scim-groups-list",
            method: Method::GET,
            path: "/scim/v2/Groups",
            access: Scim,
            target: NoAccount,
            handler: || get(scim::groups::list),
            doc: Doc {
                query: &[
                    "filter",
                    "startIndex",
                    "count",
                    "attributes",
                    "excludedAttributes",
                ],
                ..doc(
                    "SCIM: list groups (filter, startIndex, count, attributes, excludedAttributes=members)",
                    None,
                    200,
                    Some("ScimListResponse"),
                )
            },
        },
        Route {
            id: "scim-groups-create",
            method: Method::POST,
            path: "/scim/v2/Groups",
            access: Scim,
            target: NoAccount,
            handler: || post(scim::groups::create),
            doc: doc(
                "SCIM: create a group, with or without members",
                Some("ScimGroup"),
                201,
                Some("ScimGroup"),
            ),
        },
        Route {
            id: "scim-groups-get",
            method: Method::GET,
            path: "/scim/v2/Groups/{id}",
            access: Scim,
            target: NoAccount,
            handler: || get(scim::groups::get),
            doc: Doc {
                query: &["attributes", "excludedAttributes"],
                ..doc("SCIM: read a group", None, 200, Some("ScimGroup"))
            },
        },
        Route {
            id: "scim-groups-replace",
            method: Method::PUT,
            path: "/scim/v2/Groups/{id}",
            access: Scim,
            target: NoAccount,
            handler: || put(scim::groups::replace),
            doc: doc(
                "SCIM: replace a group's name and members",
                Some("ScimGroup"),
                200,
                Some("ScimGroup"),
            ),
        },
        Route {
            id: "scim-groups-patch",
            method: Method::PATCH,
            path: "/scim/v2/Groups/{id}",
            access: Scim,
            target: NoAccount,
            handler: || patch(scim::groups::patch),
            doc: doc(
                "SCIM: rename, add, remove or replace members (PatchOp; answers 200 with the group)",
                Some("ScimPatchOp"),
                200,
                Some("ScimGroup"),
            ),
        },
        Route {
            id: "scim-groups-delete",
            method: Method::DELETE,
            path: "/scim/v2/Groups/{id}",
            access: Scim,
            target: NoAccount,
            handler: || delete(scim::groups::delete),
            doc: doc("SCIM: delete a group (its users stay)", None, 204, None),
        },
        Route {
            id: "audit-log",
            method: Method::GET,
            path: "/v1/audit-log",
            access: AUDIT_LOG_VIEW,
            target: NoAccount,
            handler: || get(logs::audit),
            doc: Doc {
                query: &["limit", "cursor", "from", "to"],
                ..doc(
                    "The tenant's operation log, newest first, times in JST",
                    None,
                    200,
                    Some("AuditPage"),
                )
            },
        },
        Route {
            id: "mail-log",
            method: Method::GET,
            path: "/v1/mail-log",
            access: AUDIT_LOG_VIEW,
            target: NoAccount,
            handler: || get(logs::mail),
            doc: Doc {
                query: &["limit", "cursor", "from", "to"],
                ..doc(
                    "The mails sent for the tenant, newest first",
                    None,
                    200,
                    Some("MailPage"),
                )
            },
        },
        Route {
            id: "ops-tenants-audit-log",
            method: Method::GET,
            path: "/v1/ops/tenants/{id}/audit-log",
            access: Operator,
            target: NoAccount,
            handler: || get(logs::ops_audit),
            doc: Doc {
                query: &["limit", "cursor", "from", "to"],
                ..doc(
                    "A tenant's operation log, kept after the purge",
                    None,
                    200,
                    Some("AuditPage"),
                )
            },
        },
        Route {
            id: "questionnaires-create",
            method: Method::POST,
            path: "/v1/questionnaires",
            access: SUPPLY_CHAIN_EDIT,
            target: NoAccount,
            handler: || post(questionnaires::create),
            doc: doc(
                "Create a supply-chain questionnaire",
                Some("NewQuestionnaire"),
                201,
                Some("Questionnaire"),
            ),
        },
        Route {
            id: "questionnaires-respond",
            method: Method::POST,
            path: "/v1/questionnaires/{id}/responses",
            access: SUPPLY_CHAIN_EDIT,
            target: NoAccount,
            handler: || post(questionnaires::respond),
            doc: doc(
                "Record a respondent's answers",
                Some("NewResponse"),
                201,
                Some("QuestionnaireResponse"),
            ),
        },
        Route {
            id: "questionnaires-get",
            method: Method::GET,
            path: "/v1/questionnaires/{id}",
            access: SUPPLY_CHAIN_VIEW,
            target: NoAccount,
            handler: || get(questionnaires::get),
            doc: doc(
                "A questionnaire with its responses",
                None,
                200,
                Some("Questionnaire"),
            ),
        },
        Route {
            id: "ops-tenants-terminate",
            method: Method::POST,
            path: "/v1/ops/tenants/{id}/terminate",
            access: Operator,
            target: NoAccount,
            handler: || post(ops::terminate),
            doc: doc(
                "End a tenant's contract on a date; its data is erased 90 days later",
                Some("Terminate"),
                200,
                Some("Tenant"),
            ),
        },
        Route {
            id: "ops-tenants-questionnaires",
            method: Method::GET,
            path: "/v1/ops/tenants/{id}/questionnaires",
            access: Operator,
            target: NoAccount,
            handler: || get(ops::questionnaires),
            doc: doc(
                "A tenant's questionnaires; after the purge without respondents",
                None,
                200,
                Some("QuestionnaireList"),
            ),
        },
        Route {
            id: "ops-jobs-backup",
            method: Method::POST,
            path: "/v1/ops/jobs/backup",
            access: Operator,
            target: NoAccount,
            handler: || post(ops::backup),
            doc: doc(
                "Take a backup generation; exactly the 7 newest remain",
                Some("Job"),
                200,
                Some("BackupReport"),
            ),
        },
        Route {
            id: "ops-backups-list",
            method: Method::GET,
            path: "/v1/ops/backups",
            access: Operator,
            target: NoAccount,
            handler: || get(ops::backups),
            doc: doc(
                "The backup generations, newest first",
                None,
                200,
                Some("BackupList"),
            ),
        },
        Route {
            id: "ops-jobs-purge",
            method: Method::POST,
            path: "/v1/ops/jobs/purge",
            access: Operator,
            target: NoAccount,
            handler: || post(ops::purge),
            doc: doc(
                "Erase tenants whose contract ended 90 or more days before as_of",
                Some("Job"),
                200,
                Some("PurgeReport"),
            ),
        },
        Route {
            id: "me-subscriptions-get",
            method: Method::GET,
            path: "/v1/me/subscriptions",
            access: AnyUser,
            target: NoAccount,
            handler: || get(notices::subscriptions),
            doc: doc(
                "The caller's e-mail subscriptions to notices",
                None,
                200,
                Some("Subscriptions"),
            ),
        },
        Route {
            id: "me-subscriptions-put",
            method: Method::PUT,
            path: "/v1/me/subscriptions",
            access: AnyUser,
            target: NoAccount,
            handler: || put(notices::subscribe),
            doc: doc(
                "Subscribe to (or unsubscribe from) notice mails by kind; needs an e-mail address",
                Some("Subscriptions"),
                200,
                Some("Subscriptions"),
            ),
        },
        Route {
            id: "notices-list",
            method: Method::GET,
            path: "/v1/notices",
            access: AnyUser,
            target: NoAccount,
            handler: || get(notices::list),
            doc: Doc {
                query: &["kind", "limit", "cursor"],
                ..doc(
                    "Release notes and incident notices, newest first",
                    None,
                    200,
                    Some("NoticePage"),
                )
            },
        },
        Route {
            id: "ops-notices-create",
            method: Method::POST,
            path: "/v1/ops/notices",
            access: Operator,
            target: NoAccount,
            handler: || post(notices::publish),
            doc: doc(
                "Publish a notice and mail it to every subscriber of its kind in every active tenant",
                Some("NewNotice"),
                201,
                Some("OpsNotice"),
            ),
        },
        Route {
            id: "ops-notices-list",
            method: Method::GET,
            path: "/v1/ops/notices",
            access: Operator,
            target: NoAccount,
            handler: || get(notices::ops_list),
            doc: Doc {
                query: &["kind", "limit", "cursor"],
                ..doc(
                    "The notices with their mailing counts; incidents show whether the 72-hour promise held",
                    None,
                    200,
                    Some("OpsNoticePage"),
                )
            },
        },
        Route {
            id: "uploads-create",
            method: Method::POST,
            path: "/v1/uploads",
            access: AnyUser,
            target: NoAccount,
            handler: || post(uploads::create),
            doc: doc(
                "Issue a presigned URL for one file (materials need materials/edit, import files settings/edit)",
                Some("NewUpload"),
                201,
                Some("IssuedUpload"),
            ),
        },
        Route {
            id: "uploads-get",
            method: Method::GET,
            path: "/v1/uploads/{id}",
            access: AnyUser,
            target: NoAccount,
            handler: || get(uploads::get),
            doc: doc(
                "An upload, with a short-lived download URL once stored",
                None,
                200,
                Some("Upload"),
            ),
        },
        Route {
            id: "uploads-delete",
            method: Method::DELETE,
            path: "/v1/uploads/{id}",
            access: AnyUser,
            target: NoAccount,
            handler: || delete(uploads::delete),
            doc: doc("Delete an upload's file and record", None, 204, None),
        },
        Route {
            id: "imports-create",
            method: Method::POST,
            path: "/v1/imports",
            access: SETTINGS_EDIT,
            target: NewUsers,
            handler: || post(uploads::start_import),
            doc: doc(
                "Import an uploaded CSV of users or groups in the background",
                Some("NewImport"),
                202,
                Some("ImportId"),
            ),
        },
        Route {
            id: "imports-get",
            method: Method::GET,
            path: "/v1/imports/{id}",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(uploads::import_status),
            doc: doc(
                "A background import's progress and failed rows",
                None,
                200,
                Some("Import"),
            ),
        },
        Route {
            id: "imports-cancel",
            method: Method::POST,
            path: "/v1/imports/{id}/cancel",
            access: SETTINGS_EDIT,
            target: Target::NoAccount,
            handler: || post(uploads::cancel_import),
            doc: doc(
                "Cancel a queued or running import: its file is deleted at once, users created so far stay",
                None,
                200,
                Some("Import"),
            ),
        },
        Route {
            id: "ops-jobs-cleanup-uploads",
            method: Method::POST,
            path: "/v1/ops/jobs/cleanup-uploads",
            access: Operator,
            target: NoAccount,
            handler: || post(uploads::cleanup),
            doc: doc(
                "Delete uploads pending for 24 hours and import files whose import ended, as of as_of",
                Some("CleanupJob"),
                200,
                Some("CleanupReport"),
            ),
        },
        // ---- pages for people (HTML; see http::pages) ----
        Route {
            id: "page-login",
            method: Method::GET,
            path: "/login",
            access: Public,
            target: Target::NoAccount,
            handler: || get(pages::login),
            doc: page("Sign-in page", 200),
        },
        Route {
            id: "page-login-post",
            method: Method::POST,
            path: "/login",
            access: Public,
            target: Target::NoAccount,
            handler: || post(pages::login_post),
            doc: page("Sign in from the page (session cookie)", 303),
        },
        Route {
            id: "page-logout-post",
            method: Method::POST,
            path: "/logout",
            access: Public,
            target: Target::NoAccount,
            handler: || post(pages::logout_post),
            doc: page("Sign out from the page", 303),
        },
        Route {
            id: "page-account",
            method: Method::GET,
            path: "/account",
            access: Public,
            target: Target::NoAccount,
            handler: || get(pages::account),
            doc: page("The signed-in person's account page", 200),
        },
        Route {
            id: "page-account-password",
            method: Method::GET,
            path: "/account/password",
            access: Public,
            target: Target::NoAccount,
            handler: || get(pages::change_password),
            doc: page("Change-password page", 200),
        },
        Route {
            id: "page-account-password-post",
            method: Method::POST,
            path: "/account/password",
            access: Public,
            target: Target::NoAccount,
            handler: || post(pages::change_password_post),
            doc: page("Change the password from the page", 303),
        },
        Route {
            id: "page-account-subscriptions-post",
            method: Method::POST,
            path: "/account/subscriptions",
            access: Public,
            target: Target::NoAccount,
            handler: || post(pages::subscriptions_post),
            doc: page("Choose notice mails from the page", 303),
        },
        Route {
            id: "page-set-password",
            method: Method::GET,
            path: "/set-password",
            access: Public,
            target: Target::NoAccount,
            handler: || get(pages::set_password),
            doc: page(
                "The mailed invitation or reset link: shows it without using it",
                200,
            ),
        },
        Route {
            id: "page-set-password-post",
            method: Method::POST,
            path: "/set-password",
            access: Public,
            target: Target::NoAccount,
            handler: || post(pages::set_password_post),
            doc: page("Set the password with the link, then sign in", 303),
        },
        Route {
            id: "page-password-reset",
            method: Method::GET,
            path: "/password-reset",
            access: Public,
            target: Target::NoAccount,
            handler: || get(pages::password_reset),
            doc: page("Password reset request page", 200),
        },
        Route {
            id: "page-password-reset-post",
            method: Method::POST,
            path: "/password-reset",
            access: Public,
            target: Target::NoAccount,
            handler: || post(pages::password_reset_post),
            doc: page("Request a reset link from the page", 303),
        },
        // ---- the admin console (HTML; see http::console): the access and target of the API's routes ----
        Route {
            id: "page-admin-users",
            method: Method::GET,
            path: "/admin/users",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::users_list),
            doc: page(
                "The user list: search, group filter, paging, seats used",
                200,
            ),
        },
        Route {
            id: "page-admin-users-new",
            method: Method::GET,
            path: "/admin/users/new",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::user_new),
            doc: page("The form to register a user", 200),
        },
        Route {
            id: "page-admin-users-create",
            method: Method::POST,
            path: "/admin/users",
            access: SETTINGS_EDIT,
            target: NewUsers,
            handler: || post(console::user_create),
            doc: page(
                "Register a user: a mailed link (303) or a generated password shown once (201)",
                201,
            ),
        },
        Route {
            id: "page-admin-user",
            method: Method::GET,
            path: "/admin/users/{id}",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::user_show),
            doc: page("One user, with the role form and the delete button", 200),
        },
        Route {
            id: "page-admin-user-role-post",
            method: Method::POST,
            path: "/admin/users/{id}/role",
            access: SETTINGS_EDIT,
            target: PathUser,
            handler: || post(console::user_role),
            doc: page("Change a user's role from the page", 303),
        },
        Route {
            id: "page-admin-user-org-admin-post",
            method: Method::POST,
            path: "/admin/users/{id}/org-admin",
            access: OrgAdmin,
            target: PathUser,
            handler: || post(console::user_org_admin),
            doc: page(
                "Make a user an organisation admin (on=1) or take it away (on=0)",
                303,
            ),
        },
        Route {
            id: "page-admin-user-status-post",
            method: Method::POST,
            path: "/admin/users/{id}/status",
            access: SETTINGS_EDIT,
            target: PathUser,
            handler: || post(console::user_status),
            doc: page(
                "Disable a user (disable=1) or enable them again (disable=0)",
                303,
            ),
        },
        Route {
            id: "page-admin-user-credentials-post",
            method: Method::POST,
            path: "/admin/users/{id}/credentials",
            access: SETTINGS_EDIT,
            target: PathUser,
            handler: || post(console::user_credentials),
            doc: page(
                "Re-issue the first password (shown once, 200) or invitation link (303)",
                200,
            ),
        },
        Route {
            id: "page-admin-users-delete",
            method: Method::GET,
            path: "/admin/users/delete",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::users_delete_confirm),
            doc: page(
                "Confirm deleting the chosen users: it cannot be undone",
                200,
            ),
        },
        Route {
            id: "page-admin-users-delete-post",
            method: Method::POST,
            path: "/admin/users/delete",
            access: SETTINGS_EDIT,
            target: BodyUserIds,
            handler: || post(console::users_delete),
            doc: page("Delete the chosen users", 303),
        },
        Route {
            id: "page-admin-users-export",
            method: Method::GET,
            path: "/admin/users/export",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::users_export),
            doc: page(
                "The users of the list as a CSV file for Excel (UTF-8 with BOM, or encoding=cp932)",
                200,
            ),
        },
        Route {
            id: "page-admin-audit-log",
            method: Method::GET,
            path: "/admin/audit-log",
            access: AUDIT_LOG_VIEW,
            target: NoAccount,
            handler: || get(console::audit_log),
            doc: page("The operation log in JST, filtered by days", 200),
        },
        Route {
            id: "page-admin-mail-log",
            method: Method::GET,
            path: "/admin/mail-log",
            access: AUDIT_LOG_VIEW,
            target: NoAccount,
            handler: || get(console::mail_log),
            doc: page("The mail-send log in JST, filtered by days", 200),
        },
        Route {
            id: "page-admin-groups",
            method: Method::GET,
            path: "/admin/groups",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::groups_list),
            doc: page("The group list: search by name, paging, member counts", 200),
        },
        Route {
            id: "page-admin-groups-new",
            method: Method::GET,
            path: "/admin/groups/new",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::group_new),
            doc: page("The form to create a group", 200),
        },
        Route {
            id: "page-admin-groups-create",
            method: Method::POST,
            path: "/admin/groups",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || post(console::group_create),
            doc: page("Create a group, then its page (303)", 303),
        },
        Route {
            id: "page-admin-groups-bulk",
            method: Method::GET,
            path: "/admin/groups/bulk",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::groups_bulk),
            doc: page(
                "The form to create several groups by typed names, one a line",
                200,
            ),
        },
        Route {
            id: "page-admin-groups-bulk-post",
            method: Method::POST,
            path: "/admin/groups/bulk",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || post(console::groups_bulk_create),
            doc: page(
                "Create the typed groups: the list (303), or the names not created and why",
                303,
            ),
        },
        Route {
            id: "page-admin-groups-import",
            method: Method::GET,
            path: "/admin/groups/import",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::groups_import),
            doc: page(
                "The form to create groups from a CSV file (group_name,members)",
                200,
            ),
        },
        Route {
            id: "page-admin-groups-import-post",
            method: Method::POST,
            path: "/admin/groups/import",
            access: SETTINGS_EDIT,
            target: Members,
            handler: || post(console::groups_import_post),
            doc: page(
                "Create groups and add members from the uploaded CSV file: the per-row report",
                200,
            ),
        },
        Route {
            id: "page-admin-group",
            method: Method::GET,
            path: "/admin/groups/{id}",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::group_show),
            doc: page(
                "One group: rename, its members, users to add, the delete button",
                200,
            ),
        },
        Route {
            id: "page-admin-group-rename-post",
            method: Method::POST,
            path: "/admin/groups/{id}/name",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || post(console::group_rename),
            doc: page("Rename a group from its page", 303),
        },
        Route {
            id: "page-admin-group-members-add-post",
            method: Method::POST,
            path: "/admin/groups/{id}/members",
            access: SETTINGS_EDIT,
            target: Members,
            handler: || post(console::group_members_add),
            doc: page("Add the ticked users to the group", 303),
        },
        Route {
            id: "page-admin-group-members-remove-post",
            method: Method::POST,
            path: "/admin/groups/{id}/members/remove",
            access: SETTINGS_EDIT,
            target: Members,
            handler: || post(console::group_members_remove),
            doc: page("Remove the ticked users from the group", 303),
        },
        Route {
            id: "page-admin-groups-delete",
            method: Method::GET,
            path: "/admin/groups/delete",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || get(console::groups_delete_confirm),
            doc: page(
                "Confirm deleting the chosen groups: it cannot be undone",
                200,
            ),
        },
        Route {
            id: "page-admin-groups-delete-post",
            method: Method::POST,
            path: "/admin/groups/delete",
            access: SETTINGS_EDIT,
            target: NoAccount,
            handler: || post(console::groups_delete),
            doc: page("Delete the chosen groups (their members stay)", 303),
        },
    ]
}
