//! The inbound Lambda: answers the SIP domain / BYOC trunk "A call comes in" webhook with the
//! matched route's TwiML. Glue only; the behaviour lives in byoc-core and byoc-web.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use byoc_store::{MemoryStore, RouteStore};
use byoc_web::{App, Config, Endpoints, LogFormat, Runtime};

#[tokio::main]
async fn main() {
    byoc_web::init_logging(LogFormat::Json);
    if let Err(e) = run().await {
        // One JSON line with the whole cause chain, so the reason shows in CloudWatch.
        tracing::error!(error = format!("{e:#}"), "inbound stopped");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env(Runtime::Lambda).context("invalid configuration")?;
    let store: Arc<dyn RouteStore> =
        match std::env::var("ROUTES_FILE").ok().filter(|p| !p.is_empty()) {
            Some(path) => Arc::new(
                MemoryStore::from_file(Path::new(&path), &config.inbound.plan)
                    .context("cannot load ROUTES_FILE")?,
            ),
            None => {
                tracing::warn!("ROUTES_FILE is not set: every call gets the default route");
                Arc::new(MemoryStore::default())
            }
        };
    tracing::info!(store = %store.describe(), "inbound ready");
    let app = Arc::new(App::new(config, store, Endpoints::INBOUND));
    byoc_web::lambda::run(app)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
