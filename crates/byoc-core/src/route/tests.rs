use crate::number::{Address, NumberPlan};
use crate::route::{
    candidate_keys, candidate_keys_in, check_e164, check_url_fully, is_plain_http_url, route_key,
    split_scope, Caller, RouteErrorKind,
};
use crate::route_file::{parse_route_file, to_route_file, RouteFileError};
use crate::sid::{Sid, SidKind};
use crate::twiml::{Method, RejectReason};
use crate::{Action, MatchKind, Pattern, Route, RouteRecord, RouteTable};

fn plan() -> NumberPlan {
    NumberPlan::default()
}

fn record(json: &str) -> RouteRecord {
    serde_json::from_str(json).unwrap()
}

fn route(json: &str) -> Route {
    Route::from_record(record(json), &plan()).unwrap()
}

fn error(json: &str) -> String {
    Route::from_record(record(json), &plan())
        .unwrap_err()
        .to_string()
}

fn table(patterns: &[&str]) -> RouteTable {
    RouteTable::new(patterns.iter().map(|p| {
        route(&format!(
            r#"{{"pattern":"{p}","url":"https://example.com/{}"}}"#,
            p.replace('*', "star")
        ))
    }))
    .unwrap()
}

fn matched(t: &RouteTable, number: &str) -> Option<(String, MatchKind)> {
    let address = plan().normalize(number).unwrap();
    t.lookup(&address).map(|m| (m.route.pattern.key(), m.kind))
}

#[test]
fn patterns_parse() {
    let p = plan();
    assert_eq!(Pattern::parse("*", &p), Ok(Pattern::CatchAll));
    assert_eq!(
        Pattern::parse("+1317555*", &p),
        Ok(Pattern::Prefix("+1317555".into()))
    );
    assert_eq!(
        Pattern::parse("+13175551234", &p),
        Ok(Pattern::Exact("+13175551234".into()))
    );
    assert_eq!(
        Pattern::parse("4321", &p),
        Ok(Pattern::Literal("4321".into()))
    );
    assert_eq!(
        Pattern::parse("support", &p),
        Ok(Pattern::Literal("support".into()))
    );
    assert_eq!(
        Pattern::parse("3175551234", &p),
        Err(RouteErrorKind::NotCanonical {
            given: "3175551234".into(),
            canonical: "+13175551234".into()
        })
    );
    for bad in [
        "+*",
        "1317*",
        "+13a*",
        "+0*",
        "sales*",
        "+1234567890123456*",
        "**",
    ] {
        assert!(
            matches!(Pattern::parse(bad, &p), Err(RouteErrorKind::BadPrefix(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        Pattern::parse("+12", &p),
        Err(RouteErrorKind::BadPattern(_))
    ));
    assert_eq!(Pattern::parse(" ", &p), Err(RouteErrorKind::EmptyPattern));
    // A +1 number of the wrong length can never be called.
    for bad in ["+1317555801", "+131755580123"] {
        let e = Pattern::parse(bad, &p).unwrap_err().to_string();
        assert!(e.contains("not a NANP number"), "{bad}: {e}");
    }
    assert!(Pattern::parse("+1317555801*", &p).is_ok());
    assert!(check_e164("number", "+1317555801").is_err());
    // Extensions that begin with 00 are literals; spreadsheet scientific notation is refused.
    assert_eq!(
        Pattern::parse("0001", &p),
        Ok(Pattern::Literal("0001".into()))
    );
    let e = Pattern::parse("1.31756E+10", &p).unwrap_err().to_string();
    assert!(e.contains("scientific notation"), "{e}");
    let e = Pattern::parse("13175550804.0", &p).unwrap_err().to_string();
    assert!(e.contains("decimal part"), "{e}");
    // The key a person types: national forms, scopes in any case.
    assert_eq!(route_key("3175551234", &p), "+13175551234");
    assert_eq!(
        route_key("+1317*@Example.SIP.Twilio.com", &p),
        "+1317*@example.sip.twilio.com"
    );
    assert_eq!(route_key(" * ", &p), "*");
}

#[test]
fn precedence_is_exact_then_longest_prefix_then_catch_all() {
    let t = table(&["*", "+1*", "+1317*", "+1317555*", "+13175551234", "support"]);
    assert_eq!(
        matched(&t, "sip:+13175551234@h"),
        Some(("+13175551234".into(), MatchKind::Exact))
    );
    assert_eq!(
        matched(&t, "+13175559999"),
        Some(("+1317555*".into(), MatchKind::Prefix { digits: 7 }))
    );
    assert_eq!(
        matched(&t, "+13179999999"),
        Some(("+1317*".into(), MatchKind::Prefix { digits: 4 }))
    );
    assert_eq!(
        matched(&t, "+12125551234"),
        Some(("+1*".into(), MatchKind::Prefix { digits: 1 }))
    );
    assert_eq!(
        matched(&t, "+442071234567"),
        Some(("*".into(), MatchKind::CatchAll))
    );
    assert_eq!(
        matched(&t, "sip:support@pbx"),
        Some(("support".into(), MatchKind::Literal))
    );
    assert_eq!(
        matched(&t, "sales"),
        Some(("*".into(), MatchKind::CatchAll))
    );
    // A literal `*` address is not the catch-all route by accident of key syntax.
    assert_eq!(matched(&t, "*"), Some(("*".into(), MatchKind::CatchAll)));
    let no_default = table(&["+1317*"]);
    assert_eq!(matched(&no_default, "+12125551234"), None);
    assert_eq!(matched(&no_default, "support"), None);
}

#[test]
fn a_prefix_covers_the_number_equal_to_it() {
    let t = table(&["+13175551234*"]);
    assert_eq!(
        matched(&t, "+13175551234"),
        Some(("+13175551234*".into(), MatchKind::Prefix { digits: 11 }))
    );
}

#[test]
fn best_match_agrees_with_the_candidate_key_order() {
    let t = table(&[
        "*",
        "+1*",
        "+1317*",
        "+1317555*",
        "+13175551234*",
        "+13175551234",
        "support",
    ]);
    for input in [
        "+13175551234",
        "+13175551235",
        "+13175559999",
        "+13179999999",
        "+12125551234",
        "+442071234567",
        "support",
        "sales",
        "*",
    ] {
        let a = plan().normalize(input).unwrap();
        let by_keys = candidate_keys(&a)
            .into_iter()
            .find_map(|(k, kind)| t.get(&k).map(|r| (r.pattern.key(), kind)));
        let fast = t.lookup(&a).map(|m| (m.route.pattern.key(), m.kind));
        assert_eq!(fast, by_keys, "{input}");
    }
}

#[test]
fn candidate_keys_are_bounded() {
    let address = plan().normalize("+123456789012345").unwrap();
    let keys = candidate_keys(&address);
    assert_eq!(keys.len(), 17);
    assert_eq!(keys[0].0, "+123456789012345");
    assert_eq!(keys[1].0, "+123456789012345*");
    assert_eq!(keys[15].0, "+1*");
    assert_eq!(keys[16].0, "*");
}

#[test]
fn explanations_name_the_rule() {
    let t = table(&["*", "+1317555*", "+13175551234"]);
    let a = plan().normalize("+13175559999").unwrap();
    let m = t.lookup(&a).unwrap();
    assert_eq!(
        m.explain(&a),
        "longest matching prefix +1317555* (7 digits) for +13175559999; no exact route"
    );
    let a = plan().normalize("+13175551234").unwrap();
    assert_eq!(
        t.lookup(&a).unwrap().explain(&a),
        "exact match on +13175551234"
    );
}

#[test]
fn every_action_validates_and_round_trips() {
    let cases = [
        r#"{"pattern":"+13175551234","url":"https://webhooks.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/Flows/FW0123456789abcdef0123456789abcdef?a=1&b=2","description":"Main line"}"#,
        r#"{"pattern":"+1317*","action":"redirect","url":"http://x.example/y","method":"get"}"#,
        r#"{"pattern":"4321","action":"dial","number":"+13175550000","byoc":"BY0123456789ABCDEF0123456789abcdef","caller_id":"+13175551111","timeout":"20"}"#,
        r#"{"pattern":"sales","action":"sip","uri":"sip:sales@pbx.example.com;transport=tls","caller_id":"anonymous","timeout":30}"#,
        r#"{"pattern":"+44*","action":"say","text":"We are closed & gone","voice":"Polly.Amy","language":"en-GB"}"#,
        r#"{"pattern":"+1900*","action":"reject","reason":"busy"}"#,
        r#"{"pattern":"+1976*","action":"reject"}"#,
        r#"{"pattern":"*","action":"hangup"}"#,
    ];
    for json in cases {
        let r = route(json);
        let again = Route::from_record(r.to_record(), &plan()).unwrap();
        assert_eq!(r, again, "{json}");
        let json_again = serde_json::to_string(&r.to_record()).unwrap();
        let reparsed = Route::from_record(record(&json_again), &plan()).unwrap();
        assert_eq!(r, reparsed);
    }
    let r = route(cases[2]);
    assert_eq!(
        r.action,
        Action::Dial {
            number: "+13175550000".into(),
            byoc: Some(
                Sid::parse(SidKind::ByocTrunk, "BY0123456789abcdef0123456789abcdef").unwrap()
            ),
            caller_id: Some("+13175551111".into()),
            timeout: Some(20),
        }
    );
    assert_eq!(
        route(cases[6]).action,
        Action::Reject {
            reason: RejectReason::Rejected
        }
    );
    assert_eq!(
        route(cases[1]).action,
        Action::Redirect {
            url: "http://x.example/y".into(),
            method: Method::Get
        }
    );
    // Action names are read case-insensitively; URLs are kept trimmed.
    assert_eq!(
        route(r#"{"pattern":"*","action":" Redirect ","url":"  https://x.example/y "}"#).action,
        Action::Redirect {
            url: "https://x.example/y".into(),
            method: Method::Post
        }
    );
    assert_eq!(
        route(r#"{"pattern":"*","action":"HANGUP"}"#).action,
        Action::Hangup
    );
}

#[test]
fn invalid_routes_are_refused_with_clear_messages() {
    let cases = [
        (
            r#"{"pattern":"+1317*"}"#,
            "route `+1317*`: action `redirect` needs `url`",
        ),
        (
            r#"{"pattern":"*","url":"ftp://x/y"}"#,
            "is not an absolute http(s) URL",
        ),
        (r#"{"pattern":"*","url":"/relative"}"#, "`url`: `/relative`"),
        (r#"{"pattern":"*","url":"https://x/a b"}"#, "white space"),
        (
            r#"{"pattern":"*","url":"https://x/","method":"PUT"}"#,
            "`PUT` is not GET or POST",
        ),
        (r#"{"pattern":"*","action":"fax"}"#, "unknown action `fax`"),
        (
            r#"{"pattern":"*","action":" FAX "}"#,
            "unknown action `fax`",
        ),
        (
            r#"{"pattern":"+1317*","action":"dial","targets":"[]"}"#,
            "route `+1317*`: ",
        ),
        (
            r#"{"pattern":"+1317*","url":" https://x.example/ ","method":"PUT"}"#,
            "route `+1317*`: ",
        ),
        (
            r#"{"pattern":"*","action":"dial"}"#,
            "action `dial` needs `number`",
        ),
        (
            r#"{"pattern":"*","action":"dial","number":"3175551234"}"#,
            "write `3175551234` as `+13175551234`",
        ),
        (
            r#"{"pattern":"*","action":"dial","number":"support"}"#,
            "is not an E.164 number",
        ),
        (
            r#"{"pattern":"*","action":"dial","number":"+13175551234","byoc":"BY123"}"#,
            "`byoc`: `BY123` is not a BYOC trunk SID",
        ),
        (
            r#"{"pattern":"*","action":"dial","number":"+13175551234","timeout":1}"#,
            "1 is outside 5 to 600",
        ),
        (
            r#"{"pattern":"*","action":"dial","number":"+13175551234","url":"https://x/"}"#,
            "`url` does not apply to action `dial`",
        ),
        (
            r#"{"pattern":"*","action":"sip","uri":"http://x"}"#,
            "is not a SIP URI",
        ),
        (
            r#"{"pattern":"*","action":"sip","uri":"sip:"}"#,
            "is not a SIP URI",
        ),
        (
            r#"{"pattern":"*","action":"say","text":""}"#,
            "action `say` needs `text`",
        ),
        (
            r#"{"pattern":"*","action":"say","text":"hi","language":"english!"}"#,
            "not a language tag",
        ),
        (
            r#"{"pattern":"*","action":"say","text":"hi","voice":"a b"}"#,
            "not a voice name",
        ),
        (
            r#"{"pattern":"*","action":"reject","reason":"later"}"#,
            "`later` is not busy or rejected",
        ),
        (
            r#"{"pattern":"*","action":"hangup","text":"x"}"#,
            "`text` does not apply to action `hangup`",
        ),
        (
            r#"{"pattern":"3175551234","url":"https://x/"}"#,
            "write the pattern `3175551234` as `+13175551234`",
        ),
    ];
    for (json, expected) in cases {
        let message = error(json);
        assert!(message.contains(expected), "{json}: got {message:?}");
    }
    assert!(serde_json::from_str::<RouteRecord>(r#"{"pattern":"*","urll":"x"}"#).is_err());
}

#[test]
fn route_files_report_every_bad_route_and_duplicates() {
    let json = r#"{"routes":[
        {"pattern":"*","url":"https://example.com/default"},
        {"pattern":"+1317*","url":"nope"},
        {"pattern":"*","action":"hangup"},
        {"pattern":"bad*","url":"https://example.com/"}
    ]}"#;
    let err = parse_route_file(json, &plan()).unwrap_err();
    let RouteFileError::Invalid(errors) = &err else {
        panic!("{err}")
    };
    assert_eq!(
        errors.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(err.to_string().contains("duplicate of routes[0]"), "{err}");
    assert!(matches!(
        parse_route_file("{", &plan()),
        Err(RouteFileError::Syntax(_))
    ));
    assert!(matches!(
        parse_route_file(r#"{"routes":[],"extra":1}"#, &plan()),
        Err(RouteFileError::Syntax(_))
    ));
}

#[test]
fn route_files_round_trip() {
    let json = r#"{"routes":[
        {"pattern":"*","url":"https://example.com/default"},
        {"pattern":"+1317*","action":"say","text":"hello"},
        {"pattern":"+13175551234","action":"dial","number":"+13175550000"}
    ]}"#;
    let t = parse_route_file(json, &plan()).unwrap();
    let out = to_route_file(&t.sorted());
    let t2 = parse_route_file(&out, &plan()).unwrap();
    assert_eq!(t.sorted(), t2.sorted());
    assert_eq!(out, to_route_file(&t2.sorted()));
}

#[test]
fn actions_render_twiml() {
    let r = route(r#"{"pattern":"*","url":"https://x/y?a=1&b=2"}"#);
    assert!(r.action.to_twiml().to_xml().ends_with(
        r#"<Response><Redirect method="POST">https://x/y?a=1&amp;b=2</Redirect></Response>"#
    ));
    let r = route(
        r#"{"pattern":"*","action":"dial","number":"+13175550000","byoc":"BY0123456789abcdef0123456789abcdef","timeout":15}"#,
    );
    assert!(r.action.to_twiml().to_xml().ends_with(
        r#"<Response><Dial timeout="15"><Number byoc="BY0123456789abcdef0123456789abcdef">+13175550000</Number></Dial></Response>"#
    ));
    let r = route(r#"{"pattern":"*","action":"say","text":"closed"}"#);
    assert!(r
        .action
        .to_twiml()
        .to_xml()
        .ends_with("<Say>closed</Say><Hangup/></Response>"));
}

#[test]
fn new_destinations_validate_render_and_round_trip() {
    let cases = [
        (
            r#"{"pattern":"+13175550001","action":"client","identity":"alice@example.com","caller_id":"+13175551111","timeout":15}"#,
            r#"<Dial callerId="+13175551111" timeout="15"><Client>alice@example.com</Client></Dial>"#,
        ),
        (
            r#"{"pattern":"+13175550002","action":"application","application":"AP0123456789ABCDEF0123456789abcdef","parameters":{"team":"support & sales","lang":"en"}}"#,
            r#"<Dial><Application><ApplicationSid>AP0123456789abcdef0123456789abcdef</ApplicationSid><Parameter name="lang" value="en"/><Parameter name="team" value="support &amp; sales"/></Application></Dial>"#,
        ),
        (
            r#"{"pattern":"+13175550003","action":"enqueue","workflow":"WW0123456789abcdef0123456789abcdef","task_attributes":{"type":"support","lang":"<en>"}}"#,
            r#"<Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task>{&quot;lang&quot;:&quot;&lt;en&gt;&quot;,&quot;type&quot;:&quot;support&quot;}</Task></Enqueue>"#,
        ),
        (
            r#"{"pattern":"+13175550004","action":"enqueue","workflow":"WW0123456789abcdef0123456789abcdef"}"#,
            r#"<Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"/>"#,
        ),
        (
            r#"{"pattern":"+13175550005","action":"play","url":"https://x.example.com/hold.mp3?a=1&b=2"}"#,
            r#"<Play>https://x.example.com/hold.mp3?a=1&amp;b=2</Play><Hangup/>"#,
        ),
        (
            r#"{"pattern":"+13175550006","action":"refer","uri":"sip:desk@pbx.example.com"}"#,
            r#"<Refer><Sip>sip:desk@pbx.example.com</Sip></Refer>"#,
        ),
        (
            r#"{"pattern":"+13175550007","action":"conference","name":"Room <1> & 2"}"#,
            r#"<Dial><Conference>Room &lt;1&gt; &amp; 2</Conference></Dial>"#,
        ),
        (
            r#"{"pattern":"+13175550008","action":"twiml","twiml":"<Say voice=\"alice\">Hi &amp; bye</Say><Hangup/>"}"#,
            r#"<Say voice="alice">Hi &amp; bye</Say><Hangup/>"#,
        ),
    ];
    for (json, twiml) in cases {
        let r = route(json);
        let xml = r.action.to_twiml().to_xml();
        assert!(
            xml.contains(&format!("<Response>{twiml}</Response>")),
            "{json}\n{xml}"
        );
        let again = Route::from_record(r.to_record(), &plan()).unwrap();
        assert_eq!(r, again, "{json}");
        let text = serde_json::to_string(&r.to_record()).unwrap();
        assert_eq!(Route::from_record(record(&text), &plan()).unwrap(), r);
    }
    let bad = [
        (
            r#"{"pattern":"*","action":"client"}"#,
            "`client` needs `identity`",
        ),
        (
            r#"{"pattern":"*","action":"client","identity":"a b"}"#,
            "not a client identity",
        ),
        (
            r#"{"pattern":"*","action":"client","identity":"alice","url":"https://x/"}"#,
            "`url` does not apply to action `client`",
        ),
        (
            r#"{"pattern":"*","action":"application","application":"AC0123456789abcdef0123456789abcdef"}"#,
            "not a TwiML app SID",
        ),
        (
            r#"{"pattern":"*","action":"application","application":"AP0123456789abcdef0123456789abcdef","parameters":"=1"}"#,
            "not a parameter name",
        ),
        (
            r#"{"pattern":"*","action":"enqueue","workflow":"WW123"}"#,
            "not a TaskRouter workflow SID",
        ),
        (
            r#"{"pattern":"*","action":"enqueue","workflow":"WW0123456789abcdef0123456789abcdef","task_attributes":"[1]"}"#,
            "must be a JSON object",
        ),
        (
            r#"{"pattern":"*","action":"enqueue","workflow":"WW0123456789abcdef0123456789abcdef","task_attributes":"{nope"}"#,
            "not valid JSON",
        ),
        (
            r#"{"pattern":"*","action":"play","url":"ftp://x/y"}"#,
            "not an absolute http(s) URL",
        ),
        (
            r#"{"pattern":"*","action":"refer","uri":"tel:+13175551234"}"#,
            "not a SIP URI",
        ),
        (
            r#"{"pattern":"*","action":"conference","name":"a\u0007b"}"#,
            "not a conference name",
        ),
        (
            r#"{"pattern":"*","action":"twiml","twiml":"<Response><Say>x</Say></Response>"}"#,
            "without the enclosing <Response>",
        ),
        (
            r#"{"pattern":"*","action":"twiml","twiml":"<Say>x"}"#,
            "not closed",
        ),
    ];
    for (json, why) in bad {
        let e = error(json);
        assert!(e.contains(why), "{json}: {e}");
    }
}

#[test]
fn caller_conditions_choose_by_longest_prefix_before_the_schedule() {
    let r = route(
        r#"{"pattern": "+1317*", "url": "https://x.example.com/open",
            "callers": [{"from": "+1", "action": "say", "text": "NANP"},
                        {"from": "+1900", "action": "reject", "reason": "busy"},
                        {"from": "+1317555", "url": "https://x.example.com/local"}],
            "schedule": {"timezone": "UTC", "exceptions": [{"date": "2000-01-01", "hours": ["00:00-24:00"]}],
                         "closed": {"action": "hangup"}}}"#,
    );
    let at = jiff::Timestamp::UNIX_EPOCH;
    let kind = |from: Option<&str>| {
        let caller = Caller::from_digits(from.and_then(|f| plan().caller_digits(f)).as_deref());
        let (answer, schedule) = r.answer(at, &caller);
        (
            answer.action.kind(),
            answer.caller_rule.map(str::to_string),
            schedule.is_some(),
        )
    };
    assert_eq!(
        kind(Some("+19005551234")),
        ("reject", Some("+1900".into()), false)
    );
    assert_eq!(
        kind(Some("+13175551234")),
        ("redirect", Some("+1317555".into()), false)
    );
    assert_eq!(
        kind(Some("+12125551234")),
        ("say", Some("+1".into()), false)
    );
    // No condition matches (or no usable caller): the schedule decides (closed here).
    assert_eq!(kind(Some("+442071234567")), ("hangup", None, true));
    assert_eq!(kind(Some("anonymous")), ("hangup", None, true));
    assert_eq!(kind(None), ("hangup", None, true));
    assert_eq!(Route::from_record(r.to_record(), &plan()).unwrap(), r);

    for (callers, why) in [
        (r#"[{"action": "hangup"}]"#, "needs `from`"),
        (
            r#"[{"from": "1317", "action": "hangup"}]"#,
            "not an E.164 prefix",
        ),
        (
            r#"[{"from": "+0", "action": "hangup"}]"#,
            "not an E.164 prefix",
        ),
        (
            r#"[{"from": "+1", "action": "hangup"}, {"from": "+1", "action": "hangup"}]"#,
            "appears twice",
        ),
        (r#"[{"from": "+1", "action": "play"}]"#, "condition 1"),
        (
            r#"[{"from": "+1", "action": "hangup", "schedule": {}}]"#,
            "cannot set `schedule`",
        ),
        (r#"{"from": "+1"}"#, "not an array"),
    ] {
        let json = format!(r#"{{"pattern": "*", "action": "hangup", "callers": {callers}}}"#);
        let e = error(&json);
        assert!(e.contains(why), "{json}: {e}");
    }
}

#[test]
fn anonymous_and_verified_callers_have_their_own_conditions_and_can_be_observed() {
    let r = route(
        r#"{"pattern": "+1317*", "url": "https://x.example.com/main",
            "callers": [{"from": "+266", "action": "say", "text": "Lesotho"},
                        {"from": "anonymous", "action": "reject", "reason": "rejected"},
                        {"verstat": "failed", "url": "https://x.example.com/captcha"},
                        {"verstat": "A", "url": "https://x.example.com/vip", "observe": true},
                        {"from": "+1317", "url": "https://x.example.com/local"}]}"#,
    );
    let at = jiff::Timestamp::UNIX_EPOCH;
    let answer = |from: Option<&str>, verstat: Option<&str>| {
        let caller = Caller::new(from, verstat, &plan());
        let (a, _) = r.answer(at, &caller);
        (a.action.kind(), a.caller_rule_text())
    };
    // Twilio's placeholder and the anonymous forms; a +266 prefix no longer catches it.
    for from in [
        Some("+266696687"),
        Some("anonymous"),
        Some("Restricted"),
        Some("Private"),
        Some("Unavailable"),
        Some("sip:anonymous@anonymous.invalid"),
        Some(""),
        Some("00266696687"),
        Some("sip:011266696687@carrier.example"),
    ] {
        assert_eq!(
            answer(from, None),
            ("reject", Some("anonymous".into())),
            "{from:?}"
        );
    }
    // No caller known at all (`resolve` without --from): not an anonymous one.
    assert_eq!(answer(None, None), ("redirect", None));
    // A real Lesotho number still matches +266.
    assert_eq!(
        answer(Some("+26622123456"), None),
        ("say", Some("+266".into()))
    );
    // Verification first: a failed caller ID from +1317 gets the captcha.
    assert_eq!(
        answer(Some("+13175551234"), Some("TN-Validation-Failed-B")),
        ("redirect", Some("verstat=failed".into()))
    );
    assert_eq!(
        answer(Some("+13175551234"), Some("tn-validation-failed")),
        ("redirect", Some("verstat=failed".into()))
    );
    // Observed: the A rule would have answered; the caller gets the +1317 rule, and the line says so.
    assert_eq!(
        answer(Some("+13175551234"), Some("TN-Validation-Passed-A")),
        ("redirect", Some("+1317 (observed: verstat=A)".into()))
    );
    assert_eq!(
        answer(Some("+12125551234"), Some("TN-Validation-Passed-A")),
        ("redirect", Some("observed: verstat=A".into()))
    );
    // Passed at B, no validation, an unknown value or none: no verification condition matches.
    for v in [
        Some("TN-Validation-Passed-B"),
        Some("No-TN-Validation"),
        Some("TN-Validation-Passed-Z"),
        Some("TN-Validation-Passed-Ä"),
        Some("ñ"),
        Some("TN-Validation-Passed-AA"),
        Some("garbage"),
        None,
    ] {
        assert_eq!(
            answer(Some("+13175551234"), v),
            ("redirect", Some("+1317".into())),
            "{v:?}"
        );
    }
    assert_eq!(Route::from_record(r.to_record(), &plan()).unwrap(), r);
    for (callers, why) in [
        (
            r#"[{"verstat": "gold", "action": "hangup"}]"#,
            "`verstat` `gold` is not one of passed, A, B, C, failed, no-validation",
        ),
        (
            r#"[{"from": "+1", "verstat": "A", "action": "hangup"}]"#,
            "both `from` and `verstat`",
        ),
        (
            r#"[{"from": "anonymous", "action": "hangup"}, {"from": "Anonymous", "action": "hangup"}]"#,
            "`anonymous` appears twice",
        ),
        (
            r#"[{"verstat": "A", "action": "hangup", "observe": "yes"}]"#,
            "`observe` is true or false",
        ),
        (
            r#"[{"from": "private", "action": "hangup"}]"#,
            "nor `anonymous`",
        ),
    ] {
        let json = format!(r#"{{"pattern": "*", "action": "hangup", "callers": {callers}}}"#);
        let e = error(&json);
        assert!(e.contains(why), "{json}: {e}");
    }
}

#[test]
fn a_table_refuses_a_second_route_with_the_same_key() {
    let err = RouteTable::new([
        route(r#"{"pattern":"+1317*","url":"https://x/a"}"#),
        route(r#"{"pattern":"+1317*","scope":"a.sip.twilio.com","url":"https://x/b"}"#),
        route(r#"{"pattern":"+1317*","url":"https://x/c"}"#),
    ])
    .unwrap_err();
    assert_eq!(err.pattern, "+1317*");
    assert_eq!(err.kind, RouteErrorKind::Duplicate);
    // The scoped route has its own key, and the prefix bit is set once for both.
    let t = table(&["+1317*", "*"]);
    assert_eq!(matched(&t, "+13175550000").unwrap().0, "+1317*");
}

#[test]
fn scoped_routes_win_per_pattern_in_their_domain_only() {
    let t = RouteTable::new([
        route(r#"{"pattern":"+13175551234","url":"https://x/exact"}"#),
        route(r#"{"pattern":"+1317*","url":"https://x/prefix"}"#),
        route(r#"{"pattern":"+1317*","scope":"A.sip.twilio.com","url":"https://x/a-prefix"}"#),
        route(r#"{"pattern":"*","scope":"a.sip.twilio.com","url":"https://x/a-all"}"#),
        route(r#"{"pattern":"*","url":"https://x/all"}"#),
    ])
    .unwrap();
    let url = |number: &str, scope: Option<&str>| {
        let a = plan().normalize(number).unwrap();
        t.lookup_in(&a, scope)
            .unwrap()
            .route
            .to_record()
            .url
            .unwrap()
    };
    let a = Some("a.sip.twilio.com");
    assert_eq!(url("+13175551234", a), "https://x/exact");
    assert_eq!(url("+13175559999", a), "https://x/a-prefix");
    assert_eq!(url("+442071234567", a), "https://x/a-all");
    assert_eq!(
        url("+13175559999", Some("b.sip.twilio.com")),
        "https://x/prefix"
    );
    assert_eq!(url("+442071234567", None), "https://x/all");
    // The keys a store fetches: each scoped key just before its unscoped one.
    let keys: Vec<String> = candidate_keys_in(&plan().normalize("+123").unwrap(), a)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys[..4],
        [
            "+123@a.sip.twilio.com",
            "+123",
            "+123*@a.sip.twilio.com",
            "+123*"
        ]
    );
    assert_eq!(keys.len(), 10);
    let r = route(r#"{"pattern":"+1317*","scope":" A.sip.twilio.com ","url":"https://x/"}"#);
    assert_eq!(r.key(), "+1317*@a.sip.twilio.com");
    assert_eq!(Route::from_record(r.to_record(), &plan()).unwrap(), r);
    for bad in ["localhost", "a..b", "-a.b", "a b.c", "a.b/c"] {
        let e = error(&format!(
            r#"{{"pattern":"*","scope":"{bad}","action":"hangup"}}"#
        ));
        assert!(e.contains("not a SIP domain name"), "{bad}: {e}");
    }
    // Same pattern in two scopes and unscoped: three routes, no duplicate.
    assert_eq!(t.len(), 5);
}

#[test]
fn the_url_shortcut_takes_only_plain_urls() {
    for plain in [
        "https://example.com",
        "http://a.b.example.com:8080/x?y=1&z=<2>#f",
        "https://studio.twilio.com/v2/Flows/FW0123/Webhooks/IncomingCall",
        "https://x-1.example/path\\with%zz",
    ] {
        assert!(is_plain_http_url(plain), "{plain}");
        assert!(check_url_fully("url", plain).is_ok(), "{plain}");
    }
    for other in [
        "HTTPS://example.com",
        "https://Example.com",
        "https://xn--nxasmq6b.example/",
        "https://1.2.3.4/",
        "https://example.123/",
        "https://0x7f.example.0x1/",
        "https://example.com:65536/",
        "https://example.com:/",
        "https://user@example.com/",
        "https://-a.example/",
        "https://a..example/",
        "https://example.com./",
        "https://[::1]/",
        "https://exa\\mple.com/",
        "https://bücher.example/",
        "https://example.com/ü",
        "ftp://example.com/",
        "https:/example.com",
    ] {
        assert!(!is_plain_http_url(other), "{other}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
    /// The shortcut never changes a verdict: whatever it accepts, the parser accepts.
    #[test]
    fn the_url_shortcut_agrees_with_the_parser(
        scheme in "(https?|HTTPS|ftp)(://|:/|:)",
        host in "(xn--)?[a-z0-9.-]{0,12}(\\.(0x)?[a-z0-9-]{0,6})?",
        port in "(:[0-9]{0,6})?",
        tail in "([/?#\\\\@][ -~]{0,12})?",
    ) {
        let url = format!("{scheme}{host}{port}{tail}");
        if is_plain_http_url(&url) {
            proptest::prop_assert!(check_url_fully("url", &url).is_ok(), "{}", url);
        }
    }
}

/// Routes sorted by `precedence` list them in the matcher's order: for every number, the first
/// sorted route whose pattern covers it is the one the matcher picks, with the same kind.
#[test]
fn precedence_sorts_routes_in_the_matchers_order() {
    let patterns = ["*", "+1*", "+1317*", "+1317555*", "+13175551234", "support"];
    let t = table(&patterns);
    let mut routes: Vec<Route> = patterns
        .iter()
        .map(|p| {
            route(&format!(
                r#"{{"pattern":"{p}","url":"https://example.com/x"}}"#
            ))
        })
        .collect();
    routes.sort_by_cached_key(Route::precedence);
    let sorted: Vec<String> = routes.iter().map(Route::key).collect();
    assert_eq!(
        sorted,
        ["+13175551234", "support", "+1317555*", "+1317*", "+1*", "*"]
    );
    for number in [
        "+13175551234",
        "+13175559999",
        "+13179999999",
        "+12125551234",
        "+442071234567",
        "support",
        "sales",
    ] {
        let address = plan().normalize(number).unwrap();
        let covers = |r: &&Route| match (&r.pattern, &address) {
            (Pattern::Exact(n), Address::E164(a)) | (Pattern::Literal(n), Address::Literal(a)) => {
                n == a
            }
            (Pattern::Prefix(p), Address::E164(a)) => a.starts_with(p.as_str()),
            (Pattern::CatchAll, _) => true,
            _ => false,
        };
        let first = routes.iter().find(covers).unwrap();
        let m = matched(&t, number).unwrap();
        assert_eq!(first.key(), m.0, "{number}");
        assert_eq!(first.pattern.kind(), m.1.as_str(), "{number}");
    }
    // A scoped route sorts before the unscoped one of its pattern.
    let scoped =
        route(r#"{"pattern":"+1317*","scope":"a.sip.twilio.com","url":"https://example.com/x"}"#);
    let unscoped = route(r#"{"pattern":"+1317*","url":"https://example.com/x"}"#);
    assert!(scoped.precedence() < unscoped.precedence());
}

#[test]
fn keys_split_at_their_last_at_sign() {
    assert_eq!(
        split_scope(" +1317* @ A.sip.twilio.com "),
        ("+1317*", Some("A.sip.twilio.com"))
    );
    assert_eq!(
        split_scope("sip:a@b@c.sip.twilio.com"),
        ("sip:a@b", Some("c.sip.twilio.com"))
    );
    assert_eq!(split_scope("@support"), ("@support", None));
    assert_eq!(split_scope("+13175551234"), ("+13175551234", None));
    assert_eq!(
        route_key("3175551234@Example.SIP.twilio.com", &plan()),
        "+13175551234@example.sip.twilio.com"
    );
}

#[test]
fn a_split_shares_calls_by_weight_sticky_per_caller() {
    use crate::inbound::{self, Call, Caller};
    let r = route(
        r#"{"pattern": "+1317*", "action": "split",
            "shares": [{"weight": 80, "url": "https://x.example.com/a"},
                       {"weight": 20, "action": "dial", "number": "+13175550199"}]}"#,
    );
    let Action::Split(split) = &r.action else {
        panic!("not a split: {:?}", r.action);
    };
    assert_eq!(split.percentages(), [80.0, 20.0]);
    assert_eq!(Route::from_record(r.to_record(), &plan()).unwrap(), r);
    // Chi-square over 10,000 synthetic callers: the counts hold to the weights (critical
    // values at p = 0.001: 10.83 for one degree of freedom, 13.82 for two).
    let chi2 = |weights: &[u32], critical: f64| {
        let shares: Vec<String> = weights
            .iter()
            .map(|w| format!(r#"{{"weight": {w}, "action": "hangup"}}"#))
            .collect();
        let r = route(&format!(
            r#"{{"pattern": "*", "action": "split", "shares": [{}]}}"#,
            shares.join(",")
        ));
        let Action::Split(split) = &r.action else {
            panic!()
        };
        let mut counts = vec![0u32; weights.len()];
        for n in 0..10_000u32 {
            let digits = format!("1317555{n:04}");
            counts[split.choose("*", &digits).0] += 1;
        }
        let total: u32 = weights.iter().sum();
        let stat: f64 = counts
            .iter()
            .zip(weights)
            .map(|(&c, &w)| {
                let expected = 10_000.0 * f64::from(w) / f64::from(total);
                (f64::from(c) - expected).powi(2) / expected
            })
            .sum();
        assert!(
            stat < critical,
            "{weights:?}: {counts:?}, chi-square {stat:.2}"
        );
    };
    chi2(&[80, 20], 10.83);
    chi2(&[50, 30, 20], 13.82);
    chi2(&[1, 1], 10.83);

    // Only the proportions count, and a change of weights moves only the callers it must.
    let split_of = |weights: &[u32]| {
        let shares: Vec<String> = weights
            .iter()
            .map(|w| format!(r#"{{"weight": {w}, "action": "hangup"}}"#))
            .collect();
        let r = route(&format!(
            r#"{{"pattern": "*", "action": "split", "shares": [{}]}}"#,
            shares.join(",")
        ));
        match r.action {
            Action::Split(s) => *s,
            _ => panic!(),
        }
    };
    let moved = |a: &[u32], b: &[u32], route_b: &str| {
        let (a, b) = (split_of(a), split_of(b));
        (0..10_000u32)
            .filter(|n| {
                let d = format!("1317555{n:04}");
                a.choose("+13175551234", &d).0 != b.choose(route_b, &d).0
            })
            .count()
    };
    assert_eq!(moved(&[80, 20], &[4, 1], "+13175551234"), 0);
    assert_eq!(moved(&[80, 20], &[8000, 2000], "+13175551234"), 0);
    assert!(
        moved(&[50, 50], &[51, 50], "+13175551234") < 150,
        "about 0.5% cross the boundary"
    );
    // A third share of a ninth: at most the callers of its region and those the rescaled
    // boundary passes (1/11 + 1/22 of them).
    assert!(moved(&[50, 50], &[50, 50, 10], "+13175551234") < 1_500);
    // Two splits on two numbers place a caller independently: about half differ.
    let independent = moved(&[50, 50], &[50, 50], "+13175559999");
    assert!((4_500..5_500).contains(&independent), "{independent}");

    // Sticky: one caller, the same share on every call; an anonymous one by its CallSid.
    let decide = |from: &str, call_sid: &str| {
        let caller = Caller::new(Some(from), None, &plan());
        let call = Call {
            caller: &caller,
            call_sid,
            ..Call::at(jiff::Timestamp::UNIX_EPOCH)
        };
        let address = plan()
            .normalize("+13175551234")
            .map_err(inbound::InboundError::from);
        let table = RouteTable::new([r.clone()]).unwrap();
        let matched = table.lookup(address.as_ref().unwrap());
        let d = inbound::decide(
            &address,
            matched.as_ref(),
            &inbound::InboundConfig::default(),
            &call,
        );
        (d.share, d.action)
    };
    let first = decide("+13175550001", "CA1");
    for sid in ["CA2", "CA3", "CA4"] {
        assert_eq!(decide("sip:+13175550001@carrier.example", sid), first);
    }
    let shares: std::collections::BTreeSet<Option<usize>> = (0..50)
        .map(|n| decide("anonymous", &format!("CA{n}")).0)
        .collect();
    assert_eq!(shares.len(), 2, "anonymous callers spread by CallSid");
    assert_eq!(decide("anonymous", "CA7"), decide("anonymous", "CA7"));
    // The decision names what answered, not "split".
    assert!(matches!(first.1, "redirect" | "dial"), "{first:?}");

    // Under a caller condition and a schedule, like any action.
    let nested = route(
        r#"{"pattern": "+1317*", "url": "https://x.example.com/main",
            "callers": [{"from": "+44", "action": "split", "shares": [{"weight": 1, "action": "hangup"}, {"weight": 1, "action": "reject"}]}],
            "schedule": {"timezone": "UTC", "exceptions": [{"date": "2000-01-01", "hours": ["00:00-24:00"]}],
                         "closed": {"action": "split", "shares": [{"weight": 3, "url": "https://x.example.com/a"}, {"weight": 1, "url": "https://x.example.com/b"}]}}}"#,
    );
    assert!(nested.needs_caller());
    assert_eq!(
        Route::from_record(nested.to_record(), &plan()).unwrap(),
        nested
    );

    for (json, why) in [
        (r#"{"pattern": "*", "action": "split"}"#, "needs `shares`"),
        (
            r#"{"pattern": "*", "action": "split", "shares": []}"#,
            "0 shares: a split has 1 to 10",
        ),
        (
            r#"{"pattern": "*", "action": "split", "shares": [{"weight": 0, "action": "hangup"}]}"#,
            "share 1: `weight` 0 is not a whole number from 1 to 10000",
        ),
        (
            r#"{"pattern": "*", "action": "split", "shares": [{"weight": -5, "action": "hangup"}]}"#,
            "`weight` -5 is not a whole number",
        ),
        (
            r#"{"pattern": "*", "action": "split", "shares": [{"weight": 1.5, "action": "hangup"}]}"#,
            "`weight` 1.5 is not a whole number",
        ),
        (
            r#"{"pattern": "*", "action": "split", "shares": [{"weight": "80", "action": "hangup"}]}"#,
            r#"`weight` "80" is not a whole number"#,
        ),
        (
            r#"{"pattern": "*", "action": "split", "shares": [{"action": "hangup"}]}"#,
            "share 1: needs `weight`",
        ),
        (
            r#"{"pattern": "*", "action": "split", "shares": [{"weight": 1, "action": "hangup", "schedule": {}}]}"#,
            "cannot set `schedule`",
        ),
        (
            r#"{"pattern": "*", "action": "split", "shares": [{"weight": 1, "action": "dial", "targets": [{"number": "+13175550001"}]}]}"#,
            "cannot set `targets`",
        ),
        (
            r#"{"pattern": "*", "action": "split", "shares": [{"weight": 1, "action": "split", "shares": []}]}"#,
            "cannot be a split itself",
        ),
        (
            r#"{"pattern": "*", "action": "dial", "targets": [{"number": "+13175550001"}], "final": {"action": "split", "shares": [{"weight": 1, "action": "hangup"}]}}"#,
            "`final` cannot be a split",
        ),
        (
            r#"{"pattern": "*", "url": "https://x.example.com", "shares": [{"weight": 1, "action": "hangup"}]}"#,
            "shares",
        ),
    ] {
        let e = error(json);
        assert!(e.contains(why), "{json}: {e}");
    }
    let eleven: Vec<String> = (0..11)
        .map(|_| r#"{"weight": 1, "action": "hangup"}"#.to_string())
        .collect();
    let e = error(&format!(
        r#"{{"pattern": "*", "action": "split", "shares": [{}]}}"#,
        eleven.join(",")
    ));
    assert!(e.contains("11 shares: a split has 1 to 10"), "{e}");
}
