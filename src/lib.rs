//! authgate: an authentication sidecar on pingora. It answers the login calls itself
//! against an Auth0-style tenant and proxies everything else to the backend.
// Items are `pub(crate)` unless the binary, the end-to-end tests, benches or examples need them.
#![warn(unreachable_pub)]

pub(crate) mod admin;
pub mod app;
pub(crate) mod authz;
pub mod cli;
pub mod config;
pub mod dev;
pub(crate) mod discovery;
pub(crate) mod forward_auth;

pub mod guard;
pub(crate) mod http;
pub(crate) mod idtoken;
pub mod jwt;
pub mod limits;
pub mod login;
pub(crate) mod metrics;
pub(crate) mod process;
pub mod proxy;
pub(crate) mod reload;
pub(crate) mod request_scope;
pub(crate) mod revocations;
pub(crate) mod routing;
pub mod server;
pub mod session;
pub(crate) mod store;
pub mod telemetry;
pub(crate) mod tenant_client;
pub(crate) mod users;
