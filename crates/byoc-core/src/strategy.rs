//! proptest strategies for route values, shared by the property tests of this crate and of the
//! stores (feature `proptest`; never part of a release build).

use proptest::prelude::*;

use crate::number::NumberPlan;
use crate::route::{Route, RouteRecord};

fn e164() -> impl Strategy<Value = String> {
    // A `+1` number has exactly 10 more digits (NANP).
    prop_oneof!["\\+1[2-9][0-9]{9}", "\\+[2-9][0-9]{6,13}"]
}

fn text() -> impl Strategy<Value = String> {
    // Printable text with the characters that matter to XML, CSV and JSON.
    "[ -~\\t\\né€☎😀&<>\"',;]{1,60}"
}

/// A route pattern: an exact number, a prefix, a literal or the catch-all.
pub fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        e164(),
        "\\+[1-9][0-9]{0,8}\\*",
        "[a-z][a-z0-9_.-]{0,15}",
        Just("*".to_string()),
    ]
}

/// Records of every action with every optional field, valid by construction.
pub fn record() -> impl Strategy<Value = RouteRecord> {
    let action = prop_oneof![
        (
            "https?://[a-z]{1,12}\\.example\\.com(/[a-zA-Z0-9_~.-]{0,12}){0,3}(\\?[a-z]{1,5}=[a-zA-Z0-9%&=<>'\"-]{0,20})?",
            proptest::option::of(prop_oneof![Just("GET"), Just("POST")]),
        )
            .prop_map(|(url, method)| RouteRecord {
                action: Some("redirect".into()),
                url: Some(url),
                method: method.map(str::to_string),
                ..RouteRecord::default()
            }),
        (
            e164(),
            proptest::option::of("BY[0-9a-f]{32}"),
            proptest::option::of(e164()),
            proptest::option::of(5u32..=600),
        )
            .prop_map(|(number, byoc, caller_id, timeout)| RouteRecord {
                action: Some("dial".into()),
                number: Some(number),
                byoc,
                caller_id,
                timeout,
                ..RouteRecord::default()
            }),
        (
            "sips?:[a-z0-9+._-]{1,16}@[a-z]{1,12}\\.example\\.com(:5061)?(;transport=tls)?",
            proptest::option::of("[A-Za-z0-9+._-]{1,20}"),
            proptest::option::of(5u32..=600),
        )
            .prop_map(|(uri, caller_id, timeout)| RouteRecord {
                action: Some("sip".into()),
                uri: Some(uri),
                caller_id,
                timeout,
                ..RouteRecord::default()
            }),
        (
            text(),
            proptest::option::of("Polly\\.[A-Z][a-z]{2,8}"),
            proptest::option::of("[a-z]{2}-[A-Z]{2}"),
        )
            .prop_map(|(text, voice, language)| RouteRecord {
                action: Some("say".into()),
                text: Some(text),
                voice,
                language,
                ..RouteRecord::default()
            }),
        proptest::option::of(prop_oneof![Just("busy"), Just("rejected")]).prop_map(|reason| {
            RouteRecord {
                action: Some("reject".into()),
                reason: reason.map(str::to_string),
                ..RouteRecord::default()
            }
        }),
        Just(RouteRecord {
            action: Some("hangup".into()),
            ..RouteRecord::default()
        }),
        (
            "[A-Za-z0-9_.@+-]{1,40}",
            proptest::option::of("[A-Za-z0-9+._-]{1,20}"),
            proptest::option::of(5u32..=600),
        )
            .prop_map(|(identity, caller_id, timeout)| RouteRecord {
                action: Some("client".into()),
                identity: Some(identity),
                caller_id,
                timeout,
                ..RouteRecord::default()
            }),
        (
            "AP[0-9a-f]{32}",
            proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,10}", text(), 0..4),
        )
            .prop_map(|(sid, params)| RouteRecord {
                action: Some("application".into()),
                application: Some(sid),
                parameters: (!params.is_empty()).then(|| {
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(params)
                        .finish()
                }),
                ..RouteRecord::default()
            }),
        (
            "WW[0-9a-f]{32}",
            proptest::option::of(proptest::collection::btree_map("[a-z]{1,8}", text(), 0..4)),
        )
            .prop_map(|(sid, attrs)| RouteRecord {
                action: Some("enqueue".into()),
                workflow: Some(sid),
                task_attributes: attrs.map(|a| serde_json::to_string(&a).unwrap_or_default()),
                ..RouteRecord::default()
            }),
        "https://[a-z]{1,12}\\.example\\.com/[a-z]{1,8}\\.mp3".prop_map(|url| RouteRecord {
            action: Some("play".into()),
            url: Some(url),
            ..RouteRecord::default()
        }),
        "sips?:[a-z0-9]{1,12}@[a-z]{1,12}\\.example\\.com".prop_map(|uri| RouteRecord {
            action: Some("refer".into()),
            uri: Some(uri),
            ..RouteRecord::default()
        }),
        "[A-Za-z0-9 <>&\"'-]{1,40}".prop_map(|name| RouteRecord {
            action: Some("conference".into()),
            name: Some(name),
            ..RouteRecord::default()
        }),
        (
            proptest::collection::vec(
                (
                    prop_oneof![
                        e164().prop_map(|n| serde_json::json!({ "number": n })),
                        "sip:[a-z0-9]{1,10}@[a-z]{1,10}\\.example\\.com"
                            .prop_map(|u| serde_json::json!({ "sip": u })),
                        "[a-z]{1,12}".prop_map(|c| serde_json::json!({ "client": c })),
                    ],
                    proptest::option::of(5u32..=600),
                ),
                1..=5,
            ),
            proptest::option::of("BY[0-9a-f]{32}"),
            proptest::option::of(e164()),
            any::<bool>(),
        )
            .prop_map(|(targets, byoc, caller_id, with_final)| {
                let targets: Vec<serde_json::Value> = targets
                    .into_iter()
                    .map(|(mut t, timeout)| {
                        if let Some(timeout) = timeout {
                            t["timeout"] = timeout.into();
                        }
                        t
                    })
                    .collect();
                RouteRecord {
                    action: Some("dial".into()),
                    targets: Some(serde_json::Value::from(targets).to_string()),
                    byoc,
                    caller_id,
                    final_action: with_final.then(|| {
                        r#"{"action":"redirect","url":"https://x.example.com/vm"}"#.to_string()
                    }),
                    ..RouteRecord::default()
                }
            }),
        text().prop_map(|t| RouteRecord {
            action: Some("twiml".into()),
            twiml: Some(format!(
                "<Say>{}</Say><Pause length=\"1\"/><Hangup/>",
                crate::twiml::escape(&t)
            )),
            ..RouteRecord::default()
        }),
    ];
    (
        pattern(),
        action,
        proptest::option::of(text()),
        proptest::option::of(schedule()),
        proptest::option::of(callers()),
        proptest::option::of(prop_oneof![
            Just("tenant-a.sip.twilio.com".to_string()),
            Just("Example.SIP.twilio.com".to_string()),
        ]),
    )
        .prop_map(
            |(pattern, action, description, schedule, callers, scope)| RouteRecord {
                pattern,
                description,
                schedule,
                callers,
                scope,
                ..action
            },
        )
}

/// Caller conditions as JSON text: distinct `from` prefixes with simple actions.
pub fn callers() -> impl Strategy<Value = String> {
    proptest::collection::btree_map(
        "\\+[1-9][0-9]{0,6}",
        prop_oneof![
            Just(serde_json::json!({"action": "reject", "reason": "busy"})),
            Just(serde_json::json!({"url": "https://x.example.com/area?a=1&b=2"})),
            text().prop_map(|t| serde_json::json!({"action": "say", "text": t})),
        ],
        1..4,
    )
    .prop_map(|rules| {
        let rules: Vec<serde_json::Value> = rules
            .into_iter()
            .map(|(from, mut action)| {
                action["from"] = from.into();
                action
            })
            .collect();
        serde_json::Value::from(rules).to_string()
    })
}

/// A schedule as JSON text: weekly hours (some overnight), exceptions, closed and holiday actions.
pub fn schedule() -> impl Strategy<Value = String> {
    let zone = prop_oneof![
        Just("America/Indiana/Indianapolis"),
        Just("Europe/London"),
        Just("Australia/Lord_Howe"),
        Just("UTC"),
    ];
    let range = (
        prop_oneof![
            Just("mon-fri"),
            Just("sat,sun"),
            Just("daily"),
            Just("fri-mon"),
            Just("wed")
        ],
        0u16..24,
        0u16..4,
        1u16..24,
        0u16..4,
    )
        .prop_filter("non-empty", |(_, h1, q1, h2, q2)| (h1, q1) != (h2, q2))
        .prop_map(|(days, h1, q1, h2, q2)| {
            format!("{days} {h1:02}:{:02}-{h2:02}:{:02}", q1 * 15, q2 * 15)
        });
    let exception = (
        prop_oneof![
            Just("12-25"),
            Just("2026-11-26"),
            Just("01-01"),
            Just("2027-07-04")
        ],
        proptest::option::of("[A-Z][a-z]{2,10}( [A-Z][a-z]{2,8})?"),
        any::<bool>(),
    );
    (
        zone,
        proptest::collection::vec(range, 1..4),
        proptest::collection::vec(exception, 0..3),
        any::<bool>(),
    )
        .prop_map(|(zone, hours, exceptions, holiday)| {
            let mut seen = std::collections::HashSet::new();
            let exceptions: Vec<serde_json::Value> = exceptions
                .into_iter()
                .filter(|(d, _, _)| seen.insert(*d))
                .map(|(date, name, special)| {
                    let mut e = serde_json::json!({ "date": date });
                    if let Some(n) = name {
                        e["name"] = n.into();
                    }
                    if special {
                        e["hours"] = serde_json::json!(["09:00-12:00"]);
                    }
                    e
                })
                .collect();
            let mut s = serde_json::json!({
                "timezone": zone,
                "hours": hours,
                "closed": {"action": "redirect", "url": "https://x.example.com/voicemail?a=1&b=2"},
            });
            if !exceptions.is_empty() {
                s["exceptions"] = exceptions.into();
            }
            if holiday {
                s["holiday"] =
                    serde_json::json!({"action": "say", "text": "Closed for the holiday"});
            }
            s.to_string()
        })
}

/// Valid routes (records that validate; the generators are built so almost all do).
pub fn route() -> impl Strategy<Value = Route> {
    record().prop_filter_map("valid route", |r| {
        Route::from_record(r, &NumberPlan::default()).ok()
    })
}

/// Up to `max` routes with distinct patterns.
pub fn routes(max: usize) -> impl Strategy<Value = Vec<Route>> {
    proptest::collection::vec(route(), 0..=max).prop_map(|routes| {
        let mut seen = std::collections::HashSet::new();
        routes
            .into_iter()
            .filter(|r| seen.insert(r.key()))
            .collect()
    })
}
