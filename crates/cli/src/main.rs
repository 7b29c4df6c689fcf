//! `byoc`: manage byoc-router routes and run both webhooks locally.

mod resolve;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The route file `byoc` uses when none is given (a copy of `infra/routes.example.json`).
pub const EMBEDDED_ROUTES: &str = include_str!("../../../infra/routes.example.json");

#[derive(Parser)]
#[command(
    name = "byoc",
    version,
    about = "byoc-router: route Twilio BYOC calls by DID"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the /inbound and /outbound webhooks locally over a route file.
    Serve(serve::Args),
    /// Inspect routes.
    Routes {
        #[command(subcommand)]
        command: RoutesCommand,
    },
}

#[derive(Subcommand)]
enum RoutesCommand {
    /// Show which route a number gets, and why.
    Resolve(resolve::Args),
}

/// Where routes come from: a JSON route file, or the embedded example.
#[derive(clap::Args, Clone, Debug)]
pub struct RouteSource {
    /// JSON route file [default: the embedded copy of infra/routes.example.json]
    #[arg(long, env = "ROUTES_FILE", value_name = "FILE")]
    pub routes: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Routes {
            command: RoutesCommand::Resolve(args),
        } => resolve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("byoc: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
