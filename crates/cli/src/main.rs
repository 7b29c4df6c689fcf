//! `byoc`: manage byoc-router routes (in a DynamoDB table or a JSON route file) and run both
//! webhooks locally.
//!
//! Exit codes: 0 success; 1 not found / unusable number / `byoc twilio check` found a problem; 2 invalid input or configuration
//! (including a call refused by policy); 3 a conflicting edit (exists, version mismatch); 4 the
//! store or Twilio is unreachable; 5 Twilio refused the request.

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
mod console;
mod resolve;
mod routes;
mod serve;
mod source;
mod twilio;

use std::process::ExitCode;

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
    /// Serve the /inbound and /outbound webhooks locally.
    Serve(serve::Args),
    /// See, edit, test and audit routes in a browser (a local web console).
    Console(Box<console::Args>),
    /// Manage routes.
    Routes {
        #[command(subcommand)]
        command: Box<routes::Command>,
    },
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

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        let error: anyhow::Error = e.into();
        if let Some(e) = error.downcast_ref::<twilio::api::TwilioError>() {
            return Self {
                code: e.exit_code(),
                error,
            };
        }
        let code = match error.downcast_ref::<byoc_store::StoreError>() {
            Some(byoc_store::StoreError::NotFound { .. }) => 1,
            Some(
                byoc_store::StoreError::Exists { .. }
                | byoc_store::StoreError::VersionMismatch { .. }
                | byoc_store::StoreError::Conflict { .. },
            ) => 3,
            Some(byoc_store::StoreError::Unavailable(_)) => 4,
            Some(byoc_store::StoreError::NoTable { .. }) => 2,
            _ => 2,
        };
        Self { code, error }
    }
}

pub type CliResult = Result<ExitCode, Failure>;

/// What to do about a store error, in terms of this CLI (the store's own messages say only what
/// happened, so the console and the Lambda logs can use them too).
fn hint(error: &byoc_store::StoreError) -> Option<String> {
    use byoc_store::StoreError;
    match error {
        StoreError::NoTable { table } => Some(format!(
            "create it with `byoc table create --table {table}` (or deploy template.yaml), \
             or check --table / ROUTES_TABLE, AWS_REGION and any local endpoint \
             (AWS_ENDPOINT_URL_DYNAMODB, DYNAMODB_ENDPOINT_URL)"
        )),
        StoreError::Exists { version, .. } => Some(format!(
            "pass --replace, or --expect-version {version} to update that version"
        )),
        StoreError::Corrupt { pattern, .. } => Some(format!(
            "its calls get the degraded answer until it is fixed: write it anew with              `byoc routes put {pattern} --action … --replace`, or `byoc routes delete {pattern}`"
        )),
        _ => None,
    }
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
        // The reader of our output went away (`| head`): not an error of ours.
        Err(Failure { error, .. })
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(Failure { code, error }) => {
            eprintln!("byoc: error: {error:#}");
            let hint = error.downcast_ref().and_then(hint).or_else(|| {
                error
                    .downcast_ref::<twilio::api::TwilioError>()
                    .and_then(|e| e.hint())
            });
            if let Some(hint) = hint {
                eprintln!("byoc: hint: {hint}");
            }
            ExitCode::from(code)
        }
    }
}
