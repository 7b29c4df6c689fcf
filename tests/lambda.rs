//! The real `inbound` and `outbound` Lambda binaries, driven through a Lambda Runtime API
//! emulator with the API Gateway events in `events/`.

use std::time::Duration;

use base64::Engine as _;
use byoc_e2e::twiml::{find, has, parse};
use byoc_e2e::{event, root, Lambda, Serve, EVENTS_TOKEN};

const FLOW_URL: &str = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";
const TRUNK: &str = "BY00000000000000000000000000000000";

fn example_routes() -> String {
    root()
        .join("infra/routes.example.json")
        .display()
        .to_string()
}

async fn inbound() -> Lambda {
    let routes = example_routes();
    Lambda::start(
        "inbound",
        &[
            ("TWILIO_AUTH_TOKEN", EVENTS_TOKEN),
            ("ROUTES_FILE", routes.as_str()),
        ],
    )
    .await
}

/// The decoded form body of an event.
fn body_of(event: &serde_json::Value) -> String {
    let raw = event["body"].as_str().unwrap_or_default();
    if event["isBase64Encoded"].as_bool().unwrap_or(false) {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .unwrap(),
        )
        .unwrap()
    } else {
        raw.to_string()
    }
}

fn set_body(event: &mut serde_json::Value, body: &str) {
    event["body"] = base64::engine::general_purpose::STANDARD
        .encode(body)
        .into();
    event["isBase64Encoded"] = true.into();
}

#[tokio::test]
async fn inbound_events_get_their_routes_twiml_from_the_real_binary() {
    let mut lambda = inbound().await;

    let response = lambda.invoke(&event("inbound.json")).await.proxy();
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.headers["content-type"].starts_with("text/xml"));
    assert_eq!(response.headers["x-byoc-outcome"], "matched");
    let twiml = parse(&response.body);
    let redirect = find(&twiml, "Response/Redirect");
    assert_eq!(redirect.text, FLOW_URL);
    assert_eq!(redirect.attr("method"), Some("POST"));

    // National form with a port: the +1317555* prefix route, whose URL carries `&`.
    let response = lambda.invoke(&event("inbound-prefix.json")).await.proxy();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        find(&parse(&response.body), "Response/Redirect").text,
        "https://example-1234.twil.io/indianapolis?team=support&lang=en"
    );

    // REST API payload 1.0 with a stage in the path: same call, same answer.
    let response = lambda.invoke(&event("inbound-rest-v1.json")).await.proxy();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        find(&parse(&response.body), "Response/Redirect").text,
        FLOW_URL
    );

    // One JSON log line per call, with what operators need and never the token.
    let line = lambda
        .stderr
        .wait_for("\"call answered\"", Duration::from_secs(5))
        .await
        .expect("a log line per call");
    let log: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
    assert_eq!(log["call_sid"], format!("CA{}", "1".repeat(32)));
    assert_eq!(log["did"], "+13175551234");
    assert_eq!(log["pattern"], "+13175551234");
    assert_eq!(log["action"], "redirect");
    assert_eq!(log["outcome"], "matched");
    assert!(log["latency_us"].is_u64());
    assert!(!lambda.stderr.text().contains(EVENTS_TOKEN));
}

#[tokio::test]
async fn the_lambda_and_byoc_serve_answer_the_same_request_identically() {
    let mut lambda = inbound().await;
    let routes = example_routes();
    let serve = Serve::start(
        &["--routes", &routes],
        &[
            ("TWILIO_AUTH_TOKEN", EVENTS_TOKEN),
            (
                "PUBLIC_BASE_URL",
                "https://abc123xyz0.execute-api.us-east-1.amazonaws.com",
            ),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    for name in ["inbound.json", "inbound-prefix.json"] {
        let ev = event(name);
        let from_lambda = lambda.invoke(&ev).await.proxy();
        let from_serve = client
            .post(serve.url("/inbound"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "x-twilio-signature",
                ev["headers"]["x-twilio-signature"].as_str().unwrap(),
            )
            .body(body_of(&ev))
            .send()
            .await
            .unwrap();
        assert_eq!(from_serve.status(), 200);
        let serve_body = from_serve.text().await.unwrap();
        assert_eq!(serve_body, from_lambda.body, "{name}");
    }
}

#[tokio::test]
async fn forged_or_unsigned_events_get_403() {
    let mut lambda = inbound().await;

    let mut forged = event("inbound.json");
    let body = body_of(&forged).replace("%2B13175551234", "%2B19005551234");
    set_body(&mut forged, &body);
    let response = lambda.invoke(&forged).await.proxy();
    assert_eq!(response.status, 403);
    assert!(
        response.body.contains("does not match"),
        "{}",
        response.body
    );

    let mut unsigned = event("inbound.json");
    unsigned["headers"]
        .as_object_mut()
        .unwrap()
        .remove("x-twilio-signature");
    let response = lambda.invoke(&unsigned).await.proxy();
    assert_eq!(response.status, 403);
    assert!(response.body.contains("missing X-Twilio-Signature"));

    // Signed for another host (a replay against a different deployment).
    let mut other_host = event("inbound.json");
    other_host["headers"]["host"] = "evil.example.com".into();
    other_host["requestContext"]["domainName"] = "evil.example.com".into();
    let response = lambda.invoke(&other_host).await.proxy();
    assert_eq!(response.status, 403);
}

#[tokio::test]
async fn a_lambda_without_a_token_refuses_unless_unsigned_is_allowed() {
    let routes = example_routes();
    let mut lambda = Lambda::start("inbound", &[("ROUTES_FILE", routes.as_str())]).await;
    let response = lambda.invoke(&event("inbound.json")).await.proxy();
    assert_eq!(response.status, 500);
    assert!(lambda
        .stderr
        .wait_for("TWILIO_AUTH_TOKEN is not set", Duration::from_secs(5))
        .await
        .is_some());

    let mut lambda = Lambda::start(
        "inbound",
        &[("ROUTES_FILE", routes.as_str()), ("ALLOW_UNSIGNED", "true")],
    )
    .await;
    let mut unsigned = event("inbound.json");
    unsigned["headers"]["x-twilio-signature"] = "garbage".into();
    let response = lambda.invoke(&unsigned).await.proxy();
    assert_eq!(response.status, 200);
    assert_eq!(
        find(&parse(&response.body), "Response/Redirect").text,
        FLOW_URL
    );
}

#[tokio::test]
async fn unmatched_and_garbled_calls_still_get_twiml() {
    let routes = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        routes.path(),
        r#"{"routes":[{"pattern":"+13175551234","action":"hangup"}]}"#,
    )
    .unwrap();
    let path = routes.path().display().to_string();
    let mut lambda = Lambda::start(
        "inbound",
        &[
            ("ALLOW_UNSIGNED", "true"),
            ("ROUTES_FILE", path.as_str()),
            ("DEFAULT_ROUTE_URL", "https://example.com/default?a=1&b=2"),
        ],
    )
    .await;
    for to in ["sip:+12125550000@x.sip.twilio.com", "sip:+1abc@x", ""] {
        let mut ev = event("inbound.json");
        set_body(&mut ev, &byoc_e2e::form(&[("To", to), ("CallSid", "CA9")]));
        let response = lambda.invoke(&ev).await.proxy();
        assert_eq!(response.status, 200, "{to}");
        let twiml = parse(&response.body);
        assert_eq!(
            find(&twiml, "Response/Redirect").text,
            "https://example.com/default?a=1&b=2",
            "{to}"
        );
    }

    // No default configured: rejected, never unanswered.
    let mut lambda = Lambda::start(
        "inbound",
        &[("ALLOW_UNSIGNED", "true"), ("ROUTES_FILE", path.as_str())],
    )
    .await;
    let mut ev = event("inbound.json");
    set_body(&mut ev, &byoc_e2e::form(&[("To", "+12125550000")]));
    let response = lambda.invoke(&ev).await.proxy();
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["x-byoc-outcome"], "rejected");
    let twiml = parse(&response.body);
    assert_eq!(
        find(&twiml, "Response/Reject").attr("reason"),
        Some("rejected")
    );
}

#[tokio::test]
async fn a_bad_route_file_fails_initialization_with_a_clear_error() {
    let routes = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        routes.path(),
        r#"{"routes":[{"pattern":"+1317*","url":"nope"}]}"#,
    )
    .unwrap();
    let path = routes.path().display().to_string();
    let mut lambda = Lambda::start(
        "inbound",
        &[("ALLOW_UNSIGNED", "true"), ("ROUTES_FILE", path.as_str())],
    )
    .await;
    let status = lambda
        .wait_exit(Duration::from_secs(20))
        .await
        .expect("exits");
    assert!(!status.success());
    let stderr = lambda.stderr.text();
    assert!(stderr.contains("inbound stopped"), "{stderr}");
    assert!(
        stderr.contains(&format!("route file {path} is invalid")),
        "{stderr}"
    );
    assert!(stderr.contains("`url`"), "{stderr}");
}

#[tokio::test]
async fn outbound_events_dial_over_the_byoc_trunk_or_refuse_without_dialing() {
    let mut lambda = Lambda::start("outbound", &[("TWILIO_AUTH_TOKEN", EVENTS_TOKEN)]).await;
    for name in ["outbound.json", "outbound-get.json"] {
        let response = lambda.invoke(&event(name)).await.proxy();
        assert_eq!(response.status, 200, "{name}: {}", response.body);
        assert_eq!(response.headers["x-byoc-outcome"], "dialed");
        let twiml = parse(&response.body);
        let number = find(&twiml, "Response/Dial/Number");
        assert_eq!(number.text, "+13175550199", "{name}");
        assert_eq!(number.attr("byoc"), Some(TRUNK));
    }

    let response = lambda.invoke(&event("outbound-invalid.json")).await.proxy();
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["x-byoc-outcome"], "refused");
    assert_eq!(
        response.headers["x-byoc-reason"],
        "OUTBOUND_DID `undefined` is not a phone number"
    );
    let twiml = parse(&response.body);
    assert!(!has(&twiml, "Response/Dial"));
    assert!(has(&twiml, "Response/Say"));
    assert!(has(&twiml, "Response/Hangup"));

    // The outbound function does not answer the inbound path.
    let mut ev = event("outbound.json");
    ev["rawPath"] = "/inbound".into();
    let response = lambda.invoke(&ev).await.proxy();
    assert_eq!(response.status, 404);
}

#[tokio::test]
async fn the_status_callback_returns_studio_calls_to_their_flow() {
    let mut lambda = inbound().await;
    let response = lambda.invoke(&event("inbound-status.json")).await.proxy();
    assert_eq!(response.status, 302, "{}", response.body);
    assert_eq!(response.headers["location"], FLOW_URL);

    // A call whose route is not a Studio flow: nothing to do.
    let mut other = event("inbound-status.json");
    let body = body_of(&other).replace("%2B13175551234", "%2B13175559876");
    set_body(&mut other, &body);
    other["headers"]["x-twilio-signature"] = byoc_e2e::sign(
        EVENTS_TOKEN,
        "https://abc123xyz0.execute-api.us-east-1.amazonaws.com/inbound/status",
        &form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect::<Vec<_>>()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    )
    .into();
    let response = lambda.invoke(&other).await.proxy();
    assert_eq!(response.status, 204, "{}", response.body);

    // Signature-checked like every endpoint.
    let mut forged = event("inbound-status.json");
    forged["headers"]["x-twilio-signature"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let response = lambda.invoke(&forged).await.proxy();
    assert_eq!(response.status, 403);
}

/// Twilio's fallback request with the table unreachable: routed like /inbound, so the store's
/// failure gives the degraded answer (the configured default) at once, never an error.
#[tokio::test]
async fn the_fallback_routes_and_answers_with_the_store_unreachable() {
    // A table on a closed port: any store access fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut lambda = Lambda::start(
        "inbound",
        &[
            ("TWILIO_AUTH_TOKEN", EVENTS_TOKEN),
            ("ROUTES_TABLE", "routes"),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("STORE_TIMEOUT_MS", "200"),
            ("DEFAULT_ROUTE_URL", "https://example.com/default?a=1&b=2"),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    let response = lambda.invoke(&event("inbound-fallback.json")).await.proxy();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.headers["x-byoc-outcome"], "degraded");
    assert_eq!(
        find(&parse(&response.body), "Response/Redirect").text,
        "https://example.com/default?a=1&b=2"
    );
    eprintln!(
        "fallback with the store unreachable: {:?}",
        started.elapsed()
    );
    let line = lambda
        .stderr
        .wait_for("\"endpoint\":\"inbound_fallback\"", Duration::from_secs(5))
        .await
        .expect("call line");
    let log: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(log["level"], "WARN", "{line}");
    assert_eq!(log["error_code"], "11200", "{line}");
    assert!(
        log["error_url"].as_str().unwrap().ends_with("/inbound"),
        "{line}"
    );
    assert_eq!(log["signed_by"], "token", "{line}");
    assert_eq!(log["did"], "+13175551234", "{line}");
    // The call line is an EMF record: calls by endpoint and outcome, and latency.
    assert_eq!(
        log["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "ByocRouter"
    );
    assert_eq!(log["Endpoint"], "inbound_fallback");
    assert_eq!(log["Outcome"], "degraded");
    assert_eq!(log["Calls"], 1);
    assert!(log["LatencyMs"].is_number());
}

/// `events/inbound-next.json`: a failover chain's post-back, its state and signature made by the
/// Python generator. The chain goes on to its second target without any route or store.
#[tokio::test]
async fn the_inbound_next_event_dials_the_chains_next_target() {
    let mut lambda = inbound().await;
    let response = lambda.invoke(&event("inbound-next.json")).await.proxy();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.headers["x-byoc-outcome"], "chain_next");
    let twiml = parse(&response.body);
    assert_eq!(find(&twiml, "Response/Dial/Client").text, "alice");
    let action = find(&twiml, "Response/Dial").attr("action").unwrap();
    let sent = event("inbound-next.json");
    let state = sent["rawQueryString"]
        .as_str()
        .unwrap()
        .strip_suffix("&i=1")
        .unwrap();
    assert_eq!(
        action,
        format!("https://abc123xyz0.execute-api.us-east-1.amazonaws.com/inbound/next?{state}&i=2")
    );
    // A changed step breaks the signature.
    let mut forged = sent.clone();
    forged["rawQueryString"] = format!("{state}&i=2").into();
    let response = lambda.invoke(&forged).await.proxy();
    assert_eq!(response.status, 403, "{}", response.body);
}

/// A custom domain with an API mapping key (`https://voice.example.com/router`): whether API
/// Gateway passes the key in `rawPath` or not, the signature is checked against the public URL
/// Twilio signed, never `/router/router/inbound`.
#[tokio::test]
async fn a_custom_domain_mapping_key_is_never_doubled() {
    let routes = example_routes();
    let mut lambda = Lambda::start(
        "inbound",
        &[
            ("TWILIO_AUTH_TOKEN", EVENTS_TOKEN),
            ("ROUTES_FILE", routes.as_str()),
            ("PUBLIC_BASE_URL", "https://voice.example.com/router"),
        ],
    )
    .await;
    let pairs = [("CallSid", "CA1"), ("To", "+13175551234")];
    let body = byoc_e2e::form(&pairs);
    let signature = byoc_e2e::sign(
        EVENTS_TOKEN,
        "https://voice.example.com/router/inbound",
        &pairs,
    );
    for raw_path in ["/router/inbound", "/inbound"] {
        let mut ev = byoc_e2e::http_api_event(
            "POST",
            raw_path,
            "",
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
            &[("x-twilio-signature", signature.as_str())],
        );
        ev["headers"]["host"] = "voice.example.com".into();
        let response = lambda.invoke(&ev).await.proxy();
        assert_eq!(response.status, 200, "{raw_path}: {}", response.body);
        assert!(response.body.contains("<Redirect"), "{}", response.body);
    }
}

/// Every API Gateway shape through the real `inbound` binary, each signed for the URL Twilio
/// requested: HTTP API `$default` and a named stage, a REST API with its stage and behind a
/// custom domain's base-path mapping (no `PUBLIC_BASE_URL`), and forged `Host` /
/// `X-Forwarded-Proto` headers with signatures for the URL they claim (refused).
#[tokio::test]
async fn every_api_gateway_shape_verifies_the_url_it_was_called_on() {
    let mut lambda = inbound().await;
    let api = "abc123xyz0.execute-api.us-east-1.amazonaws.com";
    let pairs = [("CallSid", "CA5"), ("To", "+13175551234")];
    let signed = |mut ev: serde_json::Value, url: &str| {
        set_body(&mut ev, &byoc_e2e::form(&pairs));
        let signature = byoc_e2e::sign(EVENTS_TOKEN, url, &pairs);
        ev["headers"]["x-twilio-signature"] = signature.clone().into();
        if ev["multiValueHeaders"].is_object() {
            ev["multiValueHeaders"]["x-twilio-signature"] = serde_json::json!([signature]);
        }
        ev
    };
    let with_header = |mut ev: serde_json::Value, name: &str, value: &str| {
        ev["headers"][name] = value.into();
        if ev["multiValueHeaders"].is_object() {
            ev["multiValueHeaders"][name] = serde_json::json!([value]);
        }
        ev
    };
    let mut staged = event("inbound.json");
    staged["rawPath"] = "/prod/inbound".into();
    staged["requestContext"]["stage"] = "prod".into();
    let mut mapped = event("inbound-rest-v1.json");
    mapped["requestContext"]["domainName"] = "voice.example.com".into();
    mapped["requestContext"]["path"] = "/router/inbound".into();
    let cases: Vec<(&str, serde_json::Value, u16)> = vec![
        (
            "HTTP API $default",
            signed(event("inbound.json"), &format!("https://{api}/inbound")),
            200,
        ),
        (
            "HTTP API, named stage",
            signed(staged, &format!("https://{api}/prod/inbound")),
            200,
        ),
        (
            "REST API, stage in the URL",
            signed(
                event("inbound-rest-v1.json"),
                &format!("https://{api}/Prod/inbound"),
            ),
            200,
        ),
        (
            "REST API, custom domain with a base path",
            signed(mapped, "https://voice.example.com/router/inbound"),
            200,
        ),
        (
            "a forged Host",
            with_header(
                signed(event("inbound.json"), "https://dev-tunnel.example/inbound"),
                "host",
                "dev-tunnel.example",
            ),
            403,
        ),
        (
            "a forged X-Forwarded-Proto: http",
            with_header(
                signed(
                    event("inbound-rest-v1.json"),
                    &format!("http://{api}/Prod/inbound"),
                ),
                "x-forwarded-proto",
                "http",
            ),
            403,
        ),
    ];
    for (name, ev, status) in cases {
        let response = lambda.invoke(&ev).await.proxy();
        assert_eq!(response.status, status, "{name}: {}", response.body);
    }
}
