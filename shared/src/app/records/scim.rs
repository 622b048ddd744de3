//! What SCIM stores beside the records it provisions: the limit of its own texts (`externalId`, the
//! enterprise extension's fields), for users and groups alike.

/// Longest value of an extra attribute (characters).
pub const MAX_EXTRA: usize = 256;
