//! Log setup: tracing to stderr, readable text or JSON; `RUST_LOG` filters (default `info`).
//! Crates that print headers and bodies verbatim at debug level are capped at `info` whatever
//! `RUST_LOG` says, so no secret, password, token or cookie reaches a log line.

use crate::cli::LogFormat;
use tracing_subscriber::EnvFilter;

/// Targets whose debug output contains request or response payloads.
const PAYLOAD_DUMPING_TARGETS: [&str; 6] = ["pingora_proxy", "pingora_core", "hyper", "hyper_util", "h2", "reqwest"];

pub(crate) fn filter(rust_log: Option<&str>) -> EnvFilter {
    let mut filter = rust_log.and_then(|s| EnvFilter::try_new(s).ok()).unwrap_or_else(|| EnvFilter::new("info"));
    for target in PAYLOAD_DUMPING_TARGETS {
        filter = filter.add_directive(format!("{target}=info").parse().expect("valid directive"));
    }
    filter
}

pub fn init(format: LogFormat) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
