//! Inputs shared by the benches: a route table, a real webhook's parameters, its form body.

#![allow(dead_code)]

use byoc_core::inbound::{self, InboundConfig};
use byoc_core::route::RouteTable;
use byoc_core::signature::{self, SigningKey};
use byoc_core::{Action, NumberPlan, Params, Pattern, Route};

pub const TOKEN: &str = "bench-auth-token-0123456789abcdef";
pub const URL: &str = "https://abc123xyz0.execute-api.us-east-1.amazonaws.com/inbound";

/// A table of `n` routes: exact numbers spread over prefixes, a few prefixes, and `*`.
pub fn table(n: usize) -> RouteTable {
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
pub fn call_params(to: &str) -> Params {
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

pub fn form_body(params: &Params) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish()
}

/// What the handler does per call, minus I/O: parse the form, verify, normalize, match,
/// decide, render.
pub fn inbound_decision(
    body: &[u8],
    key: &SigningKey,
    sig: &str,
    table: &RouteTable,
    config: &InboundConfig,
) -> String {
    let params = Params::from_form(body);
    signature::verify_with_key(key, URL, &params, Some(sig)).unwrap();
    let address = inbound::called_address(&params, &config.plan);
    let matched = address.as_ref().ok().and_then(|a| table.lookup(a));
    inbound::decide(
        &address,
        matched.as_ref(),
        config,
        &inbound::Call::at(jiff::Timestamp::UNIX_EPOCH),
    )
    .twiml
    .to_xml()
}
