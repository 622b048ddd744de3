//! Time: stored as UTC seconds or milliseconds, shown in JST (+09:00) as RFC 3339.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// RFC 3339 in JST with an explicit offset, e.g. `2026-11-26T16:05:00+09:00`.
pub fn jst(t: OffsetDateTime) -> String {
    let t = t.to_offset(JST).replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn jst_from_unix(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(jst)
        .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp with any offset.
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_jst_with_offset() {
        let t = parse_rfc3339("2026-11-26T07:05:00Z").unwrap();
        assert_eq!(jst(t), "2026-11-26T16:05:00+09:00");
    }
}
