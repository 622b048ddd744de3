//! The list of common passwords shipped with the project (`shared/data/common-passwords.txt`).

use std::collections::HashSet;
use std::sync::OnceLock;

static LIST: &str = include_str!("../../data/common-passwords.txt");

fn set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        LIST.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
}

/// `folded` is the comparison form (NFKC, lower-case) of the candidate.
pub fn is_common(folded: &str) -> bool {
    set().contains(folded)
}

pub fn len() -> usize {
    set().len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_list_has_thousands_of_entries() {
        assert!(super::len() > 5000);
        assert!(super::is_common("password123"));
        assert!(!super::is_common("correct horse battery staple"));
    }
}
