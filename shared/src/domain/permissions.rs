//! The permission catalogue: features and levels as one table. Routes name the feature and level they need
//! (`http::routes`), `GET /v1/permissions` is generated from the same table, and the check is a pure function.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    View,
    Edit,
}

impl Level {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "view" => Some(Level::View),
            "edit" => Some(Level::Edit),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Level::View => "view",
            Level::Edit => "edit",
        }
    }
}

macro_rules! features {
    ($($variant:ident => $name:literal, $desc:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Feature { $($variant),* }

        impl Feature {
            pub const ALL: &'static [Feature] = &[$(Feature::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $(Feature::$variant => $name),* }
            }
            pub fn description(self) -> &'static str {
                match self { $(Feature::$variant => $desc),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(Feature::$variant),)* _ => None }
            }
        }
    };
}

features! {
    Settings => "settings", "Users, groups, roles and tenant settings (設定)";
    Materials => "materials", "File uploads and teaching materials (教材)";
    SupplyChain => "supply_chain", "Supply-chain security questionnaires (サプライチェーン)";
    AuditLog => "audit_log", "Operation and mail logs (操作ログ)";
    Notices => "notices", "Release notes and incident notices (お知らせ)";
    Elearning => "elearning", "E-learning courses and records (eラーニング)";
    PhishingTraining => "phishing_training", "Targeted-attack mail drills (標的型攻撃メール訓練)";
    SecurityAwareness => "security_awareness", "Security awareness checks (セキュリティアウェアネス)";
    Surveys => "surveys", "Surveys (アンケート)";
    Announcements => "announcements", "Announcements to employees (通知)";
    Incidents => "incidents", "Incident reports (インシデント管理)";
    AssetInventory => "asset_inventory", "Information asset inventory (情報資産管理)";
    RiskManagement => "risk_management", "Risk assessment (リスクマネジメント)";
    InternalAudit => "internal_audit", "Internal audits (内部監査)";
    SafetyConfirmation => "safety_confirmation", "Safety confirmation (安否確認)";
    Policies => "policies", "Rules and policy documents (規程管理)";
}

impl Serialize for Feature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A role's grants: for each feature at most one level (edit includes view).
pub type Grants = BTreeMap<Feature, Level>;

/// Whether grants (or the org-admin flag, which grants everything) allow `level` on `feature`.
pub fn allows(grants: &Grants, org_admin: bool, feature: Feature, level: Level) -> bool {
    org_admin || grants.get(&feature).is_some_and(|have| *have >= level)
}

/// The effective grants of a principal: everything at edit for an org admin.
pub fn effective(grants: &Grants, org_admin: bool) -> Grants {
    if org_admin {
        Feature::ALL.iter().map(|f| (*f, Level::Edit)).collect()
    } else {
        grants.clone()
    }
}

/// Whether `wanted` lies within `own` (a non-org-admin may only hand out such roles).
pub fn within(wanted: &Grants, own: &Grants) -> bool {
    wanted
        .iter()
        .all(|(f, l)| own.get(f).is_some_and(|have| have >= l))
}

pub struct BuiltinRole {
    pub id: &'static str,
    pub name: &'static str,
    pub grants: fn() -> Grants,
}

fn all_edit() -> Grants {
    Feature::ALL.iter().map(|f| (*f, Level::Edit)).collect()
}

fn staff() -> Grants {
    use Feature::*;
    let mut g: Grants = [
        Materials,
        SupplyChain,
        Elearning,
        PhishingTraining,
        SecurityAwareness,
        Surveys,
        Announcements,
        Incidents,
        AssetInventory,
        RiskManagement,
        InternalAudit,
        SafetyConfirmation,
        Policies,
    ]
    .into_iter()
    .map(|f| (f, Level::Edit))
    .collect();
    g.extend([
        (Settings, Level::View),
        (AuditLog, Level::View),
        (Notices, Level::View),
    ]);
    g
}

fn member() -> Grants {
    use Feature::*;
    [
        Elearning,
        SecurityAwareness,
        Surveys,
        Announcements,
        Incidents,
        SafetyConfirmation,
        Policies,
        Notices,
    ]
    .into_iter()
    .map(|f| (f, Level::View))
    .collect()
}

fn learner() -> Grants {
    [
        (Feature::Elearning, Level::View),
        (Feature::Notices, Level::View),
    ]
    .into()
}

/// The built-in roles; their ids are fixed and they can be neither changed nor deleted.
pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        id: "admin",
        name: "管理者",
        grants: all_edit,
    },
    BuiltinRole {
        id: "staff",
        name: "担当者",
        grants: staff,
    },
    BuiltinRole {
        id: "member",
        name: "一般",
        grants: member,
    },
    BuiltinRole {
        id: "learner",
        name: "受講者",
        grants: learner,
    },
];

pub const DEFAULT_ROLE: &str = "member";

pub fn builtin(id: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_includes_view_and_org_admin_includes_everything() {
        let g: Grants = [(Feature::Settings, Level::Edit)].into();
        assert!(allows(&g, false, Feature::Settings, Level::View));
        assert!(!allows(&g, false, Feature::AuditLog, Level::View));
        assert!(allows(&Grants::new(), true, Feature::AuditLog, Level::Edit));
    }

    #[test]
    fn staff_grants_lie_within_admin_but_not_the_other_way() {
        assert!(within(&staff(), &all_edit()));
        assert!(!within(&all_edit(), &staff()));
        assert!(within(&learner(), &member()));
    }
}
