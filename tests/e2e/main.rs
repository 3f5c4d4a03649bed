//! The end-to-end tests: the real binary (a child process per test, stopped by its PID), the
//! dev tenant and the echo backend on free loopback ports, real Redis servers where state is
//! shared. One test binary, a module per area, so pingora is linked once.
//! One area alone: `cargo test --test e2e users::`.

mod common;

mod audit;
mod authorization;
mod bad_input;
mod browser_login;
mod cli;
mod connections;
mod docs_examples;
mod forward_auth;
mod guard;
mod idtoken;
mod legacy;
mod limits;
mod logs;
mod operations;
mod proxy;
mod refresh;
mod revocations;
mod security;
mod session;
mod session_refresh;
mod shared_state;
mod tenant_faults;
mod token;
mod traces;
mod users;
