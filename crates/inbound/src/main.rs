//! The inbound Lambda: answers the SIP domain / BYOC trunk "A call comes in" webhook with the
//! matched route's TwiML. Glue only; the behaviour lives in byoc-core, byoc-store and byoc-web.
//!
//! Routes come from `ROUTES_TABLE` (DynamoDB) or `ROUTES_FILE` (a route file bundled with the
//! function); both set is an error; neither, every call gets the default (see
//! `byoc_dynamodb::StoreSource`).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use byoc_core::Address;
use byoc_dynamodb::{BothStores, Profile, StoreSource, TrustSource};
use byoc_store::{CachedStore, MemoryStore, RouteStore};
use byoc_web::{App, Config, Endpoints, LogFormat, Runtime};

fn main() {
    let source = StoreSource::resolve(None, None);
    // Only for DynamoDB, and before any thread exists (it sets SSL_CERT_FILE): one bundle file
    // instead of a scan of the certificate directories at the first TLS connection.
    let trust =
        matches!(source, Ok(StoreSource::Table(_))).then(byoc_dynamodb::use_system_ca_bundle);
    byoc_web::init_logging(LogFormat::Json);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(source, trust)));
    if let Err(e) = result {
        // One JSON line with the whole cause chain, so the reason shows in CloudWatch.
        tracing::error!(error = format!("{e:#}"), "inbound stopped");
        std::process::exit(1);
    }
}

async fn run(
    source: Result<StoreSource, BothStores>,
    trust: Option<TrustSource>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = Config::from_env(Runtime::Lambda).context("invalid configuration")?;
    let source = source?;
    // Created once per execution environment; every attempt bounded by the call budget.
    let profile = Profile::CallPath {
        budget: config.cache.budget,
    };
    let opened = source
        .open(&config.inbound.plan, profile, false)
        .await
        .context(match source {
            StoreSource::File(_) => "cannot load ROUTES_FILE",
            _ => "cannot open the route store",
        })?;
    let store: Arc<dyn RouteStore> = match opened {
        Some(opened) => opened.store,
        None => {
            tracing::warn!(
                "neither ROUTES_TABLE nor ROUTES_FILE is set: every call gets the default route"
            );
            Arc::new(MemoryStore::new())
        }
    };
    let client_ms = started.elapsed().as_millis() as u64;
    let cached = Arc::new(CachedStore::new(store, config.cache));
    let init_type = std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").unwrap_or_default();
    // Warm-up: learns the `*` route for degraded answers and, for DynamoDB, sets up the
    // connection and TLS during init. On an on-demand cold start the caller waits for init
    // too, so this trades one extra round trip for doing the handshake while init has a full
    // vCPU (a 128 MB function gets a fraction of one once invoked); with provisioned
    // concurrency it is free. Its outcome does not stop the function.
    let warm = cached
        .lookup(&Address::Literal("byoc-warmup".to_string()), None)
        .await;
    let warmup = warm.degraded.map_or("ok", |f| f.as_str());
    tracing::info!(
        store = %cached.inner().describe(),
        client_ms,
        init_ms = started.elapsed().as_millis() as u64,
        init_type,
        warmup,
        ca_certificates = trust.map_or("not used".to_string(), |t| t.to_string()),
        "inbound ready"
    );
    let app = Arc::new(App::new(config, cached, Endpoints::INBOUND));
    byoc_web::lambda::run(app)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
