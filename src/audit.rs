//! The audit trail: one JSON line per security event (logins, brute-force blocks, logouts,
//! sessions ended, management calls, authorization refusals, unknown secrets, reloads), on a
//! `tracing` target of its own (`audit`), written apart from the logs: to stdout, or appended
//! to `audit.file`. Schema version 1 (docs/operating.md lists every event and its fields).
//! Never a password, token, secret or cookie; a failed login's username only with
//! `audit.log_failed_usernames`.

use crate::request_scope::request_id;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Mutex;

/// The `tracing` target of audit events.
pub(crate) const TARGET: &str = "audit";
/// The schema's version, in every event: a field renamed or removed is a new version.
pub(crate) const SCHEMA: u32 = 1;

/// Where audit lines go: stdout (`None`), or a file appended to.
static DESTINATION: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Whether a failed login names the username it tried (`audit.log_failed_usernames`).
static FAILED_USERNAMES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Follow the configuration (at start and on each reload).
pub(crate) fn configure(audit: &crate::config::Audit) -> std::io::Result<()> {
    let file = match &audit.file {
        Some(path) => Some(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
        None => None,
    };
    *DESTINATION.lock().unwrap_or_else(|p| p.into_inner()) = file;
    FAILED_USERNAMES.store(audit.log_failed_usernames, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// The writer of the audit layer (see `telemetry::init`).
pub(crate) struct Writer;

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match DESTINATION.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(file) => file.write_all(buf),
            None => std::io::stdout().lock().write_all(buf),
        }?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match DESTINATION.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(file) => file.flush(),
            None => std::io::stdout().flush(),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Writer {
    type Writer = Writer;
    fn make_writer(&'a self) -> Writer {
        Writer
    }
}

/// A login that got tokens: `grant` is `password`, `ro`, `passwords_api`, `authorization_code`
/// or `browser` (the callback); `user` the token's `sub`.
pub(crate) fn login_succeeded(client: &str, connection: Option<&str>, grant: &str, user: Option<&str>, ip: IpAddr) {
    tracing::info!(target: TARGET, schema = SCHEMA, request_id = request_id().as_deref(), event = "login.succeeded", client, connection, grant, user, client_ip = %ip);
}

/// A login the tenant refused: `reason` is its `error` code (`invalid_grant`, `mfa_required`,
/// `unauthorized`, …), or `unreachable`/`timeout`/`bad_answer`.
pub(crate) fn login_failed(
    client: &str,
    connection: Option<&str>,
    grant: &str,
    username: &str,
    reason: &str,
    ip: IpAddr,
) {
    let username = FAILED_USERNAMES.load(std::sync::atomic::Ordering::Relaxed).then_some(username);
    tracing::info!(target: TARGET, schema = SCHEMA, request_id = request_id().as_deref(), event = "login.failed", client, connection, grant, reason, username, client_ip = %ip);
}

/// A username and IP pair blocked after `failures` consecutive wrong passwords, for
/// `block_seconds` (lifted by itself then). The username is never named: `username_digest` is
/// the first 16 bytes of its SHA-256 in hex, as the store keys it.
pub(crate) fn brute_force_blocked(username_digest: &str, ip: IpAddr, failures: u32, block_seconds: u64) {
    tracing::warn!(target: TARGET, schema = SCHEMA, request_id = request_id().as_deref(), event = "brute_force.blocked", username_digest, client_ip = %ip, failures, block_seconds);
}

/// A logout; `user` and `client` of the session it ended, when it named one.
pub(crate) fn logout(client: Option<&str>, user: Option<&str>, ip: IpAddr) {
    tracing::info!(target: TARGET, schema = SCHEMA, request_id = request_id().as_deref(), event = "logout", client, user, client_ip = %ip);
}

/// Sessions of `user` ended by someone else than the user: `by` is `admin` (`DELETE
/// /sessions/{userId}`), `user_blocked`, `user_deleted` or `backchannel` (the tenant).
pub(crate) fn sessions_ended(by: &str, user: &str, sessions: usize, caller: Option<&str>) {
    tracing::info!(target: TARGET, schema = SCHEMA, request_id = request_id().as_deref(), event = "sessions.ended", by, user, sessions, caller);
}

/// A call to the user-management endpoints by the management client `caller`: `operation`
/// (`list`, `create`, `get`, `update`, `delete`, `import`, …), the user it named, its status.
pub(crate) fn management(caller: &str, operation: &str, user: Option<&str>, status: u16, ip: IpAddr) {
    tracing::info!(target: TARGET, schema = SCHEMA, request_id = request_id().as_deref(), event = "management", caller, operation, user, status, client_ip = %ip);
}

/// A request a route's rule refused (`403 access_denied`): the rule, the method and the
/// normalised path, who asked.
pub(crate) fn access_denied(
    rule: &str,
    method: &str,
    path: &str,
    user: Option<&str>,
    client: Option<&str>,
    ip: IpAddr,
) {
    tracing::info!(target: TARGET, schema = SCHEMA, request_id = request_id().as_deref(), event = "access.denied", rule, method, path, user, client, client_ip = %ip);
}

/// A `secret` header that names no client, on `route` (a route class: `token`, `backend`, …).
pub(crate) fn secret_refused(route: &str, ip: IpAddr) {
    tracing::warn!(target: TARGET, schema = SCHEMA, request_id = request_id().as_deref(), event = "secret.refused", route, client_ip = %ip);
}

/// A configuration reload, taken or refused (`problem`: why).
pub(crate) fn config_reloaded(accepted: bool, problem: Option<&str>) {
    tracing::info!(target: TARGET, schema = SCHEMA, request_id = request_id().as_deref(), event = "config.reloaded", accepted, problem);
}
