//! `byoc console`: a web page and a small JSON API for routes, served from this binary over the
//! same `RouteAdmin` as `byoc routes`. Nothing is deployed: it runs where the operator's AWS
//! credentials (or route file) are.
//!
//! Security, since it writes production routing:
//! - every `/api/` request needs the per-launch token (`Authorization: Bearer …`, compared in
//!   constant time); the page gets it once from the URL fragment and never puts it in a URL;
//! - `Host` must be the address the server is bound to (a DNS-rebinding guard);
//! - requests that change something need `Content-Type: application/json` and a same-origin
//!   `Origin`; no CORS headers are ever sent;
//! - a strict CSP (no inline script or style), `X-Frame-Options: DENY`, `Referrer-Policy:
//!   no-referrer`; bodies are bounded.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | arguments, start-up, the router, static assets |
//! | `guard.rs` | the security rules, as middleware layers |
//! | `api.rs` | the JSON API's handlers |
//! | `calls.rs` | the Calls tab's handler, over `byoc calls`' reader |
//! | `assets/` | the page: `index.html`, `console.css`, `console.js` (embedded at build time) |

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use base64::Engine as _;
use byoc_dynamodb::OpenedStore;
use byoc_web::{Config, Runtime};
use http::{header, Method, StatusCode};

use crate::error::CliResult;
use crate::routes::Actor;
use crate::source::Source;

mod api;
mod calls;
mod guard;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub source: Source,
    /// TCP port (0 picks a free one)
    #[arg(long, default_value_t = 8155)]
    pub port: u16,
    /// Address to listen on; anything but loopback also needs --allow-remote
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Allow a non-loopback --bind. The console edits production routing: anyone who can reach
    /// the port and learns the token (it travels in clear over plain HTTP) can change where
    /// every call goes. Prefer an SSH tunnel to a loopback console.
    #[arg(long)]
    pub allow_remote: bool,
    /// Do not open a browser
    #[arg(long)]
    pub no_open: bool,
    #[command(flatten)]
    pub actor: Actor,
    /// The Calls tab's calls: --calls FILE (byoc serve --log-format json), --stack or --log-group
    #[command(flatten)]
    pub calls: crate::calls::LogSource,
}

/// Bodies of route edits and calls to test; imports carry whole files.
const BODY_MAX: usize = 256 * 1024;
const IMPORT_BODY_MAX: usize = 16 * 1024 * 1024;

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// Everything a request needs.
pub(crate) struct Console {
    pub opened: OpenedStore,
    pub config: Config,
    pub actor: String,
    /// No store was named: the embedded example, read-only.
    pub read_only: bool,
    /// The import being applied: writes done and total (0 / 0 when none), for the page's
    /// progress while its apply request is in flight.
    pub import_done: std::sync::atomic::AtomicUsize,
    pub import_total: std::sync::atomic::AtomicUsize,
    /// Where the Calls tab reads calls, if anywhere.
    pub calls: Option<crate::calls::Logs>,
    /// Held while the Calls tab reads.
    pub calls_reading: tokio::sync::Mutex<()>,
    token: String,
    /// The `Host` values accepted (`127.0.0.1:PORT`, and `localhost:PORT` on loopback).
    hosts: Vec<String>,
    /// The `Origin` values accepted for changes (`http://` + a host above).
    origins: Vec<String>,
}

pub async fn run(args: Args) -> CliResult {
    if !args.bind.is_loopback() && !args.allow_remote {
        return Err(anyhow::anyhow!(
            "--bind {} is not a loopback address: the console edits production routing, and anyone \
             who reaches it with the token can change where calls go; the token would cross the \
             network in clear. Use an SSH tunnel to 127.0.0.1, or add --allow-remote if you must",
            args.bind
        )
        .into());
    }
    // Opened first, so that a missing stack or log file fails with its own exit code.
    let calls = if args.calls.is_set() {
        if args.calls.log.as_deref() == Some(std::path::Path::new("-")) {
            return Err(anyhow::anyhow!(
                "--calls -: the console reads its log file again on every refresh; name a file"
            )
            .into());
        }
        Some(args.calls.open().await?)
    } else {
        None
    };
    serve(args, calls).await?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: Args, calls: Option<crate::calls::Logs>) -> anyhow::Result<()> {
    let config = Config::from_env(Runtime::Local).context("invalid configuration")?;
    let plan = config.inbound.plan.clone();
    let choice = args.source.choice()?;
    let read_only = matches!(choice, byoc_dynamodb::StoreSource::None);
    // A mistyped path must not become a new, empty route store.
    if let byoc_dynamodb::StoreSource::File(path) = &choice {
        if !path.exists() {
            anyhow::bail!(
                "route file {} does not exist; check the path, or start one with \
                 `byoc routes import infra/routes.example.json --routes {}`",
                path.display(),
                path.display()
            );
        }
    }
    let opened = if read_only {
        args.source
            .open_read(&plan, byoc_dynamodb::Profile::Admin)
            .await?
    } else {
        args.source.open_write(&plan).await?
    };
    // The routes' order is made before the first page is asked for (a million keys take a
    // few hundred milliseconds to sort; after a change, the next page sorts them again).
    let _ = opened.admin.each(None, None, Some(1), &mut |_| false).await;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.bind, args.port))?;
    let addr = listener.local_addr()?;
    let mut hosts = vec![addr.to_string()];
    if addr.ip().is_loopback() {
        hosts.push(format!("localhost:{}", addr.port()));
    }
    let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
    let token = new_token()?;
    let url = format!("http://{addr}/#token={token}");
    // Tests and scripts read this line.
    println!("console: {url}");
    eprintln!(
        "byoc console: {} ({}); changes recorded as {}",
        opened.description,
        if read_only {
            "read-only: the embedded example; name a store with --routes FILE or --table NAME to edit"
        } else {
            "read-write"
        },
        args.actor.get()
    );
    if !args.no_open {
        open_browser(&url);
    }
    let console = Arc::new(Console {
        opened,
        config,
        actor: args.actor.get(),
        read_only,
        import_done: Default::default(),
        import_total: Default::default(),
        calls,
        calls_reading: Default::default(),
        token,
        hosts,
        origins,
    });
    axum::serve(listener, router(console))
        .with_graceful_shutdown(crate::serve::shutdown())
        .await
        .context("server failed")
}

/// 32 random bytes from the operating system, base64url: 256 bits, URL-safe.
fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read random bytes for the console token")?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    // Best effort: the printed line is the way in when no browser opens.
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// The page and the API, behind the security layers of `guard.rs` (outermost first: headers
/// on every answer, the `Host` check, then for `/api/` the token, methods and origin).
fn router(console: Arc<Console>) -> Router {
    // A route file changed by someone else (the CLI, an editor) is read again first.
    let refreshed = Router::new()
        .route("/info", get(api::info).fallback(wrong_method))
        .route("/routes", get(api::list).fallback(wrong_method))
        .route("/routes/count", get(api::count).fallback(wrong_method))
        .route(
            "/route",
            get(api::get).post(api::save).fallback(wrong_method),
        )
        .route("/route/delete", post(api::delete).fallback(wrong_method))
        .route("/history", get(api::history).fallback(wrong_method))
        .route("/resolve", post(api::resolve_call).fallback(wrong_method))
        .route("/import", post(api::import_routes).fallback(wrong_method))
        .route("/export", get(api::export).fallback(wrong_method))
        .route_layer(from_fn_with_state(console.clone(), api::refresh));
    let api = refreshed
        .route(
            "/import/progress",
            get(api::progress).fallback(wrong_method),
        )
        .route("/calls", get(calls::calls).fallback(wrong_method))
        .fallback(no_such_api)
        .layer(from_fn_with_state(console.clone(), guard::api));
    let page = |body: &'static str, content_type: &'static str| -> MethodRouter<Arc<Console>> {
        get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) })
            .fallback(page_method)
    };
    Router::new()
        .route("/", page(INDEX_HTML, "text/html; charset=utf-8"))
        .route("/index.html", page(INDEX_HTML, "text/html; charset=utf-8"))
        .route(
            "/console.js",
            page(CONSOLE_JS, "text/javascript; charset=utf-8"),
        )
        .route("/console.css", page(CONSOLE_CSS, "text/css; charset=utf-8"))
        .nest("/api", api)
        .fallback(no_such_page)
        .layer(from_fn_with_state(console.clone(), guard::host))
        .layer(from_fn(guard::headers))
        .with_state(console)
}

async fn wrong_method() -> Response {
    refuse(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
}

async fn no_such_api() -> Response {
    refuse(StatusCode::NOT_FOUND, "no such API")
}

async fn page_method() -> Response {
    refuse(StatusCode::METHOD_NOT_ALLOWED, "the page is read with GET")
}

async fn no_such_page(method: Method) -> Response {
    if method == Method::GET {
        refuse(StatusCode::NOT_FOUND, "no such page")
    } else {
        page_method().await
    }
}

/// An error as JSON: `{"error": reason}`.
pub(crate) fn refuse(status: StatusCode, reason: &str) -> Response {
    json(status, &serde_json::json!({ "error": reason }))
}

pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::guard::constant_time_eq;
    use super::*;

    #[test]
    fn tokens_are_long_url_safe_and_compared_whole() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), &a.as_bytes()[..42]));
    }
}
