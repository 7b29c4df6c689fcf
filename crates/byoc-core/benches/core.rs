//! Criterion benches for the call path's pure work: normalize, verify, match, render, and the
//! whole inbound decision. Run: `cargo bench -p byoc-core` (see docs/performance.md).

use std::hint::black_box;

use byoc_core::inbound::{self, InboundConfig};
use byoc_core::signature;
use byoc_core::{NumberPlan, Params};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

mod common;
use common::{call_params, form_body, table, TOKEN, URL};

fn benches(c: &mut Criterion) {
    let plan = NumberPlan::default();
    let to = "sip:+13175559876@example.sip.twilio.com;user=phone";
    c.bench_function("normalize_sip_uri", |b| {
        b.iter(|| plan.normalize(black_box(to)))
    });

    let params = call_params(to);
    let sig = signature::sign(TOKEN, URL, &params);
    // What a server does per request: the key is prepared once, at start.
    let key = signature::SigningKey::new(TOKEN);
    c.bench_function("verify_signature", |b| {
        b.iter(|| signature::verify_with_key(&key, black_box(URL), black_box(&params), Some(&sig)))
    });
    // A shared key's HMAC-SHA256 ("Sign webhooks with shared keys").
    let sha256 = signature::SigningKey::with_algorithm(TOKEN, signature::Algorithm::HmacSha256);
    let sig256 = signature::sign_with(&sha256, URL, &params);
    c.bench_function("verify_signature_sha256", |b| {
        b.iter(|| {
            signature::verify_with_keys(
                &[&sha256],
                black_box(URL),
                black_box(&params),
                Some(&sig256),
            )
        })
    });
    // The same, keying HMAC per call (what `verify` with the token's text does).
    c.bench_function("verify_signature_rekeyed", |b| {
        b.iter(|| signature::verify(TOKEN, black_box(URL), black_box(&params), Some(&sig)))
    });

    let mut group = c.benchmark_group("match");
    let exact = plan.normalize("+12000000035").unwrap(); // route 5: in every table
    let prefix = plan.normalize(to).unwrap();
    for n in [10usize, 1_000, 1_000_000] {
        let t = table(n);
        group.bench_with_input(BenchmarkId::new("exact", n), &t, |b, t| {
            b.iter(|| t.lookup(black_box(&exact)))
        });
        group.bench_with_input(BenchmarkId::new("prefix", n), &t, |b, t| {
            b.iter(|| t.lookup(black_box(&prefix)))
        });
    }
    group.finish();

    let t = table(1_000);
    let m = t.lookup(&prefix).unwrap();
    c.bench_function("render_twiml", |b| {
        b.iter(|| black_box(&m).route.action.to_twiml().to_xml())
    });

    // Runs at every cold start of a function with a bundled route file.
    let file = route_file(1_000);
    c.bench_function("load_route_file/1000", |b| {
        b.iter(|| byoc_core::route_file::load_route_file(black_box(&file), &plan).unwrap())
    });
    // The same, indexed: what the function holds before its first call.
    c.bench_function("load_route_table/1000", |b| {
        b.iter(|| byoc_core::route_file::parse_route_file(black_box(&file), &plan).unwrap())
    });

    let body = form_body(&params);
    let config = InboundConfig::default();
    // The steps of `inbound_decision` that have no bench of their own.
    c.bench_function("parse_form", |b| {
        b.iter(|| Params::from_form(black_box(body.as_bytes())))
    });
    let address = inbound::called_address(&params, &config.plan);
    let matched = address.as_ref().ok().and_then(|a| t.lookup(a));
    c.bench_function("decide", |b| {
        b.iter(|| {
            inbound::decide(
                black_box(&address),
                matched.as_ref(),
                &config,
                &inbound::Call::at(jiff::Timestamp::UNIX_EPOCH),
            )
        })
    });
    c.bench_function("inbound_decision", |b| {
        b.iter(|| common::inbound_decision(black_box(body.as_bytes()), &key, &sig, &t, &config))
    });
    // A route with caller conditions: the caller read from `From` (and `StirVerstat`), then
    // the condition chosen.
    let plan = NumberPlan::default();
    let route = |callers: &str| {
        let record: byoc_core::RouteRecord = serde_json::from_str(&format!(
            r#"{{"pattern": "+1317*", "url": "https://x.example.com/main", "callers": {callers}}}"#
        ))
        .unwrap();
        byoc_core::Route::from_record(record, &plan).unwrap()
    };
    let prefixes = route(
        r#"[{"from": "+1900", "action": "reject"}, {"from": "+1317555", "url": "https://x.example.com/local"}, {"from": "+44", "action": "hangup"}]"#,
    );
    let screening = route(
        r#"[{"from": "+1900", "action": "reject"}, {"from": "+1317555", "url": "https://x.example.com/local"}, {"from": "anonymous", "action": "reject"}, {"verstat": "failed", "url": "https://x.example.com/captcha"}, {"verstat": "no-validation", "url": "https://x.example.com/captcha", "observe": true}]"#,
    );
    let at = jiff::Timestamp::UNIX_EPOCH;
    c.bench_function("caller_conditions/prefixes", |b| {
        b.iter(|| {
            let caller = byoc_core::route::Caller::new(
                Some(black_box("sip:+13175551234@198.51.100.7")),
                None,
                &plan,
            );
            prefixes.answer(at, &caller).0.action.kind()
        })
    });
    // A split: the caller read, the route's share chosen by the hash of their number, its
    // TwiML; against the same route's plain redirect (`decide`).
    let split = route_with_split(&plan);
    let table = byoc_core::RouteTable::new([split]).unwrap();
    let address = plan
        .normalize("+13175551234")
        .map_err(inbound::InboundError::from);
    let matched = table.lookup(address.as_ref().unwrap());
    c.bench_function("split_decision", |b| {
        b.iter(|| {
            let caller = byoc_core::route::Caller::new(
                Some(black_box("sip:+13175550123@198.51.100.7")),
                None,
                &plan,
            );
            let call = inbound::Call {
                caller: &caller,
                call_sid: "CA11111111111111111111111111111111",
                ..inbound::Call::at(at)
            };
            inbound::decide(&address, matched.as_ref(), &config, &call)
                .twiml
                .to_xml()
        })
    });
    c.bench_function("caller_conditions/screening", |b| {
        b.iter(|| {
            let caller = byoc_core::route::Caller::new(
                Some(black_box("sip:+13175551234@198.51.100.7")),
                Some("TN-Validation-Passed-A"),
                &plan,
            );
            screening.answer(at, &caller).0.action.kind()
        })
    });
}

fn route_with_split(plan: &NumberPlan) -> byoc_core::Route {
    let record: byoc_core::RouteRecord = serde_json::from_str(
        r#"{"pattern": "+1317*", "action": "split", "shares": [{"weight": 80, "url": "https://example.com/prefix?x=1&y=2"}, {"weight": 20, "url": "https://example.com/other?x=1&y=2"}]}"#,
    )
    .unwrap();
    byoc_core::Route::from_record(record, plan).unwrap()
}

/// The route file the cold-start bench bundles: 1,000 redirect routes plus an exact and `*`.
fn route_file(n: usize) -> String {
    let mut text = String::from("{\"routes\":[");
    for i in 0..n {
        text.push_str(&format!(
            "{{\"pattern\":\"+1212555{i:04}\",\"url\":\"https://example.com/r{i}?a=1&b=2\"}},"
        ));
    }
    text.push_str("{\"pattern\":\"+13175551234\",\"url\":\"https://example.com/main\"},{\"pattern\":\"*\",\"url\":\"https://example.com/d\"}]}");
    text
}

criterion_group!(core, benches);
criterion_main!(core);
