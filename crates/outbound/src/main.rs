//! The outbound Lambda: answers a Studio TwiML Redirect widget with
//! `<Dial><Number byoc="BY…">+E164</Number></Dial>`. Glue only; the behaviour lives in byoc-core
//! and byoc-web.

use std::sync::Arc;

use byoc_store::{CachedStore, MemoryStore};
use byoc_web::Endpoints;

fn main() {
    byoc_web::lambda::main("outbound", Endpoints::OUTBOUND, |config| async move {
        // Outbound never reads routes.
        let store = CachedStore::new(Arc::new(MemoryStore::new()), config.cache);
        tracing::info!("outbound ready");
        Ok::<_, std::convert::Infallible>(Arc::new(store))
    })
}
