//! Login request bodies: form-urlencoded or JSON into one flat map of parameters.
//! JSON `null` and empty strings count as absent (the Python Auth0 SDK sends them).

use crate::http::error::ApiError;
use std::collections::HashMap;

/// The parameters of a login call, by name: text values, and (JSON bodies) object or array
/// values kept as JSON text apart, so they never pass for text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(HashMap<String, String>, HashMap<String, String>);

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An object or array value, as JSON text.
    pub(crate) fn get_json(&self, name: &str) -> Option<&str> {
        self.1.get(name).map(String::as_str)
    }

    /// The parameter or a `400 invalid_request` "missing NAME parameter".
    pub(crate) fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::missing_parameter(name))
    }

    fn insert(&mut self, name: String, value: String) -> Result<(), ApiError> {
        if value.is_empty() {
            return Ok(());
        }
        if self.0.contains_key(&name) {
            return Err(ApiError::invalid_request(format!("parameter {name} is repeated")));
        }
        self.0.insert(name, value);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Form,
    Json,
}

/// The body kind named by a `Content-Type` header, or `415`.
pub fn body_kind(content_type: Option<&str>) -> Result<BodyKind, ApiError> {
    let essence =
        content_type.and_then(|ct| ct.split(';').next()).map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        "application/json" => Ok(BodyKind::Json),
        _ => Err(ApiError::unsupported_media_type()),
    }
}

/// Parse a body of the given kind. Malformed input is `400 invalid_request`.
pub fn parse(kind: BodyKind, body: &[u8]) -> Result<Params, ApiError> {
    match kind {
        BodyKind::Form => parse_form(body),
        BodyKind::Json => parse_json(body),
    }
}

fn parse_form(body: &[u8]) -> Result<Params, ApiError> {
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::invalid_request("the form body is not valid UTF-8"));
    }
    let mut params = Params::default();
    for (k, v) in form_urlencoded::parse(body) {
        params.insert(k.into_owned(), v.into_owned())?;
    }
    Ok(params)
}

/// A JSON object's members in order, repeated names included (serde_json's map would keep
/// only the last, where a form's repeated parameter is refused).
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn parse_json(body: &[u8]) -> Result<Params, ApiError> {
    // One parse of a good body. A data error is a top level that is not an object, found
    // before the rest was read: whether the rest is JSON at all decides what is said.
    let Members(map) = serde_json::from_slice(body).map_err(|e| {
        let is_json = || serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
        if e.classify() == serde_json::error::Category::Data && is_json() {
            ApiError::invalid_request("the JSON body must be an object")
        } else {
            ApiError::invalid_request("the body is not valid JSON")
        }
    })?;
    let mut params = Params::default();
    for (k, v) in map {
        let text = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            structured => {
                if params.1.insert(k.clone(), structured.to_string()).is_some() {
                    return Err(ApiError::invalid_request(format!("parameter {k} is repeated")));
                }
                continue;
            }
        };
        params.insert(k, text)?;
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_recognised_with_parameters_and_case() {
        assert_eq!(body_kind(Some("application/json; charset=utf-8")).unwrap(), BodyKind::Json);
        assert_eq!(body_kind(Some("Application/X-WWW-Form-Urlencoded")).unwrap(), BodyKind::Form);
        assert_eq!(body_kind(Some("text/plain")).unwrap_err().status, 415);
        assert_eq!(body_kind(None).unwrap_err().status, 415);
    }

    #[test]
    fn form_bodies_decode_and_drop_empty_values() {
        let p = parse(BodyKind::Form, b"username=a%40b.c&password=p+w&scope=").unwrap();
        assert_eq!(p.get("username"), Some("a@b.c"));
        assert_eq!(p.get("password"), Some("p w"));
        assert_eq!(p.get("scope"), None);
    }

    #[test]
    fn json_that_is_not_an_object_or_not_json_says_which() {
        for (body, said) in [
            (&b"[1, 2]"[..], "the JSON body must be an object"),
            (b"\"text\"", "the JSON body must be an object"),
            (b"{\"a\": 1", "the body is not valid JSON"),
            (b"{} trailing", "the body is not valid JSON"),
            (b"[1,", "the body is not valid JSON"),
            (b"true}", "the body is not valid JSON"),
            (b"", "the body is not valid JSON"),
        ] {
            let e = parse(BodyKind::Json, body).unwrap_err();
            assert_eq!((e.status, e.description.as_ref()), (400, said), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn json_null_and_empty_count_as_absent() {
        let p = parse(BodyKind::Json, br#"{"audience":null,"scope":"","username":"u","n":3}"#).unwrap();
        assert_eq!(p.get("audience"), None);
        assert_eq!(p.get("scope"), None);
        assert_eq!(p.get("n"), Some("3"));
        assert_eq!(p.require("password").unwrap_err().description, "missing password parameter");
    }

    #[test]
    fn objects_are_kept_apart_as_json() {
        let p = parse(BodyKind::Json, br#"{"username":{"a":1},"claims":{"id_token":{"email":null}}}"#).unwrap();
        assert_eq!(p.get("username"), None, "an object never passes for text");
        assert_eq!(p.get_json("claims"), Some(r#"{"id_token":{"email":null}}"#));
    }

    #[test]
    fn malformed_bodies_are_invalid_requests() {
        for (kind, body) in [
            (BodyKind::Json, &b"{not json"[..]),
            (BodyKind::Json, b"[1,2]"),
            (BodyKind::Form, b"a=1&a=2"),
            (BodyKind::Json, br#"{"username":"x","username":"demo@example.com"}"#),
            (BodyKind::Json, br#"{"claims":{},"claims":{}}"#),
            (BodyKind::Form, b"\xff\xfe"),
        ] {
            let e = parse(kind, body).unwrap_err();
            assert_eq!((e.status, e.error.as_ref()), (400, "invalid_request"), "{body:?}");
        }
    }
}
