//! Logs through tracing: JSON in Lambda, readable locally, timestamps in JST. Secrets are `secrecy` types
//! and PII is never a field, so neither reaches a log.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::time::OffsetTime;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let timer = OffsetTime::new(
        crate::domain::time::JST,
        time::format_description::well_known::Rfc3339,
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(timer)
        .with_target(false);
    // A second init (tests) keeps the first subscriber.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .without_time()
            .with_timer(OffsetTime::new(
                crate::domain::time::JST,
                time::format_description::well_known::Rfc3339,
            ))
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Displays an error with its whole source chain (for a log line or a fatal message).
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(s) = cur {
            write!(f, ": {s}")?;
            cur = s.source();
        }
        Ok(())
    }
}
