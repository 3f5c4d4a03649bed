//! The downstream connection's edge, in front of pingora's HTTP/1 loop: a cap on concurrent
//! connections (`503` and close past it) and on those of one peer address (`429`; trusted
//! proxies are not capped), a deadline for each request's whole header section
//! (`408` and close: pingora only times single reads, so a client that trickles a byte a
//! minute would hold a connection forever), an idle keep-alive timeout, and a refusal of
//! ambiguous framing (`Content-Length` with `Transfer-Encoding`: `400`) before pingora parses
//! anything. The header bytes read here are handed to pingora as the request's first bytes.

use crate::config::ConnectionLimits;
use crate::http::error::ApiError;
use async_trait::async_trait;
use bytes::BytesMut;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Stream, ALPN};
use pingora::proxy::{HttpProxy, ProxyHttp};
use pingora::server::ShutdownWatch;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

/// pingora's own limit on a request's header section.
const MAX_HEADER_BYTES: usize = 1024 * 1024;

pub(crate) struct Edge<SV> {
    proxy: Arc<HttpProxy<SV>>,
    slots: Arc<Semaphore>,
    limits: ConnectionLimits,
    per_ip: Arc<PerIp>,
}

impl<SV> Edge<SV> {
    /// `trusted_proxies`: peers whose connections carry many clients, not capped per address.
    pub(crate) fn new(proxy: HttpProxy<SV>, limits: ConnectionLimits, trusted_proxies: Vec<ipnet::IpNet>) -> Self {
        let per_ip = Arc::new(PerIp { max: limits.max_per_ip, trusted: trusted_proxies, open: Mutex::default() });
        Edge { proxy: Arc::new(proxy), slots: Arc::new(Semaphore::new(limits.max)), limits, per_ip }
    }
}

/// Connections open per peer address.
struct PerIp {
    max: usize,
    trusted: Vec<ipnet::IpNet>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its peer address while it lives.
struct PeerSlot {
    per_ip: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    /// A slot for a connection from `ip`; `None` past the cap. Trusted proxies and unknown
    /// peers (a Unix socket) are not counted.
    fn take(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Option<PeerSlot>, ()> {
        let Some(ip) = ip.filter(|ip| !self.trusted.iter().any(|net| net.contains(ip))) else {
            return Ok(None);
        };
        let ip = address_group(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= self.max {
            return Err(());
        }
        *n += 1;
        Ok(Some(PeerSlot { per_ip: self.clone(), ip }))
    }
}

/// The address a connection is counted against: an IPv4 address, or an IPv6 address's /64
/// (one host commonly holds a whole /64).
fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.per_ip.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// How reading a request's header section ended.
enum Head {
    /// The header section (and whatever followed it) is in the buffer.
    Complete(BytesMut),
    /// The peer closed, or sent nothing before the idle timeout: close quietly.
    Gone,
    /// The header section did not complete in time.
    TooSlow,
    /// Refused before pingora parses anything: why.
    Refused(&'static str),
}

/// What the bytes read so far say.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    Incomplete,
    Complete,
    Refuse(&'static str),
}

/// Inspect a request's first bytes: an upper-case method token, an HTTP/1 request line, a
/// header section that ends, and one way of framing the body. Leading blank lines are skipped
/// (as pingora does), so they cannot stop the deadline early.
fn inspect(buf: &[u8]) -> Progress {
    let Some(start) = buf.iter().position(|b| !matches!(b, b'\r' | b'\n')) else {
        return Progress::Incomplete;
    };
    let b = &buf[start..];
    let method = b.iter().position(|c| !c.is_ascii_uppercase()).unwrap_or(b.len());
    if method == b.len() {
        return if method > 32 { Progress::Refuse(BAD_METHOD) } else { Progress::Incomplete };
    }
    if method == 0 || b[method] != b' ' {
        return Progress::Refuse(BAD_METHOD);
    }
    let Some(eol) = b.iter().position(|c| *c == b'\n') else {
        return Progress::Incomplete;
    };
    let line = b[..eol].strip_suffix(b"\r").unwrap_or(&b[..eol]);
    if !(line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0")) {
        return Progress::Refuse("Only HTTP/1.0 and HTTP/1.1 requests are served here.");
    }
    let mut lines = b[eol + 1..].split(|c| *c == b'\n').peekable();
    let (mut length, mut chunked): (Option<&[u8]>, bool) = (None, false);
    while let Some(l) = lines.next() {
        if lines.peek().is_none() {
            return Progress::Incomplete; // the last piece has no newline yet
        }
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.is_empty() {
            return if length.is_some() && chunked { Progress::Refuse(AMBIGUOUS) } else { Progress::Complete };
        }
        if is_header(l, b"content-length") {
            let value = header_value(l);
            if value.is_empty() || !value.iter().all(u8::is_ascii_digit) || length.is_some_and(|v| v != value) {
                return Progress::Refuse("Content-Length must be one number.");
            }
            length = Some(value);
        }
        chunked |= is_header(l, b"transfer-encoding");
    }
    Progress::Incomplete
}

const BAD_METHOD: &str = "The method must be an upper-case token.";
const AMBIGUOUS: &str = "Content-Length and Transfer-Encoding together are refused.";

/// The value of a header line, without the surrounding spaces.
fn header_value(l: &[u8]) -> &[u8] {
    let v = l.iter().position(|c| *c == b':').map_or(&l[..0], |i| &l[i + 1..]);
    let start = v.iter().position(|c| !matches!(c, b' ' | b'\t')).unwrap_or(v.len());
    let end = v.iter().rposition(|c| !matches!(c, b' ' | b'\t')).map_or(start, |i| i + 1);
    &v[start..end]
}

/// Whether the header line `l` is the header `name` (any case, spaces before the colon too).
fn is_header(l: &[u8], name: &[u8]) -> bool {
    l.len() > name.len()
        && l[..name.len()].eq_ignore_ascii_case(name)
        && l[name.len()..].iter().find(|c| **c != b' ' && **c != b'\t') == Some(&b':')
}

async fn read_head(stream: &mut Stream, limits: &ConnectionLimits, shutdown: &ShutdownWatch) -> Head {
    let mut buf = BytesMut::with_capacity(4096);
    let mut shutdown = shutdown.clone();
    tokio::select! {
        read = tokio::time::timeout(limits.idle_timeout, stream.read_buf(&mut buf)) => match read {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Head::Gone,
        },
        _ = shutdown.changed() => return Head::Gone,
    }
    let rest = async {
        loop {
            match inspect(&buf) {
                Progress::Complete => return Ok(true),
                Progress::Refuse(why) => return Err(why),
                Progress::Incomplete if buf.len() > MAX_HEADER_BYTES => return Ok(true), // pingora: 400
                Progress::Incomplete => {}
            }
            match stream.read_buf(&mut buf).await {
                Ok(n) if n > 0 => {}
                _ => return Ok(false),
            }
        }
    };
    match tokio::time::timeout(limits.header_timeout, rest).await {
        Err(_) => Head::TooSlow,
        Ok(Err(why)) => Head::Refused(why),
        Ok(Ok(false)) => Head::Gone,
        Ok(Ok(true)) => Head::Complete(buf),
    }
}

fn refused(reason: &str) {
    crate::metrics::metrics().connections_refused.with_label_values(&[reason]).inc();
}

/// A complete answer written straight to the socket, before closing it.
/// Write `refusal` as the one error map renders it (status, headers, JSON body) and close.
async fn answer_and_close(stream: &mut Stream, refusal: ApiError) {
    let reply = refusal.into_reply();
    let reason = http::StatusCode::from_u16(reply.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let mut text = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    for (name, value) in &reply.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", reply.body.len()));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(&reply.body);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&bytes)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.flush()).await;
}

#[async_trait]
impl<SV> ServerApp for Edge<SV>
where
    SV: ProxyHttp + Send + Sync + 'static,
    SV::CTX: Send + Sync,
{
    async fn process_new(self: &Arc<Self>, mut stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let Ok(_slot) = self.slots.clone().try_acquire_owned() else {
            refused("over_capacity");
            answer_and_close(&mut stream, ApiError::unavailable("Too many connections.", 1)).await;
            return None;
        };
        let peer = stream.get_socket_digest().and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
        let Ok(_peer_slot) = self.per_ip.take(peer) else {
            refused("over_capacity_per_ip");
            let refusal = ApiError::new(429, "too_many_requests", "Too many connections from this address.")
                .with_header("retry-after", "1");
            answer_and_close(&mut stream, refusal).await;
            return None;
        };
        if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
            return ServerApp::process_new(&self.proxy, stream, shutdown).await;
        }
        let mut persisted: Option<HttpPersistentSettings> = None;
        loop {
            let head = match read_head(&mut stream, &self.limits, shutdown).await {
                Head::Complete(buf) => buf,
                Head::Gone => return None,
                Head::TooSlow => {
                    refused("header_timeout");
                    let refusal = ApiError::new(408, "request_timeout", "The request headers took too long.");
                    answer_and_close(&mut stream, refusal).await;
                    return None;
                }
                Head::Refused(why) => {
                    refused("malformed");
                    answer_and_close(&mut stream, ApiError::invalid_request(why)).await;
                    return None;
                }
            };
            let mut session = ServerSession::new_http1(stream);
            match persisted.take() {
                Some(p) => p.apply_to_session(&mut session),
                None => {
                    session.set_keepalive(Some(self.limits.idle_timeout.as_secs()));
                    let limit = self.proxy.server_options().and_then(|o| o.keepalive_request_limit);
                    session.set_keepalive_reuses_remaining(limit);
                }
            }
            if *shutdown.borrow() {
                session.set_keepalive(None);
            }
            session.set_pipelined_prefix(head);
            let (next, settings) = self.proxy.process_new_http(session, shutdown).await?.consume();
            stream = next;
            persisted = settings;
        }
    }

    async fn cleanup(&self) {
        self.proxy.http_cleanup().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let group = |s: &str| address_group(s.parse().unwrap()).to_string();
        assert_eq!(group("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(group("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::");
        assert_eq!(group("::ffff:10.1.2.3"), "10.1.2.3", "an IPv4-mapped address is its IPv4 address");
        assert_eq!(group("10.1.2.3"), "10.1.2.3");
    }

    #[test]
    fn header_sections_and_their_framing() {
        use Progress::*;
        assert_eq!(inspect(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Complete);
        assert_eq!(inspect(b"GET / HTTP/1.1\nHost: x\n\n"), Complete);
        assert_eq!(inspect(b"GET / HTTP/1.0\r\n\r\n"), Complete);
        assert_eq!(inspect(b"GET / HTTP/1.1\r\nHost: x\r\n"), Incomplete);
        assert_eq!(inspect(b"GE"), Incomplete);
        assert_eq!(inspect(b"\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\nX-Slow: "), Incomplete, "blank lines first");
        assert_eq!(
            inspect(b"GET /a b HTTP/1.1\r\nHost: a\r\nX-Slow: "),
            Incomplete,
            "still waiting, under the deadline"
        );
        assert_eq!(inspect(b"GET /\r\n"), Refuse("Only HTTP/1.0 and HTTP/1.1 requests are served here."));
        assert_eq!(
            inspect(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Refuse("Only HTTP/1.0 and HTTP/1.1 requests are served here.")
        );
        assert_eq!(inspect(b"\x16\x03\x01garbage"), Refuse(BAD_METHOD));
        assert_eq!(inspect(b"delete /x HTTP/1.1\r\n\r\n"), Refuse(BAD_METHOD));
        assert_eq!(inspect(b"Get /x HTTP/1.1\r\n\r\n"), Refuse(BAD_METHOD));
        let both = b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(inspect(both), Refuse(AMBIGUOUS));
        assert_eq!(
            inspect(b"POST /a b HTTP/1.1\r\ntransfer-encoding : chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n"),
            Refuse(AMBIGUOUS)
        );
        assert_eq!(inspect(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"), Complete);
        assert_eq!(inspect(b"POST / HTTP/1.1\r\nContent-Length:  5 \r\nContent-Length: 5\r\n\r\nhello"), Complete);
        for bad in [&b"abc"[..], b"+5", b"5 5", b"-1", b"0x5", b""] {
            let mut req = b"POST / HTTP/1.1\r\nContent-Length: ".to_vec();
            req.extend_from_slice(bad);
            req.extend_from_slice(b"\r\n\r\n");
            assert_eq!(inspect(&req), Refuse("Content-Length must be one number."), "{bad:?}");
        }
        assert_eq!(
            inspect(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Refuse("Content-Length must be one number.")
        );
        assert_eq!(inspect(b"POST / HTTP/1.1\r\nX-Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), Complete);
    }
}
