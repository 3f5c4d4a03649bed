//! The end user's IP: the socket peer, unless the peer is a trusted proxy; then the rightmost
//! address of `X-Forwarded-For` (or `Forwarded`) that is not itself a trusted proxy. A spoofed
//! header from an untrusted peer changes nothing.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain = forwarded_chain(headers);
    // Walk from the nearest hop outwards; the first untrusted address is the client.
    let mut client = peer;
    for ip in chain.iter().rev() {
        client = *ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The addresses of `X-Forwarded-For` (all of its headers, in order), else of `Forwarded`.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let xff: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| parse_ip(s.trim()))
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.eq_ignore_ascii_case("for").then(|| parse_ip(v.trim().trim_matches('"'))).flatten()
            })
        })
        .collect()
}

/// An address as forwarding headers write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80` or `::1`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[').and_then(|r| r.split(']').next()).and_then(|ip| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()]
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(resolve(ip("203.0.113.7"), &h, &trusted()), ip("203.0.113.7"));
        assert_eq!(resolve(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"), "nothing trusted");
    }

    #[test]
    fn the_rightmost_untrusted_hop_behind_trusted_proxies_is_the_client() {
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.9, 10.1.1.1")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted()), ip("198.51.100.9"));
        let h = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.9:4711")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted()), ip("198.51.100.9"));
    }

    #[test]
    fn forwarded_header_and_fallbacks() {
        let h = headers(&[("forwarded", r#"for=192.0.2.60;proto=http, for="[2001:db8::1]:4711""#)]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted()), ip("2001:db8::1"));
        assert_eq!(resolve(ip("10.0.0.1"), &headers(&[]), &trusted()), ip("10.0.0.1"), "no header: the peer");
        let h = headers(&[("x-forwarded-for", "10.2.2.2, 10.3.3.3")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted()), ip("10.2.2.2"), "all trusted: the farthest");
        let h = headers(&[("x-forwarded-for", "garbage, 198.51.100.9")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted()), ip("198.51.100.9"));
    }
}
