//! `byoc serve`: every webhook of both Lambda functions (`/inbound`, `/inbound/status`,
//! `/inbound/fallback`, `/inbound/next`, `/outbound`) on a local HTTP server, with the same
//! handler and cache, over a route file (the embedded example by default) or a DynamoDB table.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use byoc_dynamodb::Profile;
use byoc_web::{App, Auth, Config, Endpoints, LogFormat, Runtime, MAX_BODY_BYTES};

use crate::batched_log;
use crate::error::CliResult;
use crate::source::Source;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub source: Source,
    /// TCP port (0 picks a free one; the chosen port is printed)
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// Address to listen on. Keep the loopback default unless a tunnel needs otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Log format
    #[arg(long, default_value = "text", value_parser = log_format())]
    pub log_format: LogFormat,
}

/// `--log-format`: the names `byoc serve` takes, listed by `--help`.
fn log_format() -> impl clap::builder::TypedValueParser<Value = LogFormat> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(LogFormat::SERVE_NAMES)
        .map(|name| LogFormat::named(&name).unwrap_or(LogFormat::Text))
}

pub fn run(args: Args) -> CliResult {
    // Lines go to stderr from a background thread, in batches: a slow reader (a terminal
    // scrolled back, a pipe nobody drains) must never hold up a call. When the buffer is
    // full, lines are dropped, counted, and the count reported at exit (unless stderr takes
    // nothing at all, when the report could not be written either).
    let (writer, guard) =
        batched_log::start(std::io::stderr(), batched_log::LIMIT, batched_log::WINDOW)
            .context("cannot start the log writer")?;
    let dropped = writer.handle();
    byoc_web::init_logging_to(args.log_format, writer);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(serve(args));
    // Connections still closing are given a moment; nothing logs after this.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    // A stderr that takes nothing (a pipe nobody reads) would hold the report below too.
    let written = guard.finish(batched_log::SHUTDOWN_WAIT);
    if written && dropped.dropped_lines() > 0 {
        eprintln!(
            "byoc serve: {} log lines were dropped: stderr was not read fast enough",
            dropped.dropped_lines()
        );
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let config = Config::from_env(Runtime::Local).context("invalid configuration")?;
    config.announce("byoc serve");
    let choice = args.source.choice()?;
    if matches!(config.auth, Auth::Unsigned) {
        eprintln!(
            "byoc serve: WARNING: TWILIO_AUTH_TOKEN is not set, so X-Twilio-Signature is NOT checked. \
             Local use only: anyone who can reach this port can drive it."
        );
    }
    // A route file is read once at start; a table is read through the same cache as in Lambda.
    let cache = if choice.is_table() {
        config.cache
    } else {
        byoc_store::CacheConfig {
            ttl: std::time::Duration::ZERO,
            ..config.cache
        }
    };
    // No store named: the embedded example, as every read-only `byoc` command.
    let embedded = match choice {
        byoc_dynamodb::StoreSource::None | byoc_dynamodb::StoreSource::SamPlaceholder => Some(
            args.source
                .open_read(&config.inbound.plan, Profile::Admin)
                .await?,
        ),
        _ => None,
    };
    let replica = byoc_dynamodb::ReplicaSource::resolve(byoc_web::config::var)?;
    let opened = choice
        .open_for_calls_or(&config.inbound.plan, cache, embedded, replica.as_ref())
        .await?;
    let store = opened.store;
    let app = Arc::new(App::new(config, store, Endpoints::ALL));
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.bind, args.port))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to find the port.
    println!(
        "byoc serve: listening on http://{addr} (POST|GET /inbound, /inbound/status, /inbound/fallback, /outbound; POST /inbound/next, /outbound/next; routes: {}{})",
        opened.description,
        opened
            .replica
            .map(|r| format!("; replica read when it fails: {r}"))
            .unwrap_or_default()
    );
    let router = axum::Router::new().fallback(handle).with_state(app);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
        .context("server failed")
}

async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return byoc_web::app::payload_too_large().into_response();
    };
    app.handle(http::Request::from_parts(parts, bytes))
        .await
        .into_response()
}

pub(crate) async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
