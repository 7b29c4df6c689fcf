//! `byoc serve` over real HTTP: signed and forged requests, every input source, the edges.

use std::time::Duration;

use byoc_e2e::twiml::{find, has, parse};
use byoc_e2e::{form, sign, signed_post, Serve};

const TOKEN: &str = "serve-test-token";
const TRUNK: &str = "BY0123456789abcdef0123456789abcdef";

async fn signed_serve() -> Serve {
    Serve::start(&[], &[("TWILIO_AUTH_TOKEN", TOKEN)]).await
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post_form(
    serve: &Serve,
    path: &str,
    pairs: &[(&str, &str)],
    signature: Option<String>,
) -> reqwest::Response {
    let mut request = client()
        .post(serve.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs));
    if let Some(signature) = signature {
        request = request.header("x-twilio-signature", signature);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn a_signed_inbound_call_with_a_sip_uri_gets_its_route() {
    let serve = signed_serve().await;
    let pairs = [
        ("CallSid", "CA0123"),
        ("To", "sip:+13175551234@example.sip.twilio.com;user=phone"),
        ("From", "sip:+13175550123@198.51.100.7"),
        ("SipHeader_X-Carrier", "ExampleTel & Co"),
    ];
    let signature = sign(TOKEN, &serve.url("/inbound"), &pairs);
    let response = post_form(&serve, "/inbound", &pairs, Some(signature)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/xml; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    let twiml = parse(&body);
    assert!(find(&twiml, "Response/Redirect").text.contains("/Flows/FW"));
    let log = serve
        .stderr
        .wait_for("call answered", Duration::from_secs(5))
        .await
        .expect("log line");
    assert!(log.contains("call_sid=\"CA0123\""), "{log}");
    assert!(log.contains("did=\"+13175551234\""), "{log}");
    assert!(!serve.stderr.text().contains(TOKEN));
}

#[tokio::test]
async fn forged_missing_and_replayed_signatures_get_403() {
    let serve = signed_serve().await;
    let pairs = [("To", "+13175551234"), ("CallSid", "CA1")];
    let good = sign(TOKEN, &serve.url("/inbound"), &pairs);

    let response = post_form(&serve, "/inbound", &pairs, None).await;
    assert_eq!(response.status(), 403);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("missing X-Twilio-Signature"));

    let forged = sign("not-the-token", &serve.url("/inbound"), &pairs);
    let response = post_form(&serve, "/inbound", &pairs, Some(forged)).await;
    assert_eq!(response.status(), 403);

    let response = post_form(&serve, "/inbound", &pairs, Some("!!!".into())).await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("not a base64"));

    // The same signature replayed with a changed parameter, or to another path.
    let changed = [("To", "+19005551234"), ("CallSid", "CA1")];
    let response = post_form(&serve, "/inbound", &changed, Some(good.clone())).await;
    assert_eq!(response.status(), 403);
    let response = post_form(&serve, "/outbound", &pairs, Some(good.clone())).await;
    assert_eq!(response.status(), 403);

    let response = post_form(&serve, "/inbound", &pairs, Some(good)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn signatures_use_the_public_url_get_queries_and_forwarded_proto() {
    let serve = signed_serve().await;

    // GET webhook: parameters in the query string, signature over the URL alone.
    let query = form(&[("To", "sip:3175559876@h"), ("CallSid", "CA2")]);
    let url = serve.url(&format!("/inbound?{query}"));
    let response = client()
        .get(&url)
        .header("x-twilio-signature", sign(TOKEN, &url, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(find(&parse(&body), "Response/Redirect")
        .text
        .contains("indianapolis"));

    // Behind a TLS tunnel: Twilio signed the https URL.
    let pairs = [("To", "+13175551234")];
    let https_url = format!("https://{}/inbound", serve.host());
    let response = client()
        .post(serve.url("/inbound"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .header("x-twilio-signature", sign(TOKEN, &https_url, &pairs))
        .body(form(&pairs))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A configured public base URL (custom domain with a path prefix) wins.
    let custom = Serve::start(
        &[],
        &[
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("PUBLIC_BASE_URL", "https://voice.example.com/router/"),
        ],
    )
    .await;
    let signature = sign(TOKEN, "https://voice.example.com/router/inbound", &pairs);
    let response = post_form(&custom, "/inbound", &pairs, Some(signature)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn outbound_reads_query_form_and_signed_json() {
    let serve = signed_serve().await;

    // TwiML Redirect widget: parameters in the URL, call parameters in the body.
    let path = format!(
        "/outbound?{}",
        form(&[
            ("OUTBOUND_DID", "(317) 555-0199"),
            ("BYOC_TRUNK_SID", TRUNK)
        ])
    );
    let pairs = [
        ("CallSid", "CA3"),
        ("From", "+13175550123"),
        ("OUTBOUND_DID", "+13175550000"),
    ];
    let signature = sign(TOKEN, &serve.url(&path), &pairs);
    let response = post_form(&serve, &path, &pairs, Some(signature)).await;
    assert_eq!(response.status(), 200);
    let twiml = parse(&response.text().await.unwrap());
    let number = find(&twiml, "Response/Dial/Number");
    assert_eq!(
        number.text, "+13175550199",
        "the query string wins over the body"
    );
    assert_eq!(number.attr("byoc"), Some(TRUNK));

    // Everything in a form body.
    let pairs = [("OUTBOUND_DID", "+13175550042"), ("BYOC_TRUNK_SID", TRUNK)];
    let signature = sign(TOKEN, &serve.url("/outbound"), &pairs);
    let response = post_form(&serve, "/outbound", &pairs, Some(signature)).await;
    let twiml = parse(&response.text().await.unwrap());
    assert_eq!(find(&twiml, "Response/Dial/Number").text, "+13175550042");

    // A JSON body covered by bodySHA256.
    let body = format!(r#"{{"OUTBOUND_DID":"+13175550199","BYOC_TRUNK_SID":"{TRUNK}"}}"#);
    let hash = byoc_core::signature::body_sha256(body.as_bytes());
    let path = format!("/outbound?bodySHA256={hash}");
    let signature = sign(TOKEN, &serve.url(&path), &[]);
    let response = client()
        .post(serve.url(&path))
        .header("content-type", "application/json")
        .header("x-twilio-signature", &signature)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let twiml = parse(&response.text().await.unwrap());
    assert_eq!(find(&twiml, "Response/Dial/Number").text, "+13175550199");

    // The same JSON with a changed body, or without bodySHA256, is refused.
    let response = client()
        .post(serve.url(&path))
        .header("content-type", "application/json")
        .header("x-twilio-signature", &signature)
        .body(body.replace("0199", "0198"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = client()
        .post(serve.url("/outbound"))
        .header("content-type", "application/json")
        .header(
            "x-twilio-signature",
            sign(TOKEN, &serve.url("/outbound"), &[]),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn invalid_outbound_input_never_dials() {
    let serve = Serve::start(&[], &[]).await;
    for pairs in [
        vec![("BYOC_TRUNK_SID", TRUNK)],
        vec![("OUTBOUND_DID", "undefined"), ("BYOC_TRUNK_SID", TRUNK)],
        vec![
            ("OUTBOUND_DID", "+13175550199"),
            ("BYOC_TRUNK_SID", "undefined"),
        ],
        vec![("OUTBOUND_DID", "+13175550199")],
        vec![
            ("OUTBOUND_DID", "<Dial>+13175550199</Dial>"),
            ("BYOC_TRUNK_SID", TRUNK),
        ],
    ] {
        let response = post_form(&serve, "/outbound", &pairs, None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-byoc-outcome"], "refused");
        assert!(response.headers().contains_key("x-byoc-reason"));
        let twiml = parse(&response.text().await.unwrap());
        assert!(!has(&twiml, "Response/Dial"), "{pairs:?}");
        assert!(has(&twiml, "Response/Hangup"));
    }
}

#[tokio::test]
async fn unknown_paths_methods_and_oversized_bodies_are_refused() {
    let serve = Serve::start(&[], &[]).await;
    let response = client().post(serve.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = client().put(serve.url("/inbound")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST");
    let big = "x".repeat(70 * 1024);
    let response = post_form(&serve, "/inbound", &[("To", &big)], None).await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn unsigned_local_use_warns_loudly_and_defaults_apply() {
    let routes = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        routes.path(),
        r#"{"routes":[{"pattern":"+13175551234","action":"say","text":"Hello <caller> & welcome"}]}"#,
    )
    .unwrap();
    let path = routes.path().display().to_string();
    let serve = Serve::start(
        &["--routes", &path],
        &[("DEFAULT_ROUTE_URL", "https://example.com/default")],
    )
    .await;
    assert!(serve
        .stderr
        .text()
        .contains("WARNING: TWILIO_AUTH_TOKEN is not set"));

    let response = post_form(&serve, "/inbound", &[("To", "+13175551234")], None).await;
    let twiml = parse(&response.text().await.unwrap());
    assert_eq!(
        find(&twiml, "Response/Say").text,
        "Hello <caller> & welcome"
    );

    let response = post_form(&serve, "/inbound", &[("To", "+12125551234")], None).await;
    assert_eq!(response.headers()["x-byoc-outcome"], "default");
    let twiml = parse(&response.text().await.unwrap());
    assert_eq!(
        find(&twiml, "Response/Redirect").text,
        "https://example.com/default"
    );

    let status = serve.stop().await.expect("serve exits on SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_bad_route_file_is_refused_at_start_with_every_error() {
    let routes = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        routes.path(),
        r#"{"routes":[{"pattern":"+1317*","url":"nope"},{"pattern":"x*","action":"hangup"}]}"#,
    )
    .unwrap();
    let output = tokio::process::Command::new(byoc_e2e::binary("byoc"))
        .args(["serve", "--port", "0", "--routes"])
        .arg(routes.path())
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2 invalid route(s)"), "{stderr}");
    assert!(stderr.contains("routes[0]: route `+1317*`"), "{stderr}");
    assert!(stderr.contains("routes[1]: route `x*`"), "{stderr}");
}

#[tokio::test]
async fn serve_mounts_the_status_callback_and_the_fallback() {
    let serve = Serve::start(
        &[],
        &[
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("DEFAULT_ROUTE_URL", "https://example.com/default"),
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &'static str, pairs: Vec<(&'static str, &'static str)>, signed: bool| {
        let client = client.clone();
        let url = serve.url(path);
        async move {
            let mut req = client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&pairs));
            if signed {
                req = req.header("x-twilio-signature", sign(TOKEN, &url, &pairs));
            }
            req.send().await.unwrap()
        }
    };
    let flow = vec![
        ("CallSid", "CA1"),
        ("CallStatus", "completed"),
        ("To", "sip:+13175551234@x.sip.twilio.com"),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("Direction", "inbound"),
    ];
    let response = post("/inbound/status", flow.clone(), true).await;
    assert_eq!(response.status(), 302);
    assert!(response.headers()["location"]
        .to_str()
        .unwrap()
        .contains("/Flows/FW"));
    // As flex-inbound-sip-router: only the flow's own account, only the inbound leg.
    for (name, value) in [
        ("AccountSid", "AC11111111111111111111111111111111"),
        ("Direction", "outbound-dial"),
    ] {
        let mut other = flow.clone();
        other.retain(|(k, _)| *k != name);
        other.push((name, value));
        let response = post("/inbound/status", other, true).await;
        assert_eq!(response.status(), 204, "{name}={value}");
    }
    let response = post("/inbound/status", flow, false).await;
    assert_eq!(response.status(), 403);
    let function = vec![
        ("CallSid", "CA2"),
        ("CallStatus", "completed"),
        ("To", "+13175559876"),
    ];
    let response = post("/inbound/status", function, true).await;
    assert_eq!(response.status(), 204);

    let fallback = vec![
        ("CallSid", "CA3"),
        ("To", "+13175551234"),
        ("ErrorCode", "11205"),
        ("ErrorUrl", "https://x/inbound"),
    ];
    let response = post("/inbound/fallback", fallback, true).await;
    assert_eq!(response.status(), 200);
    // Routed exactly as /inbound would: the DID's own route, not a blanket default.
    assert_eq!(response.headers()["x-byoc-outcome"], "matched");
    let twiml = parse(&response.text().await.unwrap());
    assert!(
        find(&twiml, "Response/Redirect").text.contains("/Flows/FW"),
        "{twiml:?}"
    );
    let line = serve
        .stderr
        .wait_for("error_code=\"11205\"", Duration::from_secs(5))
        .await
        .expect("the fallback's call line");
    for field in [
        "endpoint=\"inbound_fallback\"",
        "error_url=\"https://x/inbound\"",
        "signed_by=\"token\"",
        "CA3",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    // A number only the catch-all `*` route covers: that route, as /inbound would answer.
    let catch_all = vec![
        ("CallSid", "CA4"),
        ("To", "+16155550000"),
        ("ErrorCode", "11200"),
        ("ErrorUrl", "https://x/inbound"),
    ];
    let response = post("/inbound/fallback", catch_all, true).await;
    assert_eq!(response.headers()["x-byoc-outcome"], "matched");
    let twiml = parse(&response.text().await.unwrap());
    assert_eq!(
        find(&twiml, "Response/Redirect").text,
        "https://handler.twilio.com/twiml/EH00000000000000000000000000000000"
    );
    let response = post("/inbound/fallback", vec![("To", "+13175551234")], false).await;
    assert_eq!(response.status(), 403, "signature-checked like /inbound");
}

/// Over real HTTP: an unencoded `+`, an unreadable `To` answered
/// like `byoc routes resolve` says, a caller rule that a garbled `From` cannot dodge, and a
/// request value that cannot forge a log line.
#[tokio::test]
async fn hostile_call_parameters_over_real_http() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.json");
    std::fs::write(
        &routes,
        r#"{"routes":[
            {"pattern":"+13175551234","url":"https://example.com/main",
             "callers":[{"from":"+1900","action":"reject","reason":"busy"}]},
            {"pattern":"*","action":"say","text":"Catch all"}
        ]}"#,
    )
    .unwrap();
    let routes = routes.display().to_string();
    let serve = Serve::start(
        &["--routes", &routes],
        &[
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("BYOC_TRUNK_SID", TRUNK),
            ("OUTBOUND_ALLOWED_PREFIXES", "+1,+65"),
        ],
    )
    .await;

    // 1. `?OUTBOUND_DID=+6562345678` written unencoded dials Singapore, not +1 656.
    let url = serve.url("/outbound?OUTBOUND_DID=+6562345678");
    let pairs = [("CallSid", "CA1"), ("From", "+13175550000")];
    let response = signed_post(&client(), TOKEN, &url, &pairs)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-byoc-outcome"], "dialed");
    let body = response.text().await.unwrap();
    assert_eq!(
        find(&parse(&body), "Response/Dial/Number").text,
        "+6562345678"
    );

    // 4. An unreadable `To`: the `*` route answers, and resolve shows that same answer.
    let pairs = [("CallSid", "CA2"), ("To", "+1-abc")];
    let response = post_form(
        &serve,
        "/inbound",
        &pairs,
        Some(sign(TOKEN, &serve.url("/inbound"), &pairs)),
    )
    .await;
    assert_eq!(response.headers()["x-byoc-outcome"], "bad_input");
    let served = response.text().await.unwrap();
    assert!(served.contains("Catch all"), "{served}");
    let run = byoc_e2e::byoc(&["routes", "resolve", "+1-abc", "--routes", &routes], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("outcome:  bad_input"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("twiml:    {served}")),
        "{}\n{served}",
        run.stdout
    );

    // 7. A `From` too long for E.164 is still a +1900 caller.
    let pairs = [
        ("CallSid", "CA3"),
        ("To", "+13175551234"),
        ("From", "+190055500001234567"),
    ];
    let response = post_form(
        &serve,
        "/inbound",
        &pairs,
        Some(sign(TOKEN, &serve.url("/inbound"), &pairs)),
    )
    .await;
    assert_eq!(response.headers()["x-byoc-caller-rule"], "+1900");
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("<Reject reason=\"busy\"/>"));

    // 8. A line break in a refused value stays inside its log field.
    let url =
        serve.url("/outbound?OUTBOUND_DID=%2B13175550000&TIMEOUT=2%0Aoutcome%3Ddialed%20FORGED");
    let pairs = [("CallSid", "CA4")];
    let response = signed_post(&client(), TOKEN, &url, &pairs)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-byoc-outcome"], "refused");
    let line = serve
        .stderr
        .wait_for("CA4", Duration::from_secs(5))
        .await
        .expect("the refusal's log line");
    assert!(
        line.contains(r#"reason="TIMEOUT: `2\noutcome=dialed FORGED`"#),
        "{line}"
    );
    assert!(
        !serve
            .stderr
            .text()
            .lines()
            .any(|l| l.starts_with("outcome=dialed")),
        "{}",
        serve.stderr.text()
    );
}

/// The status callback hands the call back to the flow it entered, as of the
/// call's start and on every path (schedule branch, chain `final`, twiml fragment).
#[tokio::test]
async fn the_status_callback_finds_the_flow_the_call_entered() {
    const FLOW: &str = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.json");
    std::fs::write(
        &routes,
        format!(
            r#"{{"routes":[
            {{"pattern":"+13175550001","url":"{FLOW}",
              "schedule":{{"timezone":"America/Indiana/Indianapolis","hours":["daily 09:00-17:00"],
                           "closed":{{"action":"hangup"}}}}}},
            {{"pattern":"+13175550002","action":"dial","targets":[{{"number":"+13175559999"}}],
              "final":{{"url":"{FLOW}"}}}},
            {{"pattern":"+13175550003","action":"twiml",
              "twiml":"<Say>One moment</Say><Redirect>{FLOW}</Redirect>"}}
        ]}}"#
        ),
    )
    .unwrap();
    let routes = routes.display().to_string();
    let serve = Serve::start(&["--routes", &routes], &[("TWILIO_AUTH_TOKEN", TOKEN)]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let status = |to: &'static str, extra: Vec<(&'static str, &'static str)>| {
        let client = client.clone();
        let url = serve.url("/inbound/status");
        async move {
            let mut pairs = vec![
                ("CallSid", "CA1"),
                ("CallStatus", "completed"),
                ("To", to),
                ("AccountSid", "AC00000000000000000000000000000000"),
                ("Direction", "inbound"),
            ];
            pairs.extend(extra);
            signed_post(&client, TOKEN, &url, &pairs)
                .send()
                .await
                .unwrap()
        }
    };
    // Entered at 16:59 local time (21:59 UTC in November), ended at 17:04: still the flow.
    let response = status(
        "+13175550001",
        vec![
            ("Timestamp", "Sat, 28 Nov 2026 22:04:00 +0000"),
            ("CallDuration", "300"),
        ],
    )
    .await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], FLOW);
    // Entered after closing time: it was hung up, never in the flow.
    let response = status(
        "+13175550001",
        vec![
            ("Timestamp", "Sat, 28 Nov 2026 22:30:00 +0000"),
            ("CallDuration", "60"),
        ],
    )
    .await;
    assert_eq!(response.status(), 204);
    for to in ["+13175550002", "+13175550003"] {
        let response = status(to, vec![]).await;
        assert_eq!(response.status(), 302, "{to}");
        assert_eq!(response.headers()["location"], FLOW, "{to}");
    }
    // A Timestamp that cannot be read dates the call "now", and the log says so.
    let response = status("+13175550002", vec![("Timestamp", "yesterday at five")]).await;
    assert_eq!(response.status(), 302);
    assert!(
        serve
            .stderr
            .wait_for(
                "status callback time unreadable",
                std::time::Duration::from_secs(10)
            )
            .await
            .is_some(),
        "{}",
        serve.stderr.text()
    );
}

/// An auth token rotation under load: Twilio signs with the old token, then (once the new one is
/// promoted) with the new one, while calls keep coming. With both configured, none is refused;
/// each call line says which token signed it. Afterwards the old token alone is refused.
#[tokio::test]
async fn a_token_rotation_under_load_loses_no_call() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const OLD: &str = "old-token-0123456789abcdef012345";
    const NEW: &str = "new-token-fedcba9876543210fedcba";
    const WORKERS: usize = 8;
    const CALLS: usize = 100;
    const PROMOTED_AT: usize = 400;

    let serve = Serve::start(
        &[],
        &[("TWILIO_AUTH_TOKEN", OLD), ("TWILIO_AUTH_TOKEN_NEXT", NEW)],
    )
    .await;
    let url = serve.url("/inbound");
    let placed = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let (url, placed) = (url.clone(), placed.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..CALLS {
                let sid = format!("CA{worker:02}{i:030}");
                let pairs = [("CallSid", sid.as_str()), ("To", "+13175551234")];
                // Twilio switches the signing token at one instant for everyone.
                let token = if placed.load(Ordering::SeqCst) < PROMOTED_AT {
                    OLD
                } else {
                    NEW
                };
                let response = signed_post(&client, token, &url, &pairs)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "call {sid} signed with {token}");
                assert_eq!(response.headers()["x-byoc-outcome"], "matched");
                placed.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for worker in workers {
        worker
            .await
            .expect("a call was refused during the rotation");
    }
    let third = [("To", "+13175551234")];
    let response = post_form(
        &serve,
        "/inbound",
        &third,
        Some(sign("stolen", &url, &third)),
    )
    .await;
    assert_eq!(response.status(), 403);

    assert_eq!(
        serve
            .stderr
            .wait_for_count("call answered", WORKERS * CALLS, Duration::from_secs(5))
            .await,
        WORKERS * CALLS
    );
    serve
        .stderr
        .wait_for("signature refused", Duration::from_secs(5))
        .await
        .expect("the refused call's line");
    let lines = serve.stderr.lines();
    let by = |who: &str| {
        lines
            .iter()
            .filter(|l| l.contains("call answered") && l.contains(&format!("signed_by=\"{who}\"")))
            .count()
    };
    let (old, new) = (by("token"), by("token_next"));
    eprintln!(
        "rotation: {} calls, {old} signed with the old token, {new} with the new, 0 refused",
        WORKERS * CALLS
    );
    assert_eq!(old + new, WORKERS * CALLS);
    assert!(
        old >= PROMOTED_AT && new >= WORKERS * CALLS - PROMOTED_AT - WORKERS,
        "{old} {new}"
    );
    assert!(
        !serve.stderr.text().contains(OLD) && !serve.stderr.text().contains(NEW),
        "a token was logged"
    );
    serve.stop().await;

    // The end of the rotation: the new token alone.
    let serve = Serve::start(&[], &[("TWILIO_AUTH_TOKEN", NEW)]).await;
    let url = serve.url("/inbound");
    let pairs = [("To", "+13175551234")];
    let response = post_form(&serve, "/inbound", &pairs, Some(sign(OLD, &url, &pairs))).await;
    assert_eq!(response.status(), 403);
    let response = post_form(&serve, "/inbound", &pairs, Some(sign(NEW, &url, &pairs))).await;
    assert_eq!(response.status(), 200);
}

/// A reader that never drains `byoc serve`'s stderr (a full pipe) must not hold up calls: the
/// log lines are written from a background thread and dropped, counted, when it cannot keep up.
#[tokio::test]
async fn a_stalled_log_reader_never_holds_up_a_call() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(byoc_e2e::binary("byoc"))
        .env_clear()
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .args(["serve", "--port", "0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        // Piped and never read: the pipe (64 KiB) fills after a few hundred call lines.
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Killed however the test ends (a stalled run fails by timing out).
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let mut child = KillOnDrop(child);
    let mut stdout = std::io::BufReader::new(stdout);
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let url = format!("{base}/inbound");
    let client = reqwest::Client::new();
    // Each call line is ~300 bytes: 3,000 calls write ~1 MB, 15 times what the pipe holds.
    let calls = async {
        for i in 0..3_000 {
            let sid = format!("CA{i:032}");
            let pairs = [("CallSid", sid.as_str()), ("To", "+13175551234")];
            let response = signed_post(&client, TOKEN, &url, &pairs)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    // A liveness bound, not a timing: with a blocking writer the calls stop for good.
    tokio::time::timeout(Duration::from_secs(60), calls)
        .await
        .expect("calls stalled behind a full stderr pipe");

    // Stopping must not wait forever for a stderr that takes nothing.
    let pid = child.0.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "byoc serve did not exit on SIGTERM with its stderr not read"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// twilio-python's own `RequestValidator.compute_signature(url, params, algorithm)` (pinned,
/// installed by `infra/twilio-python.sh`): signatures exactly as Twilio's helper library makes
/// them.
fn twilio_python_signature(
    secret: &str,
    url: &str,
    pairs: &[(&str, &str)],
    algorithm: &str,
) -> String {
    let python = std::process::Command::new(byoc_e2e::root().join("infra/twilio-python.sh"))
        .output()
        .expect("run infra/twilio-python.sh");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let python = String::from_utf8(python.stdout).unwrap();
    let params: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    let out = std::process::Command::new(python.trim())
        .args([
            "-c",
            "import json, sys\n\
             from twilio.request_validator import RequestValidator\n\
             secret, url, params, algorithm = sys.argv[1:5]\n\
             print(RequestValidator(secret).compute_signature(url, json.loads(params), algorithm))",
            secret,
            url,
            &serde_json::Value::Object(params).to_string(),
            algorithm,
        ])
        .output()
        .expect("run twilio-python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Webhooks signed with a shared key (`X-Twilio-Webhooks-Signature-Settings`) are verified with
/// its secret, HMAC-SHA256 or HMAC-SHA1, beside the auth token; the call line names the key,
/// never its secret; an unknown key or algorithm is refused with the reason.
#[tokio::test]
async fn webhooks_signed_with_a_shared_key_are_verified_with_it() {
    const KEY_ID: &str = "webhooks_sharedkey_0123";
    const SECRET: &str = "shared-secret-with=padding=";
    let keys = format!("{KEY_ID}={SECRET}, other_key=another-secret");
    let serve = Serve::start(
        &[],
        &[
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("TWILIO_WEBHOOK_SHARED_KEYS", keys.as_str()),
        ],
    )
    .await;
    let pairs = [("To", "+13175551234"), ("CallSid", "CA77")];
    let url = serve.url("/inbound");
    let send = |signature: String, settings: Option<String>| {
        let request = client()
            .post(url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(form(&pairs));
        let request = match settings {
            Some(s) => request.header("x-twilio-webhooks-signature-settings", s),
            None => request,
        };
        async move {
            let response = request.send().await.expect("request");
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    for algorithm in ["HMAC_SHA256", "HMAC_SHA1"] {
        let signature = twilio_python_signature(SECRET, &url, &pairs, algorithm);
        let settings = format!("key={KEY_ID},algorithm={algorithm}");
        let (status, body) = send(signature.clone(), Some(settings)).await;
        assert_eq!(status, 200, "{algorithm}: {body}");
        // The key's signature without the header is not the auth token's.
        let (status, _) = send(signature, None).await;
        assert_eq!(status, 403, "{algorithm}");
    }
    let line = serve
        .stderr
        .wait_for(
            "signed_by=\"key:webhooks_sharedkey_0123\"",
            Duration::from_secs(5),
        )
        .await;
    assert!(line.is_some(), "{}", serve.stderr.text());
    assert!(!serve.stderr.text().contains(SECRET));
    // The auth token keeps working beside the keys.
    let (status, _) = send(sign(TOKEN, &url, &pairs), None).await;
    assert_eq!(status, 200);
    // A key this deployment does not have, an algorithm it does not know: refused, saying so.
    let signature = twilio_python_signature(SECRET, &url, &pairs, "HMAC_SHA256");
    let (status, body) = send(
        signature.clone(),
        Some("key=unknown_key,algorithm=HMAC_SHA256".into()),
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("unknown_key"), "{body}");
    let (status, body) = send(
        signature,
        Some(format!("key={KEY_ID},algorithm=HMAC_SHA512")),
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("HMAC_SHA512"), "{body}");
}

/// A URL signed for a JSON body (`bodySHA256`) cannot be replayed as a form, a GET or with
/// another body: whenever `bodySHA256` is in the URL, the body must match it.
#[tokio::test]
async fn a_json_signed_url_cannot_be_replayed_without_its_body() {
    let serve = signed_serve().await;
    let body = format!(r#"{{"OUTBOUND_DID":"+13175550000","BYOC_TRUNK_SID":"{TRUNK}"}}"#);
    let hash = byoc_core::signature::body_sha256(body.as_bytes());
    let url = format!("{}?bodySHA256={hash}", serve.url("/outbound"));
    let signature = sign(TOKEN, &url, &[]);
    let json = client()
        .post(&url)
        .header("content-type", "application/json")
        .header("x-twilio-signature", &signature)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 200);
    for (method, content_type, replayed) in [
        (reqwest::Method::GET, None, String::new()),
        (
            reqwest::Method::POST,
            Some("application/x-www-form-urlencoded"),
            String::new(),
        ),
        (
            reqwest::Method::POST,
            Some("application/x-www-form-urlencoded"),
            form(&[("OUTBOUND_DID", "+19005550000")]),
        ),
    ] {
        let mut request = client()
            .request(method.clone(), &url)
            .header("x-twilio-signature", &signature)
            .body(replayed);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{method} {content_type:?}");
        assert!(
            response.text().await.unwrap().contains("bodySHA256"),
            "{method}"
        );
    }
}
