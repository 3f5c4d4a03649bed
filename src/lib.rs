//! authgate: an authentication sidecar on pingora. It answers the login calls itself
//! against an Auth0-style tenant and proxies everything else to the backend.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod dev;
pub mod discovery;
pub mod error;
pub mod exchange;
pub mod guard;
pub mod idtoken;
pub mod limits;
pub mod login;
pub mod metrics;
pub mod path;
pub mod proxy;
pub mod reload;
pub mod request_scope;
pub mod server;
pub mod session;
pub mod shared;
pub mod signing;
pub mod store;
pub mod telemetry;
pub mod tenant;
pub mod users;
