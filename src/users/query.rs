//! `GET /users`'s query string (as Mia-Platform's auth0-client reads it: `_l`, `_sk`, `email`, `nickname`, `username`,
//! `connection`, `app_metadata.*`) → the Management API's `q` (Lucene, `search_engine=v3`),
//! `per_page` and `page`. Every value is quoted and escaped, so no value can widen the search.

use crate::config::Management;
use crate::http::error::ApiError;

/// `_l` when absent (auth0-client's default), and the most the Management API gives in one page.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 25;
pub(crate) const MAX_PAGE_SIZE: u32 = 100;

/// A value as a Lucene phrase: in double quotes, with `\` and `"` escaped, and every other
/// reserved character escaped too (harmless inside a phrase, and safe if a parser is lax).
pub(crate) fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if "\\\"+-&|!(){}[]^~*?:/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// An `app_metadata` key is a field name (it cannot be quoted): letters, digits, `_`, and `.`
/// between parts for nested objects.
fn field_key(key: &str) -> Option<&str> {
    let ok = !key.is_empty()
        && key.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    ok.then_some(key)
}

/// The connections `GET /users` may show: the management block's, and its default.
pub(crate) fn allowed_connections(m: &Management) -> Vec<&str> {
    let mut all: Vec<&str> = m.connections.iter().map(|(name, _)| name.as_str()).collect();
    if let Some(d) = m.default_connection.as_deref().filter(|d| !all.contains(d)) {
        all.push(d);
    }
    all
}

/// The Management API's query parameters for a `GET /users` query string.
pub(crate) fn search(query: Option<&str>, m: &Management) -> Result<Vec<(&'static str, String)>, ApiError> {
    let mut per_page = DEFAULT_PAGE_SIZE;
    let mut skip = 0u32;
    let mut connections: Vec<String> = Vec::new();
    let mut terms: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if name != "connection" {
            if seen.contains(&name.to_string()) {
                return Err(ApiError::invalid_request(format!("{name} is given more than once")));
            }
            seen.push(name.to_string());
        }
        let number = |what: &str| {
            value.parse::<u32>().map_err(|_| ApiError::invalid_request(format!("{what} must be a whole number")))
        };
        match &*name {
            "_l" => {
                per_page = number("_l")?;
                if !(1..=MAX_PAGE_SIZE).contains(&per_page) {
                    return Err(ApiError::invalid_request(format!("_l must be between 1 and {MAX_PAGE_SIZE}")));
                }
            }
            "_sk" => skip = number("_sk")?,
            "email" | "nickname" | "username" => terms.push(format!("{name}:{}", quoted(&value))),
            "connection" => connections.push(value.into_owned()),
            other => match other.strip_prefix("app_metadata.").and_then(field_key) {
                Some(key) => terms.push(format!("app_metadata.{key}:{}", quoted(&value))),
                None => return Err(ApiError::invalid_request(format!("unknown query parameter {other:?}"))),
            },
        }
    }
    // `_sk` is a skip (auth0-client's docs: "CRUD-like skip"); the Management API pages, so a skip must
    // fall on a page boundary.
    if !skip.is_multiple_of(per_page) {
        return Err(ApiError::invalid_request(format!("_sk must be a multiple of _l ({per_page})")));
    }
    let page = skip / per_page;
    if let Some(c) = connections.iter().find(|c| !m.manages(c)) {
        return Err(ApiError::invalid_request(format!("connection {c:?} is not one the gateway manages")));
    }
    if connections.is_empty() {
        connections = allowed_connections(m).iter().map(|c| c.to_string()).collect();
    }
    if !connections.is_empty() {
        let any: Vec<String> = connections.iter().map(|c| format!("identities.connection:{}", quoted(c))).collect();
        terms.insert(0, format!("({})", any.join(" OR ")));
    }
    let mut params = vec![("per_page", per_page.to_string()), ("page", page.to_string())];
    if !terms.is_empty() {
        params.push(("q", terms.join(" AND ")));
        params.push(("search_engine", "v3".to_string()));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn management(connections: &[&str], default: Option<&str>) -> Management {
        Management {
            url: url::Url::parse("https://t.example/api/v2").unwrap(),
            audience: "https://t.example/api/v2/".into(),
            client_id: "m2m".into(),
            client_secret: crate::config::Secret("s".into()),
            default_connection: default.map(str::to_string),
            connections: connections.iter().map(|c| (c.to_string(), format!("con_{c}"))).collect(),
        }
    }

    fn q(query: &str) -> Result<Vec<(&'static str, String)>, u16> {
        search(Some(query), &management(&["db1", "db2"], Some("db1"))).map_err(|e| e.status)
    }

    fn param(params: &[(&'static str, String)], name: &str) -> Option<String> {
        params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn values_are_quoted_and_escaped() {
        assert_eq!(quoted("a@b.com"), r#""a@b.com""#);
        assert_eq!(quoted(r#"a" OR email:*"#), r#""a\" OR email\:\*""#);
        assert_eq!(quoted(r"back\slash"), r#""back\\slash""#);
        assert_eq!(quoted("(x) && y || !z"), r#""\(x\) \&\& y \|\| \!z""#);
    }

    #[test]
    fn auth0_clients_parameters_become_the_tenant_query() {
        let p = q("_l=10&_sk=20&email=a%40b.com&connection=db2&app_metadata.groups=admins").unwrap();
        assert_eq!(param(&p, "per_page").unwrap(), "10");
        assert_eq!(param(&p, "page").unwrap(), "2");
        assert_eq!(param(&p, "search_engine").unwrap(), "v3");
        assert_eq!(
            param(&p, "q").unwrap(),
            r#"(identities.connection:"db2") AND email:"a@b.com" AND app_metadata.groups:"admins""#
        );
    }

    #[test]
    fn several_connections_are_or_ed_and_the_default_is_every_managed_one() {
        let p = q("connection=db1&connection=db2").unwrap();
        assert_eq!(param(&p, "q").unwrap(), r#"(identities.connection:"db1" OR identities.connection:"db2")"#);
        let p = q("").unwrap();
        assert_eq!(param(&p, "q").unwrap(), r#"(identities.connection:"db1" OR identities.connection:"db2")"#);
        assert_eq!(param(&p, "per_page").unwrap(), "25");
        assert_eq!(param(&p, "page").unwrap(), "0");
    }

    #[test]
    fn an_injected_operator_stays_inside_the_phrase() {
        let p = q("email=a%20OR%20email%3A*&nickname=x%22)%20OR%20(nickname%3A*").unwrap();
        assert_eq!(
            param(&p, "q").unwrap(),
            r#"(identities.connection:"db1" OR identities.connection:"db2") AND email:"a OR email\:\*" AND nickname:"x\"\) OR \(nickname\:\*""#
        );
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert_eq!(q("connection=other"), Err(400), "a connection not managed");
        assert_eq!(q("_l=0"), Err(400));
        assert_eq!(q("_l=101"), Err(400));
        assert_eq!(q("_l=ten"), Err(400));
        assert_eq!(q("_sk=-1"), Err(400));
        assert_eq!(q("_l=10&_sk=15"), Err(400), "a skip off a page boundary");
        assert_eq!(param(&q("_sk=50").unwrap(), "page").unwrap(), "2", "25 a page by default");
        assert_eq!(q("email=a&email=b"), Err(400), "one value per filter");
        assert_eq!(q("app_metadata.a%20OR%20b=x"), Err(400), "a key is a field name");
        assert_eq!(q("app_metadata.=x"), Err(400));
        assert_eq!(q("q=email:*"), Err(400), "no raw query");
        assert!(q("app_metadata.org.team=x").is_ok(), "nested keys");
    }

    #[test]
    fn without_managed_connections_any_connection_may_be_asked_for() {
        let p = search(Some("connection=any"), &management(&[], None)).unwrap();
        assert_eq!(param(&p, "q").unwrap(), r#"(identities.connection:"any")"#);
        let p = search(None, &management(&[], None)).unwrap();
        assert_eq!(param(&p, "q"), None);
    }
}
