//! Log setup: tracing to stderr, readable text or JSON; `RUST_LOG` filters (default `info`).
//! The audit trail (`crate::audit`) is a layer of its own: JSON lines of the `audit` target, to
//! stdout or `audit.file`, whatever `RUST_LOG` says; the logs leave that target out.
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
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref())
        .add_directive(format!("{}=off", crate::audit::TARGET).parse().expect("valid directive"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs.with_filter(filter).boxed(),
        LogFormat::Json => logs.json().with_filter(filter).boxed(),
    };
    let audit = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(crate::audit::Writer)
        .with_filter(
            tracing_subscriber::filter::Targets::new().with_target(crate::audit::TARGET, tracing::Level::INFO),
        );
    let otel = crate::otel::layer().unwrap_or_else(|e| {
        eprintln!("authgate: {e}");
        None
    });
    let _ = tracing_subscriber::registry().with(logs).with(audit).with(otel).try_init();
}
