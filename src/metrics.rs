//! Prometheus metrics, registered once for the process and rendered at the admin `/metrics`.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};
use std::sync::OnceLock;

pub(crate) struct Metrics {
    registry: Registry,
    /// Every metric registered, with its label names: what docs/operating.md must list.
    #[cfg_attr(not(test), allow(dead_code))]
    described: Vec<(String, Vec<String>)>,
    /// Requests by route class, client and status.
    pub(crate) requests: IntCounterVec,
    /// Time from the request's arrival to the end of its response, by route class.
    pub(crate) request_seconds: HistogramVec,
    /// Calls to the tenant by operation.
    pub(crate) tenant_seconds: HistogramVec,
    /// Failed tenant calls by kind: rejected, unreachable, timeout, bad_answer.
    pub(crate) tenant_errors: IntCounterVec,
    /// Requests refused by a limit: login, login_attempts, backend_per_ip, backend_per_user, brute_force.
    pub(crate) limit_refusals: IntCounterVec,
    /// JWKS fetches by result: ok, error.
    pub(crate) jwks_fetches: IntCounterVec,
    /// Configuration reloads by result: ok, error.
    pub(crate) config_reloads: IntCounterVec,
    /// Requests being handled right now.
    pub(crate) in_flight: IntGauge,
    /// Connections closed at the edge by reason: over_capacity, header_timeout, ambiguous_framing.
    pub(crate) connections_refused: IntCounterVec,
    /// Failed store (Redis) operations by operation.
    pub(crate) store_errors: IntCounterVec,
    /// Revoked tokens and session ids this replica keeps.
    pub(crate) revocations: IntGauge,
    /// 1 while the revocation list is at its capacity (new sessions refused).
    pub(crate) revocations_full: IntGauge,
    /// Revocations made here that the store has not taken yet (published again each feed read).
    pub(crate) revocations_unpublished: IntGauge,
    /// Session refreshes by outcome: refreshed (the tenant was called), joined (another
    /// caller's refresh of the same session was shared), refused (the tenant refused).
    pub(crate) refreshes: IntCounterVec,
    /// Back-channel logouts by outcome: ended, no_session, refused, replayed, unavailable.
    pub(crate) backchannel_logouts: IntCounterVec,
    /// The verified-token cache's lookups by result: hit, miss.
    pub(crate) token_cache_lookups: IntCounterVec,
    /// Spans the trace collector did not take (down, slow, refusing): not sent again.
    pub(crate) trace_spans_dropped: prometheus::IntCounter,
}

const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let described = std::cell::RefCell::new(Vec::new());
        let describe = |name: &str, labels: &[&str]| {
            described.borrow_mut().push((name.to_string(), labels.iter().map(|l| l.to_string()).collect()));
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("registered once");
            describe(name, labels);
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()), labels)
                .expect("valid metric");
            registry.register(Box::new(h.clone())).expect("registered once");
            describe(name, labels);
            h
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry.register(Box::new(g.clone())).expect("registered once");
            describe(name, &[]);
            g
        };
        let in_flight = gauge("authgate_requests_in_flight", "Requests being handled.");
        let revocations = gauge("authgate_revocations", "Revoked tokens and session ids this replica keeps.");
        let revocations_full = gauge(
            "authgate_revocations_full",
            "1 while the revocation list is at its capacity: new sessions are refused.",
        );
        let trace_spans_dropped = {
            let name = "authgate_trace_spans_dropped_total";
            let c = prometheus::IntCounter::new(name, "Spans the trace collector did not take: not sent again.")
                .expect("valid metric");
            registry.register(Box::new(c.clone())).expect("registered once");
            describe(name, &[]);
            c
        };
        let revocations_unpublished = gauge(
            "authgate_revocations_unpublished",
            "Revocations made on this replica that the store has not taken yet: retried before each feed read.",
        );
        let metrics = Metrics {
            requests: counter(
                "authgate_requests_total",
                "Requests by route class, client, status and the guard's decision.",
                &["route", "client", "status", "decision"],
            ),
            request_seconds: histogram(
                "authgate_request_duration_seconds",
                "Gateway latency by route class.",
                &["route"],
            ),
            tenant_seconds: histogram(
                "authgate_tenant_request_duration_seconds",
                "Tenant call latency by operation.",
                &["operation"],
            ),
            tenant_errors: counter("authgate_tenant_errors_total", "Failed tenant calls by kind.", &["kind"]),
            limit_refusals: counter(
                "authgate_limit_refusals_total",
                "Requests refused by a rate limit or brute-force block.",
                &["limit"],
            ),
            jwks_fetches: counter("authgate_jwks_fetches_total", "JWKS fetches by result.", &["result"]),
            config_reloads: counter("authgate_config_reloads_total", "Configuration reloads by result.", &["result"]),
            in_flight,
            connections_refused: counter(
                "authgate_connections_refused_total",
                "Downstream connections closed at the edge, by reason.",
                &["reason"],
            ),
            store_errors: counter(
                "authgate_store_errors_total",
                "Failed store operations (Redis unreachable, timed out) by operation.",
                &["operation"],
            ),
            revocations,
            revocations_full,
            revocations_unpublished,
            refreshes: counter(
                "authgate_refreshes_total",
                "Session refreshes by outcome: refreshed, joined (another caller's refresh shared), refused.",
                &["outcome"],
            ),
            backchannel_logouts: counter(
                "authgate_backchannel_logouts_total",
                "Back-channel logout tokens by outcome: ended, no_session, refused, replayed, unavailable.",
                &["outcome"],
            ),
            trace_spans_dropped,
            token_cache_lookups: counter(
                "authgate_token_cache_lookups_total",
                "Lookups of the verified-token cache by result: hit (no signature check), miss.",
                &["result"],
            ),
            registry,
            described: Vec::new(),
        };
        Metrics { described: described.into_inner(), ..metrics }
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding");
        String::from_utf8(out).expect("UTF-8")
    }
}

/// The process's metrics.
pub(crate) fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    /// docs/operating.md's metrics table lists exactly the metrics registered, with their labels.
    #[test]
    fn the_operating_guide_lists_every_metric_with_its_labels() {
        // Read at test time (not include_str!: docs/ is not in the image's build context).
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operating.md")).unwrap();
        let mut listed: Vec<(String, Vec<String>)> = doc
            .lines()
            .filter(|l| l.starts_with("| `authgate_"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').skip(1).map(str::trim).collect();
                let name = cells[0].trim_matches('`').to_string();
                let labels =
                    cells[1].split(", ").map(|x| x.trim().trim_matches('`').to_string()).filter(|x| !x.is_empty());
                (name, labels.collect())
            })
            .collect();
        let mut registered = super::metrics().described.clone();
        listed.sort();
        registered.sort();
        assert_eq!(listed, registered);
    }
}
