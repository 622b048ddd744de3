//! The tenant's sign-in policy (issue 22): a second factor required of org admins or of everyone, a
//! longer minimum password length, a shorter session lifetime and an idle timeout, an IP allow-list.
//!
//! It lives on the tenant's META item (one JSON attribute), which every authenticated request already
//! reads together with the user (`principal::authenticate`), so enforcing it costs no extra store request. Only
//! org admins read and change it (`GET/PUT /v1/tenant/sign-in-policy`); every change is in the operation log.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::records::policy::{
    IDLE_TIMEOUT_MINUTES, IP_ALLOWLIST_MAX, PASSWORD_MIN_LENGTH_MAX, SESSION_LIFETIME_MINUTES,
    SecondFactor, SignInPolicy,
};
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::domain::values::Password;
use crate::ports::{Change, Cond, Table, Value, Write};

/// A new policy as a client sends it (`PUT /v1/tenant/sign-in-policy`, the console's form).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub second_factor: String,
    pub password_min_length: i64,
    #[serde(default)]
    pub session_lifetime_minutes: Option<i64>,
    #[serde(default)]
    pub idle_timeout_minutes: Option<i64>,
    pub ip_allowlist: Vec<String>,
    /// Save an allow-list that does not contain the caller's own address (their session ends with it).
    #[serde(default)]
    pub confirm_self_lockout: bool,
}

/// Checks every field and returns the policy, or a 400 naming the first bad field.
pub fn parse(input: &PolicyInput, service_lifetime: Duration) -> Result<SignInPolicy, AppError> {
    let second_factor = SecondFactor::parse(input.second_factor.trim()).ok_or_else(|| {
        AppError::invalid(
            "second_factor",
            "second_factor must be off, admins or everyone",
        )
    })?;
    let min = input.password_min_length;
    if !(Password::MIN_CHARS as i64..=PASSWORD_MIN_LENGTH_MAX as i64).contains(&min) {
        return Err(AppError::invalid(
            "password_min_length",
            format!(
                "password_min_length must be from {} to {PASSWORD_MIN_LENGTH_MAX}",
                Password::MIN_CHARS
            ),
        ));
    }
    if let Some(m) = input.session_lifetime_minutes
        && !(SESSION_LIFETIME_MINUTES.0..=SESSION_LIFETIME_MINUTES.1).contains(&m)
    {
        return Err(AppError::invalid(
            "session_lifetime_minutes",
            format!(
                "session_lifetime_minutes must be from {} to {} (30 days), or null for the service's {} minutes",
                SESSION_LIFETIME_MINUTES.0,
                SESSION_LIFETIME_MINUTES.1,
                service_lifetime.whole_minutes()
            ),
        ));
    }
    if let Some(m) = input.idle_timeout_minutes {
        if !(IDLE_TIMEOUT_MINUTES.0..=IDLE_TIMEOUT_MINUTES.1).contains(&m) {
            return Err(AppError::invalid(
                "idle_timeout_minutes",
                format!(
                    "idle_timeout_minutes must be from {} to {} (one day), or null for none",
                    IDLE_TIMEOUT_MINUTES.0, IDLE_TIMEOUT_MINUTES.1
                ),
            ));
        }
        let lifetime = input
            .session_lifetime_minutes
            .unwrap_or(service_lifetime.whole_minutes());
        if m >= lifetime {
            return Err(AppError::invalid(
                "idle_timeout_minutes",
                format!(
                    "idle_timeout_minutes must be shorter than the session lifetime ({lifetime} minutes)"
                ),
            ));
        }
    }
    if input.ip_allowlist.len() > IP_ALLOWLIST_MAX {
        return Err(AppError::invalid(
            "ip_allowlist",
            format!("ip_allowlist holds at most {IP_ALLOWLIST_MAX} networks"),
        ));
    }
    let mut ip_allowlist: Vec<IpNet> = Vec::new();
    for (i, raw) in input.ip_allowlist.iter().enumerate() {
        let net = parse_network(raw).map_err(|why| {
            AppError::invalid(
                "ip_allowlist",
                format!("ip_allowlist[{i}] ({raw:?}): {why}"),
            )
        })?;
        if !ip_allowlist.contains(&net) {
            ip_allowlist.push(net);
        }
    }
    Ok(SignInPolicy {
        second_factor,
        password_min_length: min as usize,
        session_lifetime_minutes: input.session_lifetime_minutes,
        idle_timeout_minutes: input.idle_timeout_minutes,
        ip_allowlist,
        unreadable: false,
    })
}

/// A network in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`), or one address (a /32 or /128).
/// Host bits after the prefix are refused: `10.0.0.1/8` is more likely a mistake than `10.0.0.0/8`.
fn parse_network(raw: &str) -> Result<IpNet, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("empty; write a network such as 203.0.113.0/24 or 2001:db8::/32".into());
    }
    let net = if s.contains('/') {
        s.parse::<IpNet>().map_err(|_| {
            "not a network in CIDR notation, such as 203.0.113.0/24 or 2001:db8::/32".to_owned()
        })?
    } else {
        let ip = s.parse::<IpAddr>().map_err(|_| {
            "not an IPv4 or IPv6 address or network, such as 203.0.113.0/24".to_owned()
        })?;
        IpNet::from(ip.to_canonical())
    };
    if net.trunc() != net {
        return Err(format!(
            "has bits set after the /{} prefix; did you mean {}?",
            net.prefix_len(),
            net.trunc()
        ));
    }
    // An IPv4-mapped IPv6 network is written as the IPv4 network, as addresses are compared.
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.network().to_ipv4_mapped()
        && v6.prefix_len() >= 96
    {
        return ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
            .map(IpNet::V4)
            .map_err(|e| e.to_string());
    }
    Ok(net)
}

/// An org admin saves a new policy. `source` is the caller's own address: a list that would shut it out
/// answers 409 `self_lockout` unless `confirm_self_lockout` is set. Takes effect on the next request of
/// every session of the tenant.
pub async fn put(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    input: &PolicyInput,
    source: &str,
    now: OffsetDateTime,
) -> Result<SignInPolicy, AppError> {
    let policy = parse(input, svc.settings.session_ttl)?;
    if !policy.allows_ip(source) && !input.confirm_self_lockout {
        return Err(AppError::conflict(
            "self_lockout",
            format!(
                "the allow-list does not contain your current address ({source}): saving it ends your own session and keeps you out; add your network, or send confirm_self_lockout: true to save it anyway"
            ),
        ));
    }
    let json = serde_json::to_string(&policy).map_err(|e| AppError::Internal(Box::new(e)))?;
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut tx = Tx::new();
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::META.into(),
            changes: vec![Change::Set(attr::SIGN_IN_POLICY, Value::S(json))],
            cond: Some(Cond::Exists),
        },
        || AppError::NotFound("tenant"),
    );
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "tenant.sign_in_policy",
            target_type: "tenant",
            target_id: scope.tenant.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::records::policy::idle_check;

    fn input(list: &[&str]) -> PolicyInput {
        PolicyInput {
            second_factor: "off".into(),
            password_min_length: 8,
            session_lifetime_minutes: None,
            idle_timeout_minutes: None,
            ip_allowlist: list.iter().map(|s| s.to_string()).collect(),
            confirm_self_lockout: false,
        }
    }

    #[test]
    fn networks_of_both_families_are_parsed_and_matched() {
        let p = parse(
            &input(&[
                "203.0.113.0/24",
                "2001:db8::/32",
                "198.51.100.7",
                "::ffff:192.0.2.0/120",
            ]),
            Duration::hours(12),
        )
        .unwrap();
        assert_eq!(
            p.ip_allowlist
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "203.0.113.0/24",
                "2001:db8::/32",
                "198.51.100.7/32",
                "192.0.2.0/24"
            ]
        );
        for ok in [
            "203.0.113.9",
            "2001:db8:1::5",
            "198.51.100.7",
            "::ffff:203.0.113.200",
            "192.0.2.1",
        ] {
            assert!(p.allows_ip(ok), "{ok}");
        }
        for no in ["203.0.114.1", "2001:db9::1", "198.51.100.8", "unknown", ""] {
            assert!(!p.allows_ip(no), "{no}");
        }
        assert!(SignInPolicy::default().allows_ip("unknown"));
    }

    #[test]
    fn bad_networks_and_bounds_name_their_field() {
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "example.com",
            "",
            "2001:db8::/129",
        ] {
            let e = parse(&input(&[bad]), Duration::hours(12)).unwrap_err();
            assert_eq!(e.field(), Some("ip_allowlist"), "{bad}");
        }
        let mut i = input(&[]);
        i.password_min_length = 7;
        assert_eq!(
            parse(&i, Duration::hours(12)).unwrap_err().field(),
            Some("password_min_length")
        );
        i.password_min_length = 12;
        i.session_lifetime_minutes = Some(30);
        i.idle_timeout_minutes = Some(30);
        assert_eq!(
            parse(&i, Duration::hours(12)).unwrap_err().field(),
            Some("idle_timeout_minutes")
        );
        i.second_factor = "sometimes".into();
        assert_eq!(
            parse(&i, Duration::hours(12)).unwrap_err().field(),
            Some("second_factor")
        );
    }

    #[test]
    fn the_idle_check_refreshes_only_after_a_tenth_of_the_timeout() {
        let p = SignInPolicy {
            idle_timeout_minutes: Some(10),
            ..SignInPolicy::default()
        };
        let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        assert!(!idle_check(&p, 1000, at(1059)).unwrap());
        assert!(idle_check(&p, 1000, at(1060)).unwrap());
        assert!(idle_check(&p, 1000, at(1599)).unwrap());
        assert!(idle_check(&p, 1000, at(1600)).is_err());
        assert!(!idle_check(&SignInPolicy::default(), 0, at(1_000_000)).unwrap());
    }
}
