//! `byoc`: manage byoc-router routes (in a DynamoDB table or a JSON route file) and run both
//! webhooks locally.
//!
//! Exit codes are named in `error.rs` ([`error::Exit`]) and listed by `byoc --help`.

/// `println!` for command output: a reader that goes away (`byoc routes list | head`) ends the
/// command quietly instead of a "Broken pipe" panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

mod batched_log;
mod call;
mod calls;
mod console;
mod error;
mod resolve;
mod routes;
mod serve;
mod source;
mod twilio;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{report, Failure};

/// The route file `byoc` uses when none is given (a copy of `infra/routes.example.json`).
pub const EMBEDDED_ROUTES: &str = include_str!("../../../infra/routes.example.json");

#[derive(Parser)]
#[command(
    name = "byoc",
    version,
    about = "byoc-router: route Twilio BYOC calls by DID",
    after_help = error::EXIT_CODES_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the /inbound and /outbound webhooks locally.
    Serve(serve::Args),
    /// See, edit, test and audit routes in a browser (a local web console).
    Console(Box<console::Args>),
    /// Manage routes.
    Routes {
        #[command(subcommand)]
        command: Box<routes::Command>,
    },
    /// See the calls the router answered: recent calls, a summary per route, one call's lines.
    Calls(Box<calls::Args>),
    /// Place a test call over the BYOC trunk through Twilio's Calls API.
    Call(Box<call::Args>),
    /// Point a Twilio SIP domain at a deployment, check it, list domains and BYOC trunks.
    Twilio {
        #[command(subcommand)]
        command: Box<twilio::Command>,
    },
    /// Manage the DynamoDB routes table.
    Table {
        #[command(subcommand)]
        command: routes::TableCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // `serve` sets up its own logging (one line per call).
        byoc_web::init_cli_logging();
    }
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        command => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(async move {
                match command {
                    Command::Routes { command } => routes::run(*command).await,
                    Command::Table { command } => routes::run_table(command).await,
                    Command::Call(args) => call::run(*args).await,
                    Command::Calls(args) => calls::run(*args).await,
                    Command::Twilio { command } => twilio::run(*command).await,
                    Command::Console(args) => console::run(*args).await,
                    Command::Serve(_) => unreachable!("handled above"),
                }
            }),
            Err(e) => Err(Failure::from(e)),
        },
    };
    match result {
        Ok(code) => code,
        Err(failure) => report(failure),
    }
}
