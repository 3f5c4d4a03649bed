//! The command line: `authgate [run]`, `authgate check`, `authgate explain`, `authgate dev-tenant`.

use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "authgate",
    version,
    about = "Authentication sidecar: terminates Auth0-style logins and guards the backend."
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, default_value = "gateway.yaml", env = "AUTHGATE_CONFIG")]
    pub config: PathBuf,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "AUTHGATE_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (the default).
    Run,
    /// Validate the configuration and print a summary (no secrets); exit 0 when valid.
    Check,
    /// Which route rule decides a request, and why (for people writing rules). The token's
    /// claims are read without checking its signature; nothing is sent anywhere. Exit 0 when
    /// the rules let it through, 2 when they refuse it.
    Explain {
        /// The request's method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The request's path (and query), as a client would send it.
        #[arg(long)]
        path: String,
        /// An access token (a JWT) whose claims the rules read.
        #[arg(long, conflicts_with = "claims")]
        token: Option<String>,
        /// The claims as JSON, instead of a token: '{"permissions":["read:reports"]}'.
        #[arg(long)]
        claims: Option<String>,
        /// The `secret` header the request carries (for `secret` routes).
        #[arg(long)]
        secret: Option<String>,
    },
    /// Run the embedded dev tenant alone, with the users and clients of the configuration.
    DevTenant {
        /// Address to listen on, e.g. 127.0.0.1:8081.
        #[arg(long)]
        listen: SocketAddr,
    },
}
