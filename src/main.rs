//! authgate's entry point: parse the command line, load the configuration, run.

use authgate::cli::{Cli, Command};
use authgate::{config, dev, server, telemetry};
use clap::Parser;
use std::process::ExitCode;

/// jemalloc: pingora allocates and frees header maps and buffers on every request; jemalloc
/// serves them faster than glibc's malloc and holds less per idle connection (bench/run.sh:
/// Bearer +9-19 %, 24 KiB instead of 32.5 KiB a connection, idle 20 MiB). mimalloc was faster
/// still but held 84 KiB a connection and 27 MiB idle (docs/performance.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Exit status for an invalid configuration (EX_USAGE).
const BAD_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let config = match config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(BAD_CONFIG);
        }
    };
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Check => {
            println!("{}: valid\n{}", cli.config.display(), config.summary());
            for w in config.warnings() {
                eprintln!("warning: {w}");
            }
            Ok(())
        }
        Command::Run => server::run(config, Some(cli.config.clone())).map_err(|e| e.to_string()),
        Command::DevTenant { listen } => run_dev_tenant(config, listen),
        Command::Explain { method, path, token, claims, secret } => {
            match authgate::authz_explain(
                &config,
                &method,
                &path,
                token.as_deref(),
                claims.as_deref(),
                secret.as_deref(),
            ) {
                Ok((text, allowed)) => {
                    print!("{text}");
                    return if allowed { ExitCode::SUCCESS } else { ExitCode::from(2) };
                }
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_dev_tenant(config: config::Config, listen: std::net::SocketAddr) -> Result<(), String> {
    let tenant = dev::tenant::from_config(&config, &format!("http://{listen}"))?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        println!(
            "authgate dev tenant on http://{listen} (issuer {}); not a production identity provider",
            tenant.issuer()
        );
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
        tokio::select! {
            r = tenant.serve(listener) => r.map_err(|e| e.to_string()),
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = term.recv() => Ok(()),
        }
    })
}
