//! HTTP glue shared by the `inbound` and `outbound` Lambda functions and the `byoc serve` local
//! server: configuration from the environment, the webhook handler, logging, and (feature
//! `lambda`) the adapter from `lambda_http` events.

pub mod app;
pub mod auth;
pub mod config;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod logging;

pub use app::{App, Endpoint, Endpoints, HttpRequest, HttpResponse, MAX_BODY_BYTES};
pub use config::{Auth, Config, ConfigError, Runtime};

pub use logging::LogFormat;

/// Installs the process's logging, to stderr, at `info` unless `RUST_LOG` / `LOG_LEVEL` say
/// otherwise.
///
/// The functions write each line as it is made: Lambda freezes the process once the response
/// is returned, so a line left in a buffer would reach CloudWatch only at the next invoke, or
/// never. `byoc serve` writes through [`init_logging_to`] with a non-blocking writer.
pub fn init_logging(format: LogFormat) {
    init_logging_to(format, std::io::stderr)
}

/// [`init_logging`] into `writer`.
pub fn init_logging_to<W>(format: LogFormat, writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    logging::install(format, "info", writer)
}

/// Logging for the admin commands (`byoc routes`, `byoc call`): warnings and errors only, as
/// short text lines on stderr (`RUST_LOG` / `LOG_LEVEL` for more).
pub fn init_cli_logging() {
    logging::install(LogFormat::Cli, "warn", std::io::stderr)
}
