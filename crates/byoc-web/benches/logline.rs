//! The per-call log line: what `tracing::info!(…, "call answered")` costs with the functions'
//! JSON + EMF format and with `byoc serve`'s text format, written to a sink (the formatting and
//! the subscriber, not the pipe). `cargo bench -p byoc-web --bench logline`.

use criterion::{criterion_group, criterion_main, Criterion};

use byoc_web::app::CallLine;
use byoc_web::auth::SignedBy;
use byoc_web::LogFormat;

/// An inbound call's line, written as `App` writes it ([`CallLine::write`]), for a request that
/// arrived at `started`.
fn call_line(started: std::time::Instant) {
    CallLine {
        endpoint: "inbound",
        call_sid: "CA00000000000000000000000000000042",
        did: Some("+12120000042"),
        pattern: Some("+12120000042"),
        action: Some("redirect"),
        outcome: "matched",
        reason: Some(""),
        schedule: Some(""),
        caller_rule: Some(""),
        source: Some("memory"),
        ..CallLine::default()
    }
    .write(SignedBy::Token, started);
}

fn benches(c: &mut Criterion) {
    let started = std::time::Instant::now();
    for (name, format) in [
        ("call_line/json_emf", LogFormat::Json),
        ("call_line/text", LogFormat::Text),
    ] {
        let subscriber = byoc_web::logging::subscriber_to(format, std::io::sink);
        tracing::subscriber::with_default(subscriber, || {
            c.bench_function(name, |b| b.iter(|| call_line(started)));
        });
    }
    // The call line filtered out (RUST_LOG=warn): the cost of the macro alone.
    let subscriber = byoc_web::logging::subscriber_to(LogFormat::Json, std::io::sink);
    let quiet = tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        tracing_subscriber::filter::LevelFilter::WARN,
    );
    drop(subscriber);
    tracing::subscriber::with_default(quiet, || {
        c.bench_function("call_line/filtered_out", |b| b.iter(|| call_line(started)));
    });
}

criterion_group!(logline, benches);
criterion_main!(logline);
