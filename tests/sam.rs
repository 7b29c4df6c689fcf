//! The deploy path as a user runs it: `sam local invoke` of every event in `events/` and
//! `sam local start-api` with signed HTTP requests to every route of the template, against the
//! arm64 artifacts of `sam build`, in Docker (arm64 under qemu), routing from a DynamoDB table
//! on a local DynamoDB-API server reached over host networking.
//!
//! They need what `infra/sam-local.sh start` sets up and a `sam build` made by
//! `infra/sam-local.sh sam build`, so they are `#[ignore]`d in a plain `cargo test`;
//! `infra/test.sh` (the README's test command) does both and then runs them with
//! `cargo test -p byoc-e2e --test e2e sam:: -- --ignored`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use byoc_e2e::twiml::{find, has, parse};
use byoc_e2e::{byoc, event, form, root, sign, unique_table, Dynamo, EVENTS_TOKEN};
use tokio::process::Command;

const FLOW_URL: &str = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";
const TRUNK: &str = "BY00000000000000000000000000000000";
const DEFAULT_URL: &str = "https://example.com/default?a=1&b=2";

fn sam_local() -> PathBuf {
    root().join("infra/sam-local.sh")
}

/// A table on DynamoDB Local holding `infra/routes.example.json`, and the `--env-vars` file that points
/// the functions at it (only variables the template declares can be set this way).
struct Setup {
    dynamo: Dynamo,
    env_vars: tempfile::NamedTempFile,
}

fn setup() -> Setup {
    let dynamo = Dynamo::start();
    let table = unique_table("sam");
    let mut env = dynamo.env();
    env.push(("ROUTES_TABLE".into(), table.clone()));
    env.push(("BYOC_ACTOR".into(), "test".into()));
    let run = byoc(&["table", "create"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let example = root().join("infra/routes.example.json");
    let run = byoc(&["routes", "import", &example.display().to_string()], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let env_vars = env_vars_file(serde_json::json!({
        "InboundFunction": {
            "TWILIO_AUTH_TOKEN": EVENTS_TOKEN,
            "ROUTES_TABLE": table,
            "DYNAMODB_ENDPOINT_URL": dynamo.endpoint(),
            "DEFAULT_ROUTE_URL": DEFAULT_URL,
        },
        "OutboundFunction": { "TWILIO_AUTH_TOKEN": EVENTS_TOKEN },
    }));
    Setup { dynamo, env_vars }
}

fn env_vars_file(value: serde_json::Value) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), value.to_string()).unwrap();
    file
}

/// What one `sam local invoke` printed: the function's response (stdout) and SAM's and the
/// function's logs (stderr).
struct Invoked {
    response: serde_json::Value,
    logs: String,
}

async fn invoke(function: &str, event_file: &str, env_vars: &std::path::Path) -> Invoked {
    let out = Command::new(sam_local())
        .args(["sam", "local", "invoke", function, "--skip-pull-image"])
        .arg("--event")
        .arg(root().join("events").join(event_file))
        .arg("--env-vars")
        .arg(env_vars)
        .current_dir(root())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run infra/sam-local.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let logs = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "sam local invoke {function} {event_file}: {logs}\n{stdout}"
    );
    // The response is the last line of stdout.
    let last = stdout.lines().rev().find(|l| l.starts_with('{'));
    let response = last
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{event_file}: no response in {stdout}\n{logs}"));
    Invoked { response, logs }
}

/// A header of a v2 (`headers`) or v1 (`multiValueHeaders`) response.
fn header(response: &serde_json::Value, name: &str) -> String {
    let v2 = &response["headers"][name];
    let value = if v2.is_null() {
        &response["multiValueHeaders"][name][0]
    } else {
        v2
    };
    value.as_str().unwrap_or_default().to_string()
}

#[tokio::test]
#[ignore = "needs Docker and a sam build: run by infra/test.sh"]
async fn sam_local_invoke_answers_every_event_with_routes_from_a_local_table() {
    let setup = setup();
    let env = setup.env_vars.path();
    // (event, function, status, X-Byoc-Outcome, check)
    type Check = fn(&serde_json::Value);
    let flow: Check = |r| {
        let twiml = parse(r["body"].as_str().unwrap_or_default());
        assert_eq!(find(&twiml, "Response/Redirect").text, FLOW_URL, "{r}");
    };
    let prefix: Check = |r| {
        let twiml = parse(r["body"].as_str().unwrap_or_default());
        assert_eq!(
            find(&twiml, "Response/Redirect").text,
            "https://example-1234.twil.io/indianapolis?team=support&lang=en",
            "{r}"
        );
    };
    let status: Check = |r| assert_eq!(header(r, "location"), FLOW_URL, "{r}");
    let next: Check = |r| {
        let twiml = parse(r["body"].as_str().unwrap_or_default());
        assert_eq!(find(&twiml, "Response/Dial/Client").text, "alice", "{r}");
    };
    let dialed: Check = |r| {
        let twiml = parse(r["body"].as_str().unwrap_or_default());
        let number = find(&twiml, "Response/Dial/Number");
        assert_eq!(number.text, "+13175550199", "{r}");
        assert_eq!(number.attr("byoc"), Some(TRUNK), "{r}");
    };
    let failover: Check = |r| {
        let twiml = parse(r["body"].as_str().unwrap_or_default());
        let number = find(&twiml, "Response/Dial/Number");
        assert_eq!(number.text, "+13175550199", "{r}");
        assert_eq!(
            number.attr("byoc"),
            Some("BY11111111111111111111111111111111"),
            "{r}"
        );
        let action = find(&twiml, "Response/Dial")
            .attr("action")
            .unwrap_or_default();
        assert!(action.ends_with("BYOC_ATTEMPT=2"), "{r}");
    };
    let refused: Check = |r| {
        let twiml = parse(r["body"].as_str().unwrap_or_default());
        assert!(!has(&twiml, "Response/Dial"), "{r}");
        assert!(has(&twiml, "Response/Hangup"), "{r}");
    };
    let cases: &[(&str, &str, i64, &str, Check)] = &[
        ("inbound.json", "InboundFunction", 200, "matched", flow),
        (
            "inbound-prefix.json",
            "InboundFunction",
            200,
            "matched",
            prefix,
        ),
        (
            "inbound-rest-v1.json",
            "InboundFunction",
            200,
            "matched",
            flow,
        ),
        (
            "inbound-status.json",
            "InboundFunction",
            302,
            "flow_return",
            status,
        ),
        (
            "inbound-fallback.json",
            "InboundFunction",
            200,
            "matched",
            flow,
        ),
        (
            "inbound-next.json",
            "InboundFunction",
            200,
            "chain_next",
            next,
        ),
        ("outbound.json", "OutboundFunction", 200, "dialed", dialed),
        (
            "outbound-get.json",
            "OutboundFunction",
            200,
            "dialed",
            dialed,
        ),
        (
            "outbound-invalid.json",
            "OutboundFunction",
            200,
            "refused",
            refused,
        ),
        (
            "outbound-next.json",
            "OutboundFunction",
            200,
            "failover",
            failover,
        ),
    ];
    // Every event file has a case: a new event is run here too.
    for entry in std::fs::read_dir(root().join("events")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".json") {
            assert!(
                cases.iter().any(|c| c.0 == name),
                "events/{name} has no case"
            );
        }
    }
    for &(name, function, status, outcome, check) in cases {
        let invoked = invoke(function, name, env).await;
        let r = &invoked.response;
        assert_eq!(r["statusCode"], status, "{name}: {r}\n{}", invoked.logs);
        assert_eq!(header(r, "x-byoc-outcome"), outcome, "{name}: {r}");
        check(r);
        if name == "inbound.json" {
            // The route came from the table on the local server, over host networking, and the
            // artifact found its CA bundle where Amazon Linux 2023 keeps it.
            let ready = invoked
                .logs
                .lines()
                .find(|l| l.contains("inbound ready"))
                .unwrap_or_else(|| panic!("no ready line: {}", invoked.logs));
            assert!(ready.contains("\"warmup\":\"ok\""), "{ready}");
            assert!(ready.contains("dynamodb table sam-"), "{ready}");
            assert!(
                ready.contains("\"ca_certificates\":\"/etc/pki/tls/certs/ca-bundle.crt\""),
                "{ready}"
            );
        }
    }
    drop(setup.dynamo);
}

#[tokio::test]
#[ignore = "needs Docker and a sam build: run by infra/test.sh"]
async fn sam_local_refuses_a_forged_signature_and_never_sends_the_placeholder_table_to_aws() {
    let setup = setup();
    // A forged signature: 403, no TwiML route.
    let mut forged = event("inbound.json");
    forged["headers"]["x-twilio-signature"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), forged.to_string()).unwrap();
    let out = Command::new(sam_local())
        .args([
            "sam",
            "local",
            "invoke",
            "InboundFunction",
            "--skip-pull-image",
        ])
        .arg("--event")
        .arg(file.path())
        .arg("--env-vars")
        .arg(setup.env_vars.path())
        .current_dir(root())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"statusCode\":403") || stdout.contains("\"statusCode\": 403"),
        "{stdout}"
    );
    assert!(!stdout.contains("Redirect"), "{stdout}");

    // Only the token given: ROUTES_TABLE is the template's literal `RoutesTable`. The function
    // must not ask AWS for it; it says so and answers with the default (here: none, a reject).
    let token_only = env_vars_file(serde_json::json!({
        "InboundFunction": { "TWILIO_AUTH_TOKEN": EVENTS_TOKEN },
    }));
    let invoked = invoke("InboundFunction", "inbound.json", token_only.path()).await;
    assert_eq!(invoked.response["statusCode"], 200, "{}", invoked.response);
    assert!(
        invoked.logs.contains("unresolved `!Ref RoutesTable`"),
        "{}",
        invoked.logs
    );
    let twiml = parse(invoked.response["body"].as_str().unwrap_or_default());
    assert!(has(&twiml, "Response/Reject"), "{}", invoked.response);
}

/// `sam local start-api`: the template's API routes, through SAM's API Gateway emulation, to the
/// functions; Twilio-style signed requests for the URL the server is reached at.
#[tokio::test]
#[ignore = "needs Docker and a sam build: run by infra/test.sh"]
async fn sam_local_start_api_serves_every_route_of_the_template() {
    let setup = setup();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut api = Command::new(sam_local())
        .args(["sam", "local", "start-api", "--skip-pull-image"])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--warm-containers", "LAZY"])
        .arg("--env-vars")
        .arg(setup.env_vars.path())
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = byoc_e2e::process::Output::default();
    let _capture = stderr.capture(api.stderr.take().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while http.get(format!("{base}/nowhere")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "start-api did not listen: {}",
            stderr.text()
        );
        if let Ok(Some(status)) = api.try_wait() {
            panic!("sam local start-api exited ({status}): {}", stderr.text());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let post = |path: &str, query: &str, pairs: Vec<(&'static str, String)>| {
        let url = if query.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{query}")
        };
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let signature = sign(EVENTS_TOKEN, &url, &borrowed);
        http.post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(form(&borrowed))
    };
    let call = |to: &str| {
        vec![
            ("CallSid", "CA00000000000000000000000000000001".to_string()),
            (
                "AccountSid",
                "AC00000000000000000000000000000000".to_string(),
            ),
            (
                "From",
                "sip:+13175550000@example.sip.twilio.com".to_string(),
            ),
            ("To", to.to_string()),
            ("SipDomain", "example.sip.twilio.com".to_string()),
        ]
    };
    let text = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let outcome = r
            .headers()
            .get("x-byoc-outcome")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (
            status,
            outcome,
            location,
            r.text().await.unwrap_or_default(),
        )
    };

    // /inbound: the exact route, from the table.
    let to = "sip:+13175551234@example.sip.twilio.com;user=phone";
    let (status, outcome, _, body) =
        text(post("/inbound", "", call(to)).send().await.unwrap()).await;
    assert_eq!(
        (status, outcome.as_str()),
        (200, "matched"),
        "{body}\n{}",
        stderr.text()
    );
    assert_eq!(find(&parse(&body), "Response/Redirect").text, FLOW_URL);

    // The same request, signed for another URL: refused.
    let pairs = call(to);
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = http
        .post(format!("{base}/inbound"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            sign(EVENTS_TOKEN, "https://elsewhere.example/inbound", &borrowed),
        )
        .body(form(&borrowed))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);

    // /inbound/status: a Studio call's status callback returns to its flow.
    let mut status_params = call(to);
    status_params.push(("CallStatus", "completed".into()));
    status_params.push(("Direction", "inbound".into()));
    let (status, _, location, body) = text(
        post("/inbound/status", "", status_params)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 302, "{body}");
    assert_eq!(location, FLOW_URL);

    // /inbound/fallback: Twilio's fallback request, after the primary handler failed.
    let mut fallback = call(to);
    fallback.push(("ErrorCode", "11200".into()));
    fallback.push(("ErrorUrl", format!("{base}/inbound")));
    let (status, outcome, _, body) = text(
        post("/inbound/fallback", "", fallback)
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Routed like /inbound, from the table.
    assert_eq!((status, outcome.as_str()), (200, "matched"), "{body}");
    assert_eq!(find(&parse(&body), "Response/Redirect").text, FLOW_URL);

    // /inbound/next: the chain state of events/inbound-next.json, re-signed for this URL.
    let next_event = event("inbound-next.json");
    let query = next_event["rawQueryString"].as_str().unwrap().to_string();
    let mut next = call(to);
    next.push(("DialCallStatus", "busy".into()));
    let (status, outcome, _, body) =
        text(post("/inbound/next", &query, next).send().await.unwrap()).await;
    assert_eq!((status, outcome.as_str()), (200, "chain_next"), "{body}");
    assert_eq!(find(&parse(&body), "Response/Dial/Client").text, "alice");

    // /outbound, POST and GET, as a Studio TwiML Redirect widget sends them.
    let query = format!("OUTBOUND_DID=%2B13175550199&BYOC_TRUNK_SID={TRUNK}");
    let (status, outcome, _, body) = text(
        post("/outbound", &query, call("+13175550000"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, outcome.as_str()), (200, "dialed"), "{body}");
    assert_eq!(
        find(&parse(&body), "Response/Dial/Number").attr("byoc"),
        Some(TRUNK)
    );
    let url = format!("{base}/outbound?{query}");
    let get = http
        .get(&url)
        .header("x-twilio-signature", sign(EVENTS_TOKEN, &url, &[]))
        .send()
        .await
        .unwrap();
    let (status, outcome, _, body) = text(get).await;
    assert_eq!((status, outcome.as_str()), (200, "dialed"), "{body}");

    // A path the template does not route never reaches a function (which would answer with an
    // X-Byoc-Outcome or X-Byoc-Reason header).
    let other = post("/inbound/other", "", call(to)).send().await.unwrap();
    assert!(
        other.headers().get("x-byoc-reason").is_none(),
        "{:?}",
        other.headers()
    );
    assert!(other.headers().get("x-byoc-outcome").is_none());
    assert_ne!(other.status().as_u16(), 200);

    let _ = api.start_kill();
    let _ = api.wait().await;
    // SAM's warm containers go with it; remove any a killed server left.
    let clean = Command::new(sam_local())
        .arg("clean")
        .output()
        .await
        .unwrap();
    assert!(clean.status.success());
    drop(setup.dynamo);
}

/// The artifact `sam build` made is what Lambda runs: an aarch64 executable needing no glibc newer
/// than Amazon Linux 2023's (2.34).
#[test]
#[ignore = "needs a sam build: run by infra/test.sh"]
fn the_built_artifacts_are_arm64_and_need_no_glibc_newer_than_al2023s() {
    for function in ["InboundFunction", "OutboundFunction"] {
        let bootstrap = root()
            .join(".aws-sam/build")
            .join(function)
            .join("bootstrap");
        let header = std::process::Command::new("readelf")
            .arg("-h")
            .arg(&bootstrap)
            .output()
            .unwrap();
        let header = String::from_utf8_lossy(&header.stdout);
        assert!(header.contains("AArch64"), "{function}: {header}");
        let versions = std::process::Command::new("readelf")
            .arg("-V")
            .arg(&bootstrap)
            .output()
            .unwrap();
        let versions = String::from_utf8_lossy(&versions.stdout);
        let newest = versions
            .split("GLIBC_")
            .skip(1)
            .filter_map(|rest| {
                let v: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
                Some((parts.next()?, parts.next().unwrap_or(0)))
            })
            .max()
            .unwrap_or_else(|| panic!("{function}: no GLIBC versions in {versions}"));
        assert!(newest <= (2, 34), "{function} needs GLIBC {newest:?}");
    }
}
