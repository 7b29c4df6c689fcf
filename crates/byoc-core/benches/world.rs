//! What reading numbers of any country costs per call: a national-form `To` in a UK home (the
//! metadata's parser) against the E.164 fast path, and the outbound decision under a US home
//! (the NANP tables) and a UK home (the metadata's type and territory). Run:
//! `cargo bench -p byoc-core --bench world` (see docs/performance.md).

use std::hint::black_box;

use byoc_core::inbound::InboundConfig;
use byoc_core::outbound::{self, OutboundConfig, Policy};
use byoc_core::signature;
use byoc_core::{NumberPlan, Params};
use criterion::{criterion_group, criterion_main, Criterion};

mod common;

const NEXT: &str = "https://abc.execute-api.us-east-1.amazonaws.com/outbound/next";
use common::{call_params, form_body, table, TOKEN, URL};

fn inbound_decision(c: &mut Criterion, name: &str, plan: NumberPlan, to: &str) {
    let params = call_params(to);
    let body = form_body(&params);
    let sig = signature::sign(TOKEN, URL, &params);
    let key = signature::SigningKey::new(TOKEN);
    let t = table(1000);
    let config = InboundConfig {
        plan,
        ..InboundConfig::default()
    };
    c.bench_function(name, |b| {
        b.iter(|| common::inbound_decision(black_box(body.as_bytes()), &key, &sig, &t, &config))
    });
}

fn outbound_decision(c: &mut Criterion, name: &str, plan: NumberPlan, did: &str) {
    let config = OutboundConfig {
        policy: Policy::for_plan(&plan),
        plan,
        ..OutboundConfig::default()
    };
    let query: Params = [
        ("OUTBOUND_DID", did),
        ("BYOC_TRUNK_SID", "BY0123456789abcdef0123456789abcdef"),
    ]
    .into_iter()
    .collect();
    let body: Params = [("From", "+13175550123")].into_iter().collect();
    assert!(outbound::decide(&query, &body, &config, NEXT)
        .result
        .is_ok());
    c.bench_function(name, |b| {
        b.iter(|| {
            outbound::decide(black_box(&query), &body, &config, NEXT)
                .twiml
                .to_xml()
        })
    });
}

/// Carrier failover under a US home: the first answer with two trunks (the state written into
/// the action URL), and the step after a 503 (the state read back, checked again, attempt 2).
fn outbound_failover(c: &mut Criterion) {
    let config = OutboundConfig::default();
    let query: Params = [
        ("OUTBOUND_DID", "+13175551234"),
        (
            "BYOC_TRUNK_SID",
            "BY0123456789abcdef0123456789abcdef,BYfedcba9876543210fedcba9876543210",
        ),
        ("ACTION_URL", "https://webhooks.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/Flows/FW0123456789abcdef0123456789abcdef?FlowEvent=return"),
    ]
    .into_iter()
    .collect();
    let body: Params = [("From", "+13175550123")].into_iter().collect();
    let first = outbound::decide(&query, &body, &config, NEXT);
    let dial = first.result.expect("dials");
    c.bench_function("outbound_decision_two_trunks", |b| {
        b.iter(|| {
            outbound::decide(black_box(&query), &body, &config, NEXT)
                .twiml
                .to_xml()
        })
    });
    let url = dial.step_url(NEXT, 1);
    let state = Params::from_form(url.split_once('?').map_or("", |(_, q)| q).as_bytes());
    let report: Params = [
        ("From", "+13175550123"),
        ("DialCallStatus", "failed"),
        ("DialSipResponseCode", "503"),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        outbound::failover::next(&state, &report, &config, NEXT).outcome,
        "failover"
    );
    c.bench_function("outbound_failover_step", |b| {
        b.iter(|| {
            outbound::failover::next(black_box(&state), &report, &config, NEXT)
                .twiml
                .to_xml()
        })
    });
}

fn benches(c: &mut Criterion) {
    outbound_failover(c);
    let uk = NumberPlan::new("44").unwrap();
    c.bench_function("normalize_national_gb", |b| {
        b.iter(|| uk.normalize(black_box("sip:07700900123@carrier.example")))
    });
    inbound_decision(
        c,
        "inbound_decision_e164_gb_home",
        uk.clone(),
        "sip:+447700900123@example.sip.twilio.com;user=phone",
    );
    inbound_decision(
        c,
        "inbound_decision_national_gb",
        uk.clone(),
        "sip:07700900123@example.sip.twilio.com;user=phone",
    );
    outbound_decision(
        c,
        "outbound_decision_us",
        NumberPlan::default(),
        "+13175551234",
    );
    outbound_decision(
        c,
        "outbound_decision_gb_national",
        uk.clone(),
        "020 7123 4567",
    );
    outbound_decision(c, "outbound_decision_gb_e164", uk, "+442071234567");
}

criterion_group!(world, benches);
criterion_main!(world);
