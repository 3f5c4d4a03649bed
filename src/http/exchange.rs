//! Plain request and reply values: what the login logic takes and gives, with no pingora type.

use bytes::Bytes;
use http::HeaderMap;
use serde::Serialize;
use std::net::IpAddr;

/// A request the gateway answers itself, fully read.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: http::Method,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// The end user's IP, sent to the tenant as `auth0-forwarded-for`.
    pub(crate) client_ip: IpAddr,
    /// The socket peer is one of `limits.trusted_proxies` (its forwarding headers are believed).
    pub(crate) peer_trusted: bool,
    /// The request target was not in its normal form (the router decided on another spelling).
    pub(crate) target_rewritten: bool,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A complete response: status, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Headers whose names come from the configuration (the identity headers of a
    /// forward-auth answer).
    pub(crate) named_headers: Vec<(http::HeaderName, String)>,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).expect("plain structs serialize");
        Reply {
            status,
            headers: vec![("content-type", "application/json".to_string()), ("cache-control", "no-store".to_string())],
            named_headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A JSON body that is already serialized.
    pub(crate) fn json_bytes(status: u16, body: Bytes) -> Self {
        let mut reply = Reply::empty(status);
        reply.headers.insert(0, ("content-type", "application/json".to_string()));
        reply.body = body;
        reply
    }

    /// An HTML page (a browser's refusal).
    pub(crate) fn html(status: u16, page: String) -> Self {
        let mut reply = Reply::empty(status).with_header("content-type", "text/html; charset=utf-8");
        reply.body = page.into();
        reply
    }

    /// An empty `200` (the website login answer): the session rides in a cookie.
    pub(crate) fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: vec![("cache-control", "no-store".to_string())],
            named_headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Add a header; `cache-control` replaces the default one.
    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        if name == "cache-control" {
            self.headers.retain(|(n, _)| *n != "cache-control");
        }
        self.headers.push((name, value.into()));
        self
    }
}

/// A browser page load: `GET` asking for HTML (the login redirect and the refusal pages).
pub(crate) fn is_page_load(method: &str, accept: Option<&str>) -> bool {
    method == "GET" && accept.is_some_and(|a| a.contains("text/html"))
}

/// `text` safe inside HTML text and attribute values.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
