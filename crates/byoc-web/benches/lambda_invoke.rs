//! One warm invoke of each function in-process, end to end: the event JSON as the Runtime API
//! delivers it → `lambda_http`'s event type → the handler (signature, route, TwiML, the JSON call
//! line written to a sink) → the response JSON posted back. What is left out is the Runtime API's
//! own HTTP round trip on loopback.
//! `cargo bench -p byoc-web --features lambda --bench lambda_invoke`.

use std::path::Path;
use std::sync::Arc;

use byoc_store::{CachedStore, MemoryStore};
use byoc_web::lambda::{handle_event, GatewayEvent};
use byoc_web::{App, Config, Endpoints, Runtime};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lambda_http::request::LambdaRequest;

const TOKEN: &str = "byoc-events-test-token";

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn app(endpoints: Endpoints) -> App {
    let config = Config::from_lookup(Runtime::Lambda, |name| match name {
        "TWILIO_AUTH_TOKEN" => Some(TOKEN.into()),
        "DEFAULT_ROUTE_URL" => Some("https://example.com/default".into()),
        _ => None,
    })
    .unwrap();
    let routes = std::fs::read_to_string(root().join("infra/routes.example.json")).unwrap();
    let store = MemoryStore::from_json(&routes, "example", &config.inbound.plan).unwrap();
    let store = CachedStore::new(Arc::new(store), config.cache);
    App::new(config, Arc::new(store), endpoints)
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let subscriber = byoc_web::logging::subscriber_to(byoc_web::LogFormat::Json, std::io::sink);
    tracing::subscriber::with_default(subscriber, || {
        for (name, event, endpoints) in [
            ("warm_invoke/inbound", "inbound.json", Endpoints::INBOUND),
            ("warm_invoke/outbound", "outbound.json", Endpoints::OUTBOUND),
            // A two-trunk call's step after the first trunk failed: the state read back,
            // checked again, and the second trunk dialled.
            (
                "warm_invoke/outbound_next",
                "outbound-next.json",
                Endpoints::OUTBOUND,
            ),
        ] {
            let app = app(endpoints);
            let text = std::fs::read(root().join("events").join(event)).unwrap();
            let check: LambdaRequest = serde_json::from_slice(&text).unwrap();
            let answer = runtime.block_on(handle_event(&app, check));
            assert_eq!(answer["statusCode"], 200, "{answer}");
            if event == "inbound.json" {
                // The steps, to see where a warm invoke goes.
                c.bench_function("warm_invoke/steps/parse_event_untagged", |b| {
                    b.iter(|| serde_json::from_slice::<LambdaRequest>(black_box(&text)).unwrap())
                });
                // What `lambda::run` reads: the payload version first, then the one type.
                c.bench_function("warm_invoke/steps/parse_event", |b| {
                    b.iter(|| serde_json::from_slice::<GatewayEvent>(black_box(&text)).unwrap())
                });
                c.bench_function("warm_invoke/steps/handle", |b| {
                    b.iter_batched(
                        || serde_json::from_slice::<LambdaRequest>(&text).unwrap(),
                        |parsed| runtime.block_on(handle_event(&app, parsed)),
                        criterion::BatchSize::SmallInput,
                    )
                });
                c.bench_function("warm_invoke/steps/serialize_answer", |b| {
                    b.iter(|| serde_json::to_vec(black_box(&answer)).unwrap())
                });
            }
            c.bench_function(name, |b| {
                b.iter(|| {
                    // As the runtime reads it (`lambda::run`).
                    let event: GatewayEvent = serde_json::from_slice(black_box(&text)).unwrap();
                    let answer = runtime.block_on(handle_event(&app, event.0));
                    serde_json::to_vec(&answer).unwrap()
                })
            });
        }
    });
}

criterion_group!(lambda_invoke, benches);
criterion_main!(lambda_invoke);
