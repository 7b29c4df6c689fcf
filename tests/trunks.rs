//! Carrier failover for outbound calls: several BYOC trunks in order, through `byoc serve` and
//! the real outbound Lambda binary, with Twilio simulated as it follows `<Dial action>`
//! (tests/support/twilio_sim.rs): a 503 moves the call to the next trunk, the callee's answer
//! never does, the end goes back to the flow's ACTION_URL; forged and edited steps are refused.

use std::time::Duration;

use byoc_e2e::twilio_sim::{Attempt, End, Simulator};
use byoc_e2e::twiml::{find, has, parse};
use byoc_e2e::{binary, form, http_api_event, sign, signed_post, Lambda, Serve};

const TOKEN: &str = "trunks-test-token";
const A: &str = "BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "BYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const FLOW: &str = "https://webhooks.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/Flows/FW0123456789abcdef0123456789abcdef?FlowEvent=return";
const CALL: &[(&str, &str)] = &[
    ("CallSid", "CA0123456789abcdef0123456789abcdef"),
    ("From", "+13175550123"),
    ("To", "+13175550100"),
];

async fn serve(extra: &[(&str, &str)]) -> Serve {
    let mut env = vec![(
        "BYOC_TRUNK_SID",
        "BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,BYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    )];
    env.extend_from_slice(extra);
    serve_with(&env).await
}

/// `byoc serve` with the token, +1 and +44 allowed, JSON lines, and `env` (later wins).
async fn serve_with(env: &[(&str, &str)]) -> Serve {
    let mut all = vec![
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("OUTBOUND_ALLOWED_PREFIXES", "+1,+44"),
    ];
    for (k, v) in env {
        all.retain(|(name, _)| name != k);
        all.push((k, v));
    }
    Serve::start(&["--log-format", "json"], &all).await
}

fn sim(serve: &Serve) -> Simulator {
    let _ = serve;
    Simulator::new(TOKEN, "", "", Duration::from_secs(10))
}

/// The widget URL of a transfer to `did`, back to the flow after.
fn widget(serve: &Serve, did: &str, action: bool) -> String {
    let mut q = vec![("OUTBOUND_DID", did)];
    if action {
        q.push(("ACTION_URL", FLOW));
    }
    format!("{}?{}", serve.url("/outbound"), form(&q))
}

fn query_of(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn attempt(trunk: Option<&str>, status: &'static str, sip_code: Option<u16>) -> Attempt {
    Attempt {
        trunk: trunk.map(str::to_string),
        numbers: vec!["+13175551234".into()],
        status,
        sip_code,
    }
}

#[tokio::test]
async fn a_503_moves_the_call_to_the_next_trunk_and_busy_ends_it() {
    let serve = serve(&[]).await;
    let twilio = sim(&serve);

    // The first carrier is down (503); the second answers.
    let call = twilio
        .outbound(
            &widget(&serve, "+13175551234", true),
            CALL,
            |trunk, _| match trunk {
                Some(A) => ("failed", Some(503)),
                _ => ("completed", None),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        call.attempts,
        [
            attempt(Some(A), "failed", Some(503)),
            attempt(Some(B), "completed", None)
        ]
    );
    let End::Redirect { url, method } = &call.end else {
        panic!("not back to the flow: {call:?}");
    };
    assert_eq!(method, "POST");
    assert!(url.starts_with(FLOW), "{url}");
    let back = query_of(url);
    assert_eq!(get(&back, "FlowEvent"), Some("return"));
    assert_eq!(get(&back, "DialCallStatus"), Some("completed"));
    assert_eq!(get(&back, "ByocTrunk"), Some(B));
    assert_eq!(get(&back, "ByocAttempts"), Some("2"));
    assert_eq!(get(&back, "ByocOutcome"), Some("answered"));
    // Each step is its own signed request to /outbound/next, whose state names the attempt.
    assert_eq!(call.requests.len(), 3);
    assert!(
        call.requests[1].contains("/outbound/next?"),
        "{:?}",
        call.requests
    );
    assert_eq!(get(&query_of(&call.requests[2]), "BYOC_ATTEMPT"), Some("2"));

    // Busy on the first trunk: the callee answered; another carrier would ring the same phone.
    for (status, code) in [
        ("busy", Some(486)),
        ("failed", Some(603)),
        ("no-answer", None),
    ] {
        let call = twilio
            .outbound(&widget(&serve, "+13175551234", true), CALL, |_, _| {
                (status, code)
            })
            .await
            .unwrap();
        assert_eq!(call.attempts.len(), 1, "{status}: {call:?}");
        let End::Redirect { url, .. } = &call.end else {
            panic!("{call:?}");
        };
        let back = query_of(url);
        assert_eq!(get(&back, "DialCallStatus"), Some(status));
        assert_eq!(get(&back, "ByocOutcome"), Some("callee"));
        assert_eq!(get(&back, "ByocTrunk"), Some(A));
    }

    // The log says which trunk and which attempt, at each step.
    let step = serve
        .stderr
        .wait_for("\"outcome\":\"failover\"", Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("no failover line:\n{}", serve.stderr.text()));
    let log = serve.stderr.text();
    let line: serde_json::Value = serde_json::from_str(&step).unwrap();
    assert_eq!(line["trunk"], A);
    assert_eq!(line["attempt"], 1);
    assert_eq!(line["trunk_result"], "technical");
    assert_eq!(line["sip_response_code"], "503");
    assert_eq!(line["next_trunk"], B);
    assert_eq!(line["level"], "WARN");
    let first = log
        .lines()
        .find(|l| l.contains("\"endpoint\":\"outbound\""))
        .unwrap();
    assert!(
        first.contains(&format!("\"trunk\":\"{A}\"")) && first.contains("\"attempt\":1"),
        "{first}"
    );
    serve.stop().await;
}

#[tokio::test]
async fn every_trunk_failing_goes_back_to_the_flow_with_the_statuses() {
    let serve = serve(&[("OUTBOUND_FALLBACK_PSTN", "true")]).await;
    let twilio = sim(&serve);
    let call = twilio
        .outbound(
            &widget(&serve, "+13175551234", true),
            CALL,
            |trunk, _| match trunk {
                Some(A) => ("failed", Some(503)),
                Some(_) => ("failed", Some(500)),
                None => ("failed", None),
            },
        )
        .await
        .unwrap();
    // Both trunks, then Twilio's own network (no byoc attribute) last.
    assert_eq!(
        call.attempts,
        [
            attempt(Some(A), "failed", Some(503)),
            attempt(Some(B), "failed", Some(500)),
            attempt(None, "failed", None),
        ]
    );
    let End::Redirect { url, .. } = &call.end else {
        panic!("{call:?}");
    };
    let back = query_of(url);
    assert_eq!(get(&back, "DialCallStatus"), Some("failed"));
    assert_eq!(get(&back, "DialSipResponseCode"), None);
    assert_eq!(get(&back, "ByocTrunk"), Some("pstn"));
    assert_eq!(get(&back, "ByocAttempts"), Some("3"));
    assert_eq!(get(&back, "ByocOutcome"), Some("technical"));

    // Without ACTION_URL, the call ends after the last attempt, as a plain Dial would.
    let call = twilio
        .outbound(&widget(&serve, "+13175551234", false), CALL, |_, _| {
            ("failed", Some(502))
        })
        .await
        .unwrap();
    assert_eq!(call.attempts.len(), 3);
    assert_eq!(call.end, End::Hangup);
    serve.stop().await;
}

#[tokio::test]
async fn destinations_take_their_trunks_from_the_prefix_map() {
    let serve = serve(&[
        (
            "OUTBOUND_TRUNK_ROUTES",
            "+44=BYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb,BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        ("BYOC_TRUNK_SID", A),
    ])
    .await;
    let twilio = sim(&serve);
    let call = twilio
        .outbound(
            &widget(&serve, "+442071234567", true),
            CALL,
            |trunk, _| match trunk {
                Some(B) => ("failed", Some(504)),
                _ => ("completed", None),
            },
        )
        .await
        .unwrap();
    let trunks: Vec<Option<&str>> = call.attempts.iter().map(|a| a.trunk.as_deref()).collect();
    assert_eq!(trunks, [Some(B), Some(A)]);
    // A US number has no entry: the default trunk alone. The deployment is set up for
    // failover, so this call too reports to the step and goes back to the flow in the same
    // shape (ByocOutcome) as a +44 call.
    let call = twilio
        .outbound(&widget(&serve, "+13175551234", true), CALL, |_, _| {
            ("completed", None)
        })
        .await
        .unwrap();
    assert_eq!(call.attempts, [attempt(Some(A), "completed", None)]);
    let End::Redirect { url, .. } = &call.end else {
        panic!("{call:?}");
    };
    assert_eq!(get(&query_of(url), "ByocOutcome"), Some("answered"));
    // Two numbers whose prefixes choose different lists: refused with the reason.
    let client = reqwest::Client::new();
    let url = widget(&serve, "+442071234567,+13175551234", false);
    let response = signed_post(&client, TOKEN, &url, CALL)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-byoc-outcome"], "refused");
    assert!(response.headers()["x-byoc-reason"]
        .to_str()
        .unwrap()
        .contains("different trunk lists (OUTBOUND_TRUNK_ROUTES +44 and BYOC_TRUNK_SID)"));
    serve.stop().await;

    // A deployment with one trunk and nothing else keeps today's plain Dial: its action is
    // the flow's own URL, and no step is requested.
    let plain = serve_with(&[("BYOC_TRUNK_SID", A)]).await;
    let call = sim(&plain)
        .outbound(&widget(&plain, "+13175551234", true), CALL, |_, _| {
            ("completed", None)
        })
        .await
        .unwrap();
    assert_eq!(call.requests.len(), 1);
    assert_eq!(call.end, End::DialAction(FLOW.to_string()));
    let serve = plain;
    serve.stop().await;
}

#[tokio::test]
async fn forged_and_edited_steps_are_refused() {
    let serve = serve(&[]).await;
    let client = reqwest::Client::new();
    let first = signed_post(&client, TOKEN, &widget(&serve, "+13175551234", true), CALL)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = find(&parse(&first), "Response/Dial")
        .attr("action")
        .unwrap()
        .to_string();
    let mut report = CALL.to_vec();
    report.push(("DialCallStatus", "failed"));
    report.push(("DialSipResponseCode", "503"));

    // Forged: signed with another token, or not at all.
    for signature in [Some(sign("not-the-token", &action, &report)), None] {
        let mut request = client
            .post(&action)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&report));
        if let Some(s) = &signature {
            request = request.header("x-twilio-signature", s);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{signature:?}");
    }

    // Edited: the state now dials a premium number. With the step's own signature it is a
    // forgery (403); signed anew (someone holding the token) the policy still refuses it.
    let edited = action.replace("%2B13175551234", "%2B19005551234");
    assert_ne!(edited, action);
    let response = client
        .post(&edited)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sign(TOKEN, &action, &report))
        .body(form(&report))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = signed_post(&client, TOKEN, &edited, &report)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-byoc-outcome"], "refused");
    assert!(response.headers()["x-byoc-reason"]
        .to_str()
        .unwrap()
        .contains("+19005551234 is denied by policy"));
    let twiml = parse(&response.text().await.unwrap());
    assert!(!has(&twiml, "Response/Dial"));
    let back = find(&twiml, "Response/Redirect").text.clone();
    assert!(
        back.contains("ByocOutcome=refused") && back.contains("ByocRefusal=policy_destination"),
        "{back}"
    );

    // A GET on the step: the router asked for POST.
    let response = client.get(&action).send().await.unwrap();
    assert_eq!(response.status(), 405);
    // An attempt the call does not have.
    for (from, to) in [
        ("BYOC_ATTEMPT=1", "BYOC_ATTEMPT=9"),
        ("BYOC_ATTEMPT=1", "BYOC_ATTEMPT=x"),
    ] {
        let bad = action.replace(from, to);
        let response = signed_post(&client, TOKEN, &bad, &report)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{to}");
        assert_eq!(response.headers()["x-byoc-outcome"], "refused", "{to}");
    }
    serve.stop().await;
}

#[tokio::test]
async fn bad_trunk_lists_get_a_clear_refusal_never_a_5xx() {
    let serve = serve(&[]).await;
    let client = reqwest::Client::new();
    let six: Vec<String> = (0..6).map(|i| format!("BY{i:032x}")).collect();
    for (list, why) in [
        (format!("{A},,{B}"), "an empty item"),
        (format!("{A};{B}"), "BYOC_TRUNK_SID"),
        (six.join(","), "6 trunks: at most 5"),
        (format!("{A},{A}"), "listed twice"),
        (
            "SD0123456789abcdef0123456789abcdef".to_string(),
            "SIP domain SID",
        ),
    ] {
        let url = format!(
            "{}?{}",
            serve.url("/outbound"),
            form(&[("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", &list)])
        );
        let response = signed_post(&client, TOKEN, &url, CALL)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{list}");
        assert_eq!(response.headers()["x-byoc-outcome"], "refused");
        let reason = response.headers()["x-byoc-reason"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(reason.contains(why), "{list}: {reason}");
        let twiml = parse(&response.text().await.unwrap());
        assert!(has(&twiml, "Response/Say") && !has(&twiml, "Response/Dial"));
    }
    serve.stop().await;

    // Bad settings stop the process at start, naming the setting.
    for (name, value, why) in [
        (
            "OUTBOUND_TRUNK_ROUTES",
            "+999=BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "no country code that exists",
        ),
        (
            "OUTBOUND_TRUNK_ROUTES",
            "+44 BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "PREFIX=TRUNKS",
        ),
        (
            "OUTBOUND_TRUNK_ROUTES",
            "+44=BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;+44=BYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            "two entries",
        ),
        (
            "BYOC_TRUNK_SID",
            "BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "listed twice",
        ),
        ("OUTBOUND_FALLBACK_PSTN", "yes", "not true or false"),
    ] {
        let output = tokio::process::Command::new(binary("byoc"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            .env(name, value)
            .args(["serve", "--port", "0"])
            .output();
        let output = tokio::time::timeout(Duration::from_secs(20), output)
            .await
            .expect("serve exits")
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}={value} started");
        assert!(
            stderr.contains(name) && stderr.contains(why),
            "{name}={value}: {stderr}"
        );
    }
}

#[tokio::test]
async fn the_outbound_lambda_serves_the_steps() {
    let mut lambda = Lambda::start(
        "outbound",
        &[
            ("TWILIO_AUTH_TOKEN", TOKEN),
            (
                "BYOC_TRUNK_SID",
                "BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,BYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            ),
        ],
    )
    .await;
    let host = "https://abc123xyz0.execute-api.us-east-1.amazonaws.com";
    let query = form(&[("OUTBOUND_DID", "+13175551234"), ("ACTION_URL", FLOW)]);
    let body = form(CALL);
    let url = format!("{host}/outbound?{query}");
    let event = http_api_event(
        "POST",
        "/outbound",
        &query,
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
        &[("x-twilio-signature", &sign(TOKEN, &url, CALL))],
    );
    let response = lambda.invoke(&event).await.proxy();
    assert_eq!(response.status, 200, "{}", response.body);
    let action = find(&parse(&response.body), "Response/Dial")
        .attr("action")
        .unwrap()
        .to_string();
    assert!(
        action.starts_with(&format!("{host}/outbound/next?")),
        "{action}"
    );

    let mut report = CALL.to_vec();
    report.push(("DialCallStatus", "failed"));
    report.push(("DialSipResponseCode", "503"));
    let step_query = action.split_once('?').unwrap().1;
    let body = form(&report);
    let event = http_api_event(
        "POST",
        "/outbound/next",
        step_query,
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
        &[("x-twilio-signature", &sign(TOKEN, &action, &report))],
    );
    let response = lambda.invoke(&event).await.proxy();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.headers.get("x-byoc-outcome").map(String::as_str),
        Some("failover")
    );
    let twiml = parse(&response.body);
    assert_eq!(find(&twiml, "Response/Dial/Number").attr("byoc"), Some(B));

    // The step's line carries the trunk fields the metric filters read, with its EMF record.
    let line = lambda
        .stderr
        .wait_for("\"endpoint\":\"outbound_next\"", Duration::from_secs(5))
        .await
        .expect("a step line");
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["trunk"], A);
    assert_eq!(line["trunk_result"], "technical");
    assert_eq!(line["Outcome"], "failover");
    assert_eq!(line["Calls"], 1);
}
