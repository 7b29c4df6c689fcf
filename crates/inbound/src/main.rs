//! The inbound Lambda: answers the SIP domain / BYOC trunk "A call comes in" webhook with the
//! matched route's TwiML. Glue only; the behaviour lives in byoc-core, byoc-store and byoc-web.
//!
//! Routes come from `ROUTES_TABLE` (DynamoDB) or `ROUTES_FILE` (a route file bundled with the
//! function); both set is an error; neither, every call gets the default (see
//! `byoc_dynamodb::StoreSource`).

use std::time::Instant;

use byoc_dynamodb::{ReplicaSource, StoreSource};
use byoc_web::{config, App, Endpoints};

fn main() {
    let started = Instant::now();
    let source = StoreSource::resolve(None, None, config::var);
    let replica = ReplicaSource::resolve(config::var);
    // Only for DynamoDB, and before any thread exists (it sets SSL_CERT_FILE): one bundle file
    // instead of a scan of the certificate directories at the first TLS connection.
    let trust =
        matches!(source, Ok(StoreSource::Table { .. })).then(byoc_dynamodb::use_system_ca_bundle);
    byoc_web::lambda::main("inbound", |config| async move {
        // A bad route file names itself and every invalid route.
        let opened = source?
            .open_for_calls(&config.inbound.plan, config.cache, replica?.as_ref())
            .await?;
        tracing::info!(
            store = %opened.store.inner().describe(),
            replica = opened.replica.as_deref().unwrap_or("none"),
            client_ms = opened.open_ms,
            init_ms = started.elapsed().as_millis() as u64,
            init_type = config::lambda_initialization_type(),
            warmup = opened.warmup,
            ca_certificates = trust.map_or("not used".to_string(), |t| t.to_string()),
            "inbound ready"
        );
        anyhow::Ok(App::new(config, opened.store, Endpoints::INBOUND))
    })
}
