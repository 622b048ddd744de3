//! What a session route will read by key, known from its path before the session is checked: read in the
//! session check's BatchGetItem (`principal::authenticate_with`) and served to the handler from there
//! (`ports::prefetch`).

use crate::app::layout;
use crate::app::notices::Kind;
use crate::domain::ids::{
    GroupId, ImportId, PathParam, QuestionnaireId, RoleId, ScimTokenId, UploadId, UserId,
};

/// What a route will read by key, as far as its request tells before the session check.
#[derive(Debug, Default)]
pub struct Reads {
    /// Sort keys in the caller's tenant partition.
    sort_keys: Vec<String>,
    /// The caller's notice subscriptions (`notices::subscriptions`).
    subscriptions: bool,
}

/// Most ids of a query string read with the session (the session check stays one BatchGetItem of at
/// most 100 keys: the session, the caller, the tenant item and these); further ones are read by the page.
const QUERY_IDS: usize = 90;

impl Reads {
    /// The reads of a route of path template `path` (as in the route table), given its path parameters and
    /// query string as the request has them: the item each `{id}` names, by the segment before it
    /// (`users/{id}`; `groups/{id}/members/{user_id}`, the group and the membership…); the tenant's SSO
    /// configuration on the routes that show or change it; the users or groups a console's delete
    /// confirmation names (`?id=…`); the caller's subscriptions where they are shown. An id the handler
    /// would refuse (a 404 without a read) names nothing here.
    pub fn of<'a>(
        path: &str,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        query: Option<&str>,
    ) -> Reads {
        let params: Vec<(&str, &str)> = params.into_iter().collect();
        let value = |name: &str| params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let mut sort_keys = Vec::new();
        let mut before = "";
        let mut group = None;
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
                && let Some(v) = value(name)
            {
                // `groups/{id}/members/{user_id}` names the membership item.
                let sk = match (before, &group) {
                    ("members", Some(g)) => UserId::parse(v).map(|u| layout::member_sk(g, &u)),
                    _ => item_of(before, v),
                };
                if before == "groups" {
                    group = GroupId::parse(v);
                }
                sort_keys.extend(sk);
            }
            before = segment;
        }
        if path == "/v1/tenant/sso" || path == "/admin/sso" || path.starts_with("/admin/sso/") {
            sort_keys.push(layout::SSO_SK.to_owned());
        }
        let kind = match path {
            "/admin/users/delete" => "users",
            "/admin/groups/delete" => "groups",
            _ => "",
        };
        if !kind.is_empty() {
            let ids = form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .filter(|(k, _)| k == "id")
                .filter_map(|(_, v)| item_of(kind, &v))
                .take(QUERY_IDS);
            sort_keys.extend(ids);
        }
        Reads {
            sort_keys,
            subscriptions: matches!(path, "/v1/me/subscriptions" | "/notices"),
        }
    }

    /// The sort keys to read for `caller`.
    pub fn sort_keys(&self, caller: &UserId) -> Vec<String> {
        let mut out = self.sort_keys.clone();
        if self.subscriptions {
            out.extend(
                Kind::ALL
                    .iter()
                    .map(|k| layout::subscription_sk(k.as_str(), caller)),
            );
        }
        out
    }
}

/// The sort key of the item `id` names after the path segment `kind`.
fn item_of(kind: &str, id: &str) -> Option<String> {
    fn parse<T: PathParam>(id: &str) -> Option<T> {
        T::from_path(id)
    }
    Some(match kind {
        "users" => layout::user_sk(&parse::<UserId>(id)?),
        "groups" => layout::group_sk(&parse::<GroupId>(id)?),
        // A built-in role has no item.
        "roles" => {
            let role = parse::<RoleId>(id)?;
            if role.builtin().is_some() {
                return None;
            }
            layout::role_sk(role.as_str())
        }
        "uploads" => layout::upload_sk(parse::<UploadId>(id)?.as_str()),
        "imports" => layout::import_sk(parse::<ImportId>(id)?.as_str()),
        "questionnaires" => layout::questionnaire_sk(parse::<QuestionnaireId>(id)?.as_str()),
        "scim-tokens" => layout::scim_token_sk(parse::<ScimTokenId>(id)?.as_str()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01m8ybex351a8vfgqew0qaj8yx";

    fn sort_keys<'a>(
        path: &str,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<String> {
        Reads::of(path, params, None).sort_keys(&UserId::parse(ID).expect("an id"))
    }

    #[test]
    fn the_path_names_its_items_and_nothing_else() {
        let uid = UserId::parse(ID).expect("an id");
        let gid = GroupId::parse(ID).expect("an id");
        assert_eq!(
            sort_keys("/v1/users/{id}", [("id", ID)]),
            vec![layout::user_sk(&uid)]
        );
        assert_eq!(
            sort_keys(
                "/v1/groups/{id}/members/{user_id}",
                [("id", ID), ("user_id", ID)]
            ),
            vec![layout::group_sk(&gid), layout::member_sk(&gid, &uid)]
        );
        assert_eq!(
            sort_keys("/admin/sso/delete", []),
            vec![layout::SSO_SK.to_owned()]
        );
        // Not an id, a built-in role, another tenant's id in the operator's paths: nothing.
        assert!(sort_keys("/v1/users/{id}", [("id", "../META")]).is_empty());
        assert!(sort_keys("/v1/roles/{id}", [("id", "admin")]).is_empty());
        assert!(sort_keys("/v1/ops/tenants/{id}", [("id", ID)]).is_empty());
        assert!(sort_keys("/v1/users", []).is_empty());
        // The ids of a delete confirmation's query; the caller's subscriptions.
        let query = format!("id={ID}&id=nope&other={ID}");
        let uid = UserId::parse(ID).expect("an id");
        assert_eq!(
            Reads::of("/admin/users/delete", [], Some(&query)).sort_keys(&uid),
            vec![layout::user_sk(&uid)]
        );
        assert_eq!(
            Reads::of("/admin/groups/delete", [], Some(&query)).sort_keys(&uid),
            vec![layout::group_sk(&gid)]
        );
        assert!(
            Reads::of("/admin/users", [], Some(&query))
                .sort_keys(&uid)
                .is_empty()
        );
        assert_eq!(
            Reads::of("/v1/me/subscriptions", [], None).sort_keys(&uid),
            vec![
                layout::subscription_sk("release", &uid),
                layout::subscription_sk("incident", &uid)
            ]
        );
    }
}
