//! HTTP glue shared by the `inbound` and `outbound` Lambda functions and the `byoc serve` local
//! server: configuration from the environment, the webhook handler, logging, and (feature
//! `lambda`) the adapter from `lambda_http` events.

pub mod app;
pub mod config;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod logging;

pub use app::{App, Endpoint, Endpoints, HttpRequest, HttpResponse, MAX_BODY_BYTES};
pub use config::{Auth, Config, ConfigError, Runtime};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (Lambda, CloudWatch Logs Insights).
    Json,
    /// Human-readable lines (local use).
    Text,
}

/// Installs the global `tracing` subscriber, writing to stderr. The level comes from `RUST_LOG`,
/// else `LOG_LEVEL`, else `info`.
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
    let filter = env_filter("info");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    // A second initialization (tests) is harmless; ignore it.
    let namespace = config::metrics_namespace();
    let _ = match format {
        LogFormat::Json => builder
            .event_format(logging::JsonLines { namespace })
            .try_init(),
        LogFormat::Text => builder
            .compact()
            .with_ansi(false)
            .with_timer(logging::Rfc3339Micros)
            .fmt_fields(logging::text_fields())
            .try_init(),
    };
}

/// Logging for the admin commands (`byoc routes`, `byoc call`): warnings and errors only, as
/// short text lines on stderr (`RUST_LOG` / `LOG_LEVEL` for more).
pub fn init_cli_logging() {
    let filter = env_filter("warn");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .compact()
        .with_ansi(false)
        .fmt_fields(logging::text_fields())
        .try_init();
}

/// `RUST_LOG`, else `LOG_LEVEL`, else `default`.
fn env_filter(default: &str) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    config::log_filter()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default))
}
