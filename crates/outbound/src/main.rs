//! The outbound Lambda: answers a Studio TwiML Redirect widget with
//! `<Dial><Number byoc="BY…">+E164</Number></Dial>`. Glue only; the behaviour lives in byoc-core
//! and byoc-web.

use std::sync::Arc;

use anyhow::Context;
use byoc_store::{CachedStore, MemoryStore};
use byoc_web::{App, Config, Endpoints, LogFormat, Runtime};

#[tokio::main]
async fn main() {
    byoc_web::init_logging(LogFormat::Json);
    if let Err(e) = run().await {
        // One JSON line with the whole cause chain, so the reason shows in CloudWatch.
        tracing::error!(error = format!("{e:#}"), "outbound stopped");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env(Runtime::Lambda).context("invalid configuration")?;
    // Outbound never reads routes.
    let store = CachedStore::new(Arc::new(MemoryStore::new()), config.cache);
    let app = Arc::new(App::new(config, Arc::new(store), Endpoints::OUTBOUND));
    tracing::info!("outbound ready");
    byoc_web::lambda::run(app)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
