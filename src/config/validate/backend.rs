//! The `backend` block: the service behind the sidecar.

use super::scalars::{http_url, is_loopback};
use super::Problems;
use crate::config::file::FileBackend;
use crate::config::model::Backend;

pub(super) fn backend(p: &mut Problems, b: FileBackend) -> Option<Backend> {
    let url = http_url(p, "backend.url", &b.url)?;
    let host = url.host_str()?.to_string();
    let port = url.port_or_known_default()?;
    if b.embedded_echo && !is_loopback(&url) {
        p.push("backend.embedded_echo", format!("the echo backend listens on loopback only, not on {host:?}"));
    }
    Some(Backend {
        address: format!("{host}:{port}"),
        tls: url.scheme() == "https",
        sni: host.trim_start_matches('[').trim_end_matches(']').to_string(),
        url,
        embedded_echo: b.embedded_echo,
    })
}
