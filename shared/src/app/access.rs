//! The target rule: an access check asks both what the caller may do (the route's feature, checked by the
//! HTTP layer from the route table) and to whom. An organisation admin may act on anyone and hand out any
//! role. Anyone else may act only on accounts that are not org admins and whose role's grants lie within
//! the caller's own, and may only hand out roles (at creation, in a CSV row, by a role change, as the
//! tenant default) whose grants lie within the caller's own. Without it a user who may edit settings could
//! take over an org admin's account by re-issuing its password or changing its e-mail address.
//!
//! The use cases that name an account take an [`Authority`] and check it against the record they loaded,
//! so the check applies to the very version of the account that their conditional write replaces.

use crate::app::audit::Actor;
use crate::app::records::role;
use crate::app::records::user;
use crate::app::records::user::UserRecord;
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::UserId;
use crate::domain::permissions::{Feature, Grants, Level, allows, within};

/// Whoever acts on an account, as the target rule sees them: who (for the audit entry) and with what
/// rights (their role's grants and the org-admin flag).
#[derive(Clone, Debug)]
pub struct Authority {
    pub actor: Actor,
    pub grants: Grants,
    pub org_admin: bool,
}

/// The rule itself: may a caller with these grants and flag act on an account with those?
pub fn may_act_on(
    caller_grants: &Grants,
    caller_org_admin: bool,
    target_grants: &Grants,
    target_org_admin: bool,
) -> bool {
    caller_org_admin || (!target_org_admin && within(target_grants, caller_grants))
}

/// May a caller with these grants and flag give a role with those grants?
pub fn may_give(caller_grants: &Grants, caller_org_admin: bool, role_grants: &Grants) -> bool {
    caller_org_admin || within(role_grants, caller_grants)
}

impl Authority {
    /// The target rule for an account already loaded: its role's grants are read (a custom role is one
    /// item; an org-admin caller reads nothing). `TargetOutranksCaller` when the rule refuses.
    pub async fn check_target(
        &self,
        svc: &Services,
        scope: &Scope,
        target: &UserRecord,
    ) -> Result<(), AppError> {
        if self.org_admin {
            return Ok(());
        }
        // A role that no longer exists grants nothing.
        let grants = role::grants_of(svc, scope, &target.role_id)
            .await?
            .unwrap_or_default();
        if may_act_on(&self.grants, self.org_admin, &grants, target.org_admin) {
            Ok(())
        } else {
            Err(AppError::TargetOutranksCaller)
        }
    }

    /// The role rule for a role's grants: `RoleOutranksCaller` when they go beyond the caller's.
    pub fn check_role(&self, role_grants: &Grants) -> Result<(), AppError> {
        if may_give(&self.grants, self.org_admin, role_grants) {
            Ok(())
        } else {
            Err(AppError::RoleOutranksCaller)
        }
    }

    /// Organisation-admin-only operations check the flag here too, not only in the route table.
    pub fn require_org_admin(&self) -> Result<(), AppError> {
        if self.org_admin {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "only an organisation admin may do this".into(),
            ))
        }
    }

    /// The current authority of a user, read afresh: for work done later on their behalf (a background
    /// import), which must use what the user may do when it runs, not what they could when they asked.
    /// `None` when the user no longer exists or may no longer edit settings.
    pub async fn of_user(
        svc: &Services,
        scope: &Scope,
        id: &UserId,
    ) -> Result<Option<Authority>, AppError> {
        let user = match user::load(svc, scope, id).await {
            Ok(u) => u,
            Err(AppError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let grants = role::grants_of(svc, scope, &user.role_id)
            .await?
            .unwrap_or_default();
        if !allows(&grants, user.org_admin, Feature::Settings, Level::Edit) {
            return Ok(None);
        }
        Ok(Some(Authority {
            actor: Actor::User {
                id: user.id.to_string(),
                name: user.name,
            },
            grants,
            org_admin: user.org_admin,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::permissions::builtin;

    fn g(pairs: &[(Feature, Level)]) -> Grants {
        pairs.iter().copied().collect()
    }

    #[test]
    fn an_org_admin_acts_on_anyone_and_gives_any_role() {
        let admin = (builtin("admin").map(|r| (r.grants)())).unwrap_or_default();
        assert!(may_act_on(&Grants::new(), true, &admin, true));
        assert!(may_give(&Grants::new(), true, &admin));
    }

    #[test]
    fn anyone_else_acts_only_on_accounts_within_their_grants_that_are_not_org_admins() {
        let settings = g(&[(Feature::Settings, Level::Edit)]);
        let view = g(&[(Feature::Settings, Level::View)]);
        let more = g(&[
            (Feature::Settings, Level::Edit),
            (Feature::AuditLog, Level::View),
        ]);
        assert!(may_act_on(&settings, false, &settings, false), "a peer");
        assert!(may_act_on(&settings, false, &view, false), "a lesser role");
        assert!(may_act_on(&settings, false, &Grants::new(), false));
        assert!(!may_act_on(&settings, false, &more, false), "more grants");
        assert!(
            !may_act_on(&settings, false, &Grants::new(), true),
            "an org admin, whatever their role"
        );
        assert!(!may_act_on(&view, false, &settings, false), "view < edit");
    }

    #[test]
    fn a_role_may_be_given_only_within_ones_own_grants() {
        let settings = g(&[(Feature::Settings, Level::Edit)]);
        assert!(may_give(&settings, false, &settings));
        assert!(may_give(&settings, false, &Grants::new()));
        let admin = (builtin("admin").map(|r| (r.grants)())).unwrap_or_default();
        assert!(!may_give(&settings, false, &admin));
    }
}
