//! Who may reach a route (`routes.rules[].allow`), as validated data: alternatives of
//! conditions over the token's claims, each condition pointing at the claims it reads.

/// What a condition asks of the token (or, on a `secret` route, of the calling application).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Member of any listed group (`guard.groups_claim`).
    Groups,
    /// Has any listed role (`guard.roles_claim`).
    Roles,
    /// Holds every listed permission (`permissions`).
    Permissions,
    /// Holds every listed scope (`scope`, space-separated).
    Scopes,
    /// Issued to any listed client (`azp`, or RFC 9068's `client_id`); on a `secret` route,
    /// the calling application's `secret` is any listed client's.
    Clients,
    /// A claim (named in `claim`) equals one of the values, or, an array, contains one.
    Claim,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    pub(crate) need: Need,
    /// The claim named in messages (the configured name; `azp` for clients).
    pub(crate) claim: String,
    /// Where the values are read: indexes into `Guard::authz_claims` (clients: `azp`, `client_id`).
    pub(crate) reads: Vec<usize>,
    /// The values asked for. Clients: their `client_id`s; on a `secret` route their names.
    pub(crate) values: Vec<String>,
}

impl Condition {
    /// Every value must be held (permissions, scopes), rather than any one.
    pub(crate) fn needs_all(&self) -> bool {
        matches!(self.need, Need::Permissions | Need::Scopes)
    }
}

/// One alternative of an `allow` list: it holds when all its conditions hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Alternative {
    pub(crate) conditions: Vec<Condition>,
}
