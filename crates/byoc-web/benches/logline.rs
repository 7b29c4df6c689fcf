//! The per-call log line: what `tracing::info!(…, "call answered")` costs with the functions'
//! JSON + EMF format and with `byoc serve`'s text format, written to a sink (the formatting and
//! the subscriber, not the pipe). `cargo bench -p byoc-web --bench logline`.

use criterion::{criterion_group, criterion_main, Criterion};

/// The inbound call line as `App` logs it (crates/byoc-web/src/app/mod.rs, `log_call`).
fn call_line() {
    tracing::info!(
        endpoint = "inbound",
        call_sid = "CA00000000000000000000000000000042",
        did = "+12120000042",
        pattern = "+12120000042",
        action = "redirect",
        outcome = "matched",
        reason = "",
        schedule = "",
        caller_rule = "",
        source = "memory",
        signed_by = "token",
        latency_us = 12u64,
        "call answered"
    );
}

fn benches(c: &mut Criterion) {
    for (name, json) in [("call_line/json_emf", true), ("call_line/text", false)] {
        let subscriber = byoc_web::logging::subscriber_to(json, std::io::sink);
        tracing::subscriber::with_default(subscriber, || {
            c.bench_function(name, |b| b.iter(call_line));
        });
    }
    // The call line filtered out (RUST_LOG=warn): the cost of the macro alone.
    let subscriber = byoc_web::logging::subscriber_to(true, std::io::sink);
    let quiet = tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        tracing_subscriber::filter::LevelFilter::WARN,
    );
    drop(subscriber);
    tracing::subscriber::with_default(quiet, || {
        c.bench_function("call_line/filtered_out", |b| b.iter(call_line));
    });
}

criterion_group!(logline, benches);
criterion_main!(logline);
