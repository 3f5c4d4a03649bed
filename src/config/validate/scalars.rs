//! The small parsers every section shares: addresses, URLs, origins and header names.

use super::Problems;
use std::net::SocketAddr;
use url::Url;

/// A number that defaults to `default` and must be at least `min` (`unit` names it in the
/// problem, e.g. "milliseconds").
/// `value` (or `default`), which must not be over `max`: a problem otherwise.
pub(super) fn at_most<T: Copy + PartialOrd + std::fmt::Display>(
    p: &mut Problems,
    key: &str,
    value: Option<T>,
    default: T,
    max: T,
) -> T {
    let v = value.unwrap_or(default);
    if v > max {
        p.push(key, format!("must be at most {max}"));
    }
    v
}

pub(super) fn at_least<T: Copy + PartialOrd + std::fmt::Display>(
    p: &mut Problems,
    key: &str,
    value: Option<T>,
    default: T,
    min: T,
    unit: &str,
) -> T {
    let v = value.unwrap_or(default);
    if v < min {
        let unit = if unit.is_empty() { String::new() } else { format!(" ({unit})") };
        p.push(key, format!("must be at least {min}{unit}"));
    }
    v
}

pub(super) fn header_name(p: &mut Problems, key: &str, name: &str) -> Option<http::HeaderName> {
    let lower = name.to_ascii_lowercase();
    if ["secret", "authorization", "cookie", "host", "content-length", "transfer-encoding"].contains(&lower.as_str()) {
        p.push(key, format!("{name:?} cannot carry identity"));
        return None;
    }
    match http::HeaderName::from_bytes(lower.as_bytes()) {
        Ok(h) => Some(h),
        Err(_) => {
            p.push(key, format!("{name:?} is not a header name"));
            None
        }
    }
}

pub(super) fn origin(p: &mut Problems, key: &str, value: &str) -> Option<String> {
    let url = http_url(p, key, value)?;
    let origin = url.origin().ascii_serialization();
    if origin != value.trim_end_matches('/') {
        p.push(key, format!("{value:?} is not an origin like https://app.example.com (no path)"));
        return None;
    }
    Some(origin)
}

pub(super) fn addr(p: &mut Problems, key: &str, value: &str) -> Option<SocketAddr> {
    match value.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            p.push(key, format!("{value:?} is not an address like 127.0.0.1:8080"));
            None
        }
    }
}

pub(super) fn http_url(p: &mut Problems, key: &str, value: &str) -> Option<Url> {
    match Url::parse(value) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => Some(u),
        Ok(_) => {
            p.push(key, format!("{value:?} must be an http:// or https:// URL with a host"));
            None
        }
        Err(e) => {
            p.push(key, format!("{value:?} is not a URL ({e})"));
            None
        }
    }
}

/// The demo's embedded servers may only listen on loopback addresses.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}
