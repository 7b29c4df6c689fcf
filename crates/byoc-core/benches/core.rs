//! Criterion benches for the call path's pure work: normalize, verify, match, render, and the
//! whole inbound decision. Run: `cargo bench -p byoc-core` (see docs/performance.md).

use std::hint::black_box;

use byoc_core::inbound::{self, InboundConfig};
use byoc_core::route::RouteTable;
use byoc_core::signature;
use byoc_core::{Action, NumberPlan, Params, Pattern, Route};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const TOKEN: &str = "bench-auth-token-0123456789abcdef";
const URL: &str = "https://abc123xyz0.execute-api.us-east-1.amazonaws.com/inbound";

/// A table of `n` routes: exact numbers spread over prefixes, a few prefixes, and `*`.
fn table(n: usize) -> RouteTable {
    let plan = NumberPlan::default();
    let mut routes = Vec::with_capacity(n + 3);
    for i in 0..n {
        let pattern = format!("+1{:010}", 2_000_000_000u64 + (i as u64) * 7);
        routes.push(Route {
            pattern: Pattern::parse(&pattern, &plan).unwrap(),
            action: Action::redirect_to(
                &format!("https://example.com/flow/{i}?a=1&b=2"),
                Default::default(),
            )
            .unwrap(),
            description: None,
            schedule: None,
            callers: Vec::new(),
            scope: None,
        });
    }
    for p in ["+1317*", "+1317555*", "*"] {
        routes.push(Route {
            pattern: Pattern::parse(p, &plan).unwrap(),
            action: Action::redirect_to("https://example.com/prefix?x=1&y=2", Default::default())
                .unwrap(),
            description: None,
            schedule: None,
            callers: Vec::new(),
            scope: None,
        });
    }
    RouteTable::new(routes).unwrap()
}

/// The parameters of a real SIP-domain call.
fn call_params(to: &str) -> Params {
    [
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA11111111111111111111111111111111"),
        ("CallStatus", "ringing"),
        ("Called", to),
        ("Caller", "sip:+13175550123@198.51.100.7"),
        ("Direction", "inbound"),
        ("From", "sip:+13175550123@198.51.100.7"),
        ("To", to),
        (
            "SipCallId",
            "5a1f3b2c-0d4e-4f6a-8b9c-0123456789ab@198.51.100.7",
        ),
        ("SipDomain", "example.sip.twilio.com"),
        ("SipDomainSid", "SD22222222222222222222222222222222"),
        ("SipSourceIp", "198.51.100.7"),
    ]
    .into_iter()
    .collect()
}

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
    c.bench_function("inbound_decision", |b| {
        b.iter(|| {
            // What the handler does per call, minus I/O: parse the form, verify, normalize,
            // match, decide, render.
            let params = Params::from_form(black_box(body.as_bytes()));
            signature::verify_with_key(&key, URL, &params, Some(&sig)).unwrap();
            let address = inbound::called_address(&params, &config.plan);
            let matched = address.as_ref().ok().and_then(|a| t.lookup(a));
            inbound::decide(
                &address,
                matched.as_ref(),
                &config,
                &inbound::Call::at(jiff::Timestamp::UNIX_EPOCH),
            )
            .twiml
            .to_xml()
        })
    });
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

fn form_body(params: &Params) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish()
}

criterion_group!(core, benches);
criterion_main!(core);
