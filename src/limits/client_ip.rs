//! The end user's IP: the socket peer, unless the peer is a trusted proxy; then the rightmost
//! address of `X-Forwarded-For` (or `Forwarded`) that is not itself a trusted proxy. The walk
//! stops at the first hop that does not parse, so nothing further left is believed. IPv4
//! addresses written as IPv6 (`::ffff:a.b.c.d`) are read as IPv4 before any CIDR match. A
//! spoofed header from an untrusted peer changes nothing.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// Who the client is, and the `X-Forwarded-For` the backend gets: the client and the trusted
/// proxies after it, then the peer — never the unverifiable hops the client wrote itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) client: IpAddr,
    pub(crate) forwarded_for: String,
    /// The socket peer is a trusted proxy (its `X-Forwarded-Host`/`-Proto` are believed).
    pub(crate) peer_trusted: bool,
}

pub(crate) fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Resolved {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Resolved { client: peer, forwarded_for: peer.to_string(), peer_trusted: false };
    }
    let chain = forwarded_chain(headers);
    // Walk from the nearest hop outwards; the first untrusted address is the client.
    let mut kept = vec![peer];
    for hop in chain.iter().rev() {
        let Some(ip) = hop else { break };
        kept.push(*ip);
        if !is_trusted(ip) {
            break;
        }
    }
    let client = *kept.last().expect("the peer is there");
    let forwarded_for = kept.iter().rev().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
    Resolved { client, forwarded_for, peer_trusted: true }
}

/// The hops of `X-Forwarded-For` (all of its headers, in order), else of `Forwarded`; `None`
/// for a hop that does not parse.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| headers.get_all(name).iter().map(|v| v.to_str().ok());
    let xff: Vec<Option<IpAddr>> = values("x-forwarded-for")
        .flat_map(|v| match v {
            Some(v) => v.split(',').map(|s| parse_ip(s.trim())).collect::<Vec<_>>(),
            None => vec![None],
        })
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    values("forwarded")
        .flat_map(|v| match v {
            Some(v) => v
                .split(',')
                .map(|element| {
                    element.split(';').find_map(|pair| {
                        let (k, v) = pair.trim().split_once('=')?;
                        k.trim().eq_ignore_ascii_case("for").then(|| parse_ip(v.trim().trim_matches('"')))
                    })?
                })
                .collect::<Vec<_>>(),
            None => vec![None],
        })
        .collect()
}

/// An address as forwarding headers write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80` or `::1`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let ip = if let Ok(ip) = s.parse::<IpAddr>() {
        ip
    } else if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        sa.ip()
    } else {
        s.strip_prefix('[').and_then(|r| r.split(']').next()).and_then(|ip| ip.parse().ok())?
    };
    Some(ip.to_canonical())
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

    fn client(peer: &str, h: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
        resolve(ip(peer), h, trusted).client
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            resolve(ip("203.0.113.7"), &h, &trusted()),
            Resolved { client: ip("203.0.113.7"), forwarded_for: "203.0.113.7".into(), peer_trusted: false }
        );
        assert_eq!(client("10.0.0.1", &h, &[]), ip("10.0.0.1"), "nothing trusted");
    }

    #[test]
    fn the_rightmost_untrusted_hop_behind_trusted_proxies_is_the_client() {
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.9, 10.1.1.1")]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &trusted()),
            Resolved {
                client: ip("198.51.100.9"),
                forwarded_for: "198.51.100.9, 10.1.1.1, 10.0.0.1".into(),
                peer_trusted: true
            }
        );
        let h = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.9:4711")]);
        assert_eq!(client("127.0.0.1", &h, &trusted()), ip("198.51.100.9"));
    }

    #[test]
    fn forwarded_header_and_fallbacks() {
        let h = headers(&[("forwarded", r#"for=192.0.2.60;proto=http, for="[2001:db8::1]:4711""#)]);
        assert_eq!(client("10.0.0.1", &h, &trusted()), ip("2001:db8::1"));
        assert_eq!(client("10.0.0.1", &headers(&[]), &trusted()), ip("10.0.0.1"), "no header: the peer");
        let h = headers(&[("x-forwarded-for", "10.2.2.2, 10.3.3.3")]);
        assert_eq!(client("10.0.0.1", &h, &trusted()), ip("10.2.2.2"), "all trusted: the farthest");
    }

    #[test]
    fn the_walk_stops_at_a_hop_that_does_not_parse() {
        let h = headers(&[("x-forwarded-for", "garbage, 198.51.100.9")]);
        assert_eq!(client("10.0.0.1", &h, &trusted()), ip("198.51.100.9"));
        let h = headers(&[("x-forwarded-for", "6.6.6.6, garbage, 10.1.1.1")]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &trusted()),
            Resolved { client: ip("10.1.1.1"), forwarded_for: "10.1.1.1, 10.0.0.1".into(), peer_trusted: true }
        );
        let h = headers(&[("forwarded", "for=6.6.6.6, for=unknown")]);
        assert_eq!(client("10.0.0.1", &h, &trusted()), ip("10.0.0.1"), "an obfuscated hop stops the walk");
    }

    #[test]
    fn ipv4_mapped_addresses_are_read_as_ipv4() {
        let h = headers(&[("x-forwarded-for", "::ffff:198.51.100.9")]);
        assert_eq!(
            resolve(ip("::ffff:10.0.0.1"), &h, &trusted()),
            Resolved { client: ip("198.51.100.9"), forwarded_for: "198.51.100.9, 10.0.0.1".into(), peer_trusted: true }
        );
        assert_eq!(client("::ffff:203.0.113.7", &headers(&[]), &trusted()), ip("203.0.113.7"));
    }
}
