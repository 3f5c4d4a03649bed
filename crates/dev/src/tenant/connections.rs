//! The dev tenant's connections, by name and by id (`con_…`), as the Management API names them.

/// Connection name → id: the management block's ids, else `con_` + 16 hex of SHA-256(name).
pub(crate) struct Connections(Vec<(String, String)>);

impl Connections {
    /// The connections `listed` (with their ids) and every one of `names`.
    pub(crate) fn new<'a>(names: impl IntoIterator<Item = &'a str>, listed: &[(String, String)]) -> Self {
        let mut all = listed.to_vec();
        for name in names {
            if !all.iter().any(|(n, _)| n == name) {
                all.push((name.to_string(), derived_id(name)));
            }
        }
        Connections(all)
    }

    pub(crate) fn knows(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// The name of the connection with this id.
    pub(crate) fn name_of(&self, id: &str) -> Option<&str> {
        self.0.iter().find(|(_, i)| i == id).map(|(n, _)| n.as_str())
    }
}

/// The identity provider of a connection's users.
pub(crate) fn provider(name: &str) -> &'static str {
    match name {
        "sms" => "sms",
        "email" => "email",
        _ => "auth0",
    }
}

fn derived_id(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(name.as_bytes());
    let hex = crate::wire::hex(&d[..8]);
    format!("con_{hex}")
}
