//! `byoc calls` and the console's `/api/calls` over real call lines: a log file written by a
//! real `byoc serve --log-format json`, and the same lines in CloudWatch Logs groups on moto
//! (FilterLogEvents; moto has no Logs Insights aggregation, so the summary's Insights path is
//! unit-tested on recorded answers in `crates/cli/src/calls/summary.rs`).

use std::path::PathBuf;
use std::time::Duration;

use byoc_e2e::console::ConsoleProc;
use byoc_e2e::{byoc, form, root, Dynamo, Serve};
use serde_json::Value;

/// The CallSid of test call `n`.
pub fn sid(n: u32) -> String {
    format!("CA{n:032x}")
}

/// Calls made to a real `byoc serve` on the example routes: what each should log.
const INBOUND: [(u32, &str); 6] = [
    (1, "sip:+13175551234@example.sip.twilio.com"),
    (2, "sip:+13175559999@example.sip.twilio.com"),
    (3, "sip:+16505550000@example.sip.twilio.com"),
    (4, "+16505550000"),
    (5, "sip:+19005550000@example.sip.twilio.com"),
    (6, "sip:hello@example.sip.twilio.com"),
];

/// A log of `byoc serve --log-format json` (its whole stderr, start-up lines included) after
/// six inbound calls, a status callback, a dialled and a refused outbound call; plus two lines
/// no reader can use. The file, and its call lines alone.
pub async fn serve_log(dir: &std::path::Path) -> (PathBuf, Vec<String>) {
    let serve = Serve::start(&["--log-format", "json"], &[]).await;
    let http = reqwest::Client::new();
    let post = |path: &str, pairs: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        http.post(serve.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&pairs))
            .send()
    };
    for (n, to) in INBOUND {
        let answer = post(
            "/inbound",
            vec![
                ("CallSid", sid(n)),
                ("To", to.into()),
                ("From", "+13175550000".into()),
            ],
        )
        .await
        .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let status = post(
        "/inbound/status",
        vec![
            ("CallSid", sid(1)),
            ("To", INBOUND[0].1.into()),
            ("CallStatus", "completed".into()),
        ],
    )
    .await
    .unwrap();
    assert!(status.status().is_success());
    for (n, did) in [(7, "+13175550100"), (8, "+19005551234")] {
        let answer = post(
            "/outbound",
            vec![
                ("CallSid", sid(n)),
                ("OUTBOUND_DID", did.into()),
                ("BYOC_TRUNK_SID", format!("BY{:032x}", 1)),
            ],
        )
        .await
        .unwrap();
        assert_eq!(answer.status(), 200);
    }
    serve
        .stderr
        .wait_for_count("call answered", 9, Duration::from_secs(10))
        .await;
    let stderr = serve.stderr.clone();
    serve.stop().await;
    let mut text = stderr.text();
    let calls: Vec<String> = text
        .lines()
        .filter(|l| l.contains("\"call answered\""))
        .map(str::to_string)
        .collect();
    assert_eq!(calls.len(), 9, "{text}");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(
        "not a call line\n{\"timestamp\":\"2026-12-05T10:00:00Z\",\"message\":\"call answered\"\n",
    );
    let path = dir.join("calls.log");
    std::fs::write(&path, text).unwrap();
    (path, calls)
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn calls_reads_a_byoc_serve_log() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = serve_log(dir.path()).await;
    let log = log.display().to_string();

    // Recent calls: every call line, oldest first; the two bad lines counted, not fatal.
    let out = byoc(&["calls", "--log", &log], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&sid(3)) && out.stdout.contains("+16505550000"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("2 unreadable line(s) skipped"),
        "{}",
        out.stderr
    );
    let out = byoc(&["calls", "--log", &log, "--format", "json"], &[]);
    let doc = json(&out.stdout);
    assert_eq!(doc["tally"]["matched"], 9, "{doc}");
    assert_eq!(doc["tally"]["unreadable"], 2);
    let calls = doc["calls"].as_array().unwrap();
    assert_eq!(calls[0]["call_sid"], sid(1));
    assert!(
        calls.iter().all(|c| c.get("_aws").is_none()),
        "no metric metadata"
    );
    // The latest N.
    let out = byoc(
        &["calls", "--log", &log, "--format", "json", "--limit", "2"],
        &[],
    );
    let doc = json(&out.stdout);
    let sids: Vec<&str> = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, [sid(7), sid(8)]);

    // Filters: a number as dialled nationally; an outcome.
    let out = byoc(
        &[
            "calls",
            "--log",
            &log,
            "--number",
            "(650) 555-0000",
            "--format",
            "json",
        ],
        &[],
    );
    let doc = json(&out.stdout);
    assert_eq!(doc["tally"]["matched"], 2, "{doc}");
    let out = byoc(
        &[
            "calls",
            "--log",
            &log,
            "--outcome",
            "refused",
            "--format",
            "json",
        ],
        &[],
    );
    let doc = json(&out.stdout);
    assert_eq!(doc["calls"][0]["call_sid"], sid(8), "{doc}");

    // The summary: routes with their outcomes, the numbers that fell through, latency.
    let out = byoc(
        &["calls", "--log", &log, "--summary", "--format", "json"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s = json(&out.stdout)["summary"].clone();
    assert_eq!(s["inbound_calls"], 6, "{s}");
    let route = |pattern: &str| {
        s["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pattern"] == pattern)
            .cloned()
            .unwrap_or_else(|| panic!("no route {pattern}: {s}"))
    };
    assert_eq!(
        route("*")["calls"],
        3,
        "the two +1650 calls and the unreadable one"
    );
    assert_eq!(route("+1900*")["outcomes"]["matched"], 1);
    let fell = s["fall_through"].as_array().unwrap();
    assert_eq!(fell[0]["did"], "+16505550000", "{s}");
    assert_eq!(fell[0]["calls"], 2);
    assert!(s["p50_us"].as_u64().unwrap() > 0);
    assert!(s["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["endpoint"] == "inbound_status"));
    let out = byoc(&["calls", "--log", &log, "--summary"], &[]);
    assert!(
        out.stdout.contains("numbers with no route of their own"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("+16505550000"), "{}", out.stdout);

    // One call: its /inbound and /inbound/status lines, in order.
    let out = byoc(&["calls", "--log", &log, "--call", &sid(1)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let inbound = out.stdout.find(" inbound ").expect("the /inbound line");
    let status = out
        .stdout
        .find(" inbound_status ")
        .expect("the status line");
    assert!(inbound < status, "{}", out.stdout);
    assert!(out.stdout.contains("2 line(s)"), "{}", out.stdout);
    let out = byoc(&["calls", "--log", &log, "--call", &sid(99)], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("no line of call {}", sid(99))),
        "{}",
        out.stdout
    );

    // A CallSid pasted in capitals or lower case is the same call; standard input is a log.
    let upper = format!("CA{}", sid(1)[2..].to_ascii_uppercase());
    let out = byoc(
        &[
            "calls",
            "--log",
            &log,
            "--call",
            &upper.to_ascii_lowercase(),
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    let piped = std::process::Command::new(byoc_e2e::binary("byoc"))
        .args(["calls", "--log", "-", "--call", &upper, "--format", "json"])
        .stdin(std::fs::File::open(&log).unwrap())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let doc = json(&String::from_utf8_lossy(&piped.stdout));
    assert_eq!(doc["lines"].as_array().unwrap().len(), 2, "{doc}");
    // An address that is not E.164 (the example's extension route answers `4321`).
    let out = byoc(
        &[
            "calls", "--log", &log, "--number", "hello", "--format", "json",
        ],
        &[],
    );
    assert_eq!(
        json(&out.stdout)["calls"][0]["call_sid"],
        sid(6),
        "{}",
        out.stderr
    );
    // An outcome that no line has names those the window has.
    let out = byoc(&["calls", "--log", &log, "--outcome", "matchd"], &[]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("no line has the outcome `matchd`") && out.stdout.contains("matched"),
        "{}",
        out.stdout
    );

    // An empty window says so; bad input is refused with what to write.
    let out = byoc(
        &[
            "calls",
            "--log",
            &log,
            "--since",
            "2020-01-01",
            "--until",
            "2020-01-02",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("no calls between 2020-01-01T00:00:00Z and 2020-01-02T00:00:00Z"),
        "{}",
        out.stdout
    );
    for (args, says) in [
        (vec!["--since", "yesterday"], "neither an age"),
        (vec!["--since", "1h", "--until", "2h"], "not before --until"),
        (vec!["--call", "CA1"], "not a CallSid"),
        (vec!["--outcome", "matched\" or 1"], "not an outcome"),
        (vec!["--number", "a b"], "--number"),
        (vec!["--number", ""], "--number is empty"),
        (vec!["--since", "2026-12-05T14:00"], "no time zone"),
    ] {
        let mut all = vec!["calls", "--log", &log];
        all.extend(args.iter().copied());
        let out = byoc(&all, &[]);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    let missing = dir.path().join("none.log").display().to_string();
    let out = byoc(&["calls", "--log", &missing], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--log-format json"), "{}", out.stderr);
    let out = byoc(&["calls", "--log", &dir.path().display().to_string()], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is a directory"), "{}", out.stderr);
    let out = byoc(&["calls"], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--stack NAME"), "{}", out.stderr);

    // A log in the text format: nothing readable, and the hint says which format is read.
    let text = dir.path().join("text.log");
    std::fs::write(
        &text,
        "2026-12-05T15:00:00Z  INFO call answered endpoint=inbound\n",
    )
    .unwrap();
    let out = byoc(&["calls", "--log", &text.display().to_string()], &[]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .contains("is it `byoc serve --log-format json` output"),
        "{}",
        out.stdout
    );
}

/// Creates the groups and writes the events (time in ms, message) through moto's own Python.
fn put_events(moto: &Dynamo, groups: &[(&str, Vec<(i64, String)>)]) {
    let spec: Vec<Value> = groups
        .iter()
        .map(|(name, events)| serde_json::json!({"name": name, "events": events}))
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_string(&spec).unwrap()).unwrap();
    let script = r#"
import sys, json, boto3
c = boto3.client('logs', endpoint_url=sys.argv[1], region_name='us-east-1',
    aws_access_key_id='test', aws_secret_access_key='test')
stream = '2026/12/05/[$LATEST]0'
for g in json.load(open(sys.argv[2])):
    c.create_log_group(logGroupName=g['name'])
    c.create_log_stream(logGroupName=g['name'], logStreamName=stream)
    ev = sorted(({'timestamp': t, 'message': m} for t, m in g['events']), key=lambda e: e['timestamp'])
    for i in range(0, len(ev), 5000):
        c.put_log_events(logGroupName=g['name'], logStreamName=stream, logEvents=ev[i:i+5000])
"#;
    let out = std::process::Command::new(root().join("infra/.venv/bin/python"))
        .args([
            "-c",
            script,
            &moto.endpoint(),
            &file.path().display().to_string(),
        ])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run moto's python");
    assert!(
        out.status.success(),
        "put_events: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn millis(line: &str) -> i64 {
    let v: Value = serde_json::from_str(line).unwrap();
    v["timestamp"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond()
}

#[tokio::test]
async fn calls_reads_the_functions_log_groups_on_moto() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lines) = serve_log(dir.path()).await;
    let moto = Dynamo::moto();
    let inbound_group = "/aws/lambda/byoc-router-InboundFunction";
    let outbound_group = "/aws/lambda/byoc-router-OutboundFunction";
    let at = millis(&lines[0]);
    let mut inbound: Vec<(i64, String)> = vec![
        (at - 1, "START RequestId: 1 Version: $LATEST".into()),
        // A line in the text format (a function logging as text): unreadable.
        (at - 1, "INFO call answered endpoint=inbound".into()),
    ];
    let mut outbound = Vec::new();
    for line in &lines {
        let event = (millis(line), line.clone());
        if line.contains("\"endpoint\":\"outbound\"") {
            outbound.push(event);
        } else {
            inbound.push(event);
        }
    }
    // Older traffic than one page holds (10,000 events): the reading follows the pages.
    let filler_at = at - 30 * 60 * 1000;
    for i in 0..10_050u32 {
        let line = serde_json::json!({
            "timestamp": jiff::Timestamp::from_millisecond(filler_at + i64::from(i)).unwrap().to_string(),
            "level": "INFO", "message": "call answered", "endpoint": "outbound",
            "call_sid": sid(100_000 + i), "did": "+13175550100", "action": "dial",
            "outcome": "dialed", "latency_us": 150,
        });
        outbound.push((filler_at + i64::from(i), line.to_string()));
    }
    put_events(
        &moto,
        &[(inbound_group, inbound), (outbound_group, outbound)],
    );
    moto.create_stack(
        "byoc-router",
        "us-east-1",
        &[
            ("InboundLogGroupName", inbound_group),
            ("OutboundLogGroupName", outbound_group),
        ],
    );
    moto.create_stack(
        "old-router",
        "us-east-1",
        &[("InboundWebhookUrl", "https://x/inbound")],
    );
    let env: Vec<(String, String)> = vec![
        ("AWS_ENDPOINT_URL".into(), moto.endpoint()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ];

    // Both groups, named; every page read.
    let out = byoc(
        &[
            "calls",
            "--log-group",
            inbound_group,
            "--log-group",
            outbound_group,
            "--format",
            "json",
            "--limit",
            "3",
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = json(&out.stdout);
    assert_eq!(doc["tally"]["matched"], 9 + 10_050, "{}", doc["tally"]);
    assert_eq!(
        doc["tally"]["unreadable"], 1,
        "the text line counted; START skipped"
    );
    let sids: Vec<&str> = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_sid"].as_str().unwrap())
        .collect();
    // The latest across both groups: the status callback of call 1, then the outbound calls.
    assert_eq!(sids, [sid(1), sid(7), sid(8)], "{}", out.stdout);

    // The stack names its groups; one call across them; a number.
    let out = byoc(
        &["calls", "--stack", "byoc-router", "--call", &sid(1)],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("2 line(s)") && out.stdout.contains("inbound_status"),
        "{}",
        out.stdout
    );
    let out = byoc(
        &[
            "calls",
            "--stack",
            "byoc-router",
            "--number",
            "+16505550000",
            "--format",
            "json",
        ],
        &env,
    );
    assert_eq!(json(&out.stdout)["tally"]["matched"], 2, "{}", out.stdout);
    let out = byoc(
        &[
            "calls",
            "--stack",
            "byoc-router",
            "--since",
            "10m",
            "--outcome",
            "refused",
            "--format",
            "json",
        ],
        &env,
    );
    assert_eq!(
        json(&out.stdout)["calls"][0]["call_sid"],
        sid(8),
        "{}",
        out.stdout
    );

    // A window with nothing in it.
    let out = byoc(
        &[
            "calls",
            "--stack",
            "byoc-router",
            "--since",
            "2d",
            "--until",
            "1d",
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("no calls between"), "{}", out.stdout);

    // A missing group names the command that shows a stack's groups; a stack of an older
    // template says what is missing; a missing stack says so.
    let out = byoc(&["calls", "--log-group", "/aws/lambda/nope"], &env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("log group `/aws/lambda/nope` does not exist")
            && out.stderr.contains("aws cloudformation describe-stacks"),
        "{}",
        out.stderr
    );
    let out = byoc(&["calls", "--stack", "old-router"], &env);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("has no output InboundLogGroupName"),
        "{}",
        out.stderr
    );
    let out = byoc(&["calls", "--stack", "gone"], &env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("stack `gone`"), "{}", out.stderr);

    // The console's Calls tab reads the same groups.
    let mut console_env = env.clone();
    console_env.push(("BYOC_ACTOR".into(), "calls-test".into()));
    let console = ConsoleProc::start(&["--stack", "byoc-router"], &console_env).await;
    let info = console.get("/api/info").await;
    assert!(
        info.json["calls"].as_str().unwrap().contains(inbound_group),
        "{}",
        info.text
    );
    let one = console.get(&format!("/api/calls?call={}", sid(1))).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(
        one.json["lines"].as_array().unwrap().len(),
        2,
        "{}",
        one.text
    );
}

#[tokio::test]
async fn the_console_api_serves_calls_from_a_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = serve_log(dir.path()).await;
    let log = log.display().to_string();
    let env = vec![("BYOC_ACTOR".to_string(), "calls-test".to_string())];
    let console = ConsoleProc::start(&["--calls", &log], &env).await;
    let all = console.get("/api/calls").await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.json["summary"]["inbound_calls"], 6, "{}", all.text);
    assert_eq!(all.json["calls"].as_array().unwrap().len(), 9);
    assert_eq!(all.json["tally"]["unreadable"], 2);
    let some = console
        .get("/api/calls?number=%2B16505550000&limit=1")
        .await;
    assert_eq!(
        some.json["calls"].as_array().unwrap().len(),
        1,
        "{}",
        some.text
    );
    assert_eq!(some.json["tally"]["matched"], 2);
    let one = console.get(&format!("/api/calls?call={}", sid(1))).await;
    assert_eq!(
        one.json["lines"].as_array().unwrap().len(),
        2,
        "{}",
        one.text
    );
    for bad in [
        "since=yesterday",
        "limit=0",
        "limit=abc",
        "call=CA1",
        "outcome=A%20B",
    ] {
        let answer = console.get(&format!("/api/calls?{bad}")).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text);
        assert!(answer.json["error"].is_string());
    }
    // The same rules as every API call: the token is needed.
    let anonymous = reqwest::get(format!("{}/api/calls", console.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // A console with no calls source says how to start one.
    let (_d, routes) = crate::console::example_file();
    let bare = ConsoleProc::start(&["--routes", &routes], &env).await;
    assert_eq!(bare.get("/api/info").await.json["calls"], Value::Null);
    let none = bare.get("/api/calls").await;
    assert_eq!(none.status, 404);
    assert!(
        none.json["error"]
            .as_str()
            .unwrap()
            .contains("--calls FILE"),
        "{}",
        none.text
    );
}

/// A UK home: the router logs the called number in E.164, and `--number` is read as an
/// operator there writes it (national form, spaces), from DEFAULT_COUNTRY_CODE or --country.
#[tokio::test]
async fn calls_reads_numbers_in_the_home_country() {
    let serve = Serve::start(&["--log-format", "json"], &[("DEFAULT_COUNTRY_CODE", "44")]).await;
    let answer = reqwest::Client::new()
        .post(serve.url("/inbound"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("CallSid", &sid(44)),
            ("To", "sip:02079460000@carrier.example"),
            ("From", "+447700900123"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    serve
        .stderr
        .wait_for("\"did\":\"+442079460000\"", Duration::from_secs(10))
        .await
        .expect("the call line, its number in E.164");
    let stderr = serve.stderr.clone();
    serve.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("uk.log");
    std::fs::write(&log, stderr.text() + "\n").unwrap();
    let log = log.display().to_string();
    let uk = [("DEFAULT_COUNTRY_CODE".to_string(), "44".to_string())];
    let matched = |args: &[&str], env: &[(String, String)]| {
        let mut all = vec!["calls", "--log", &log, "--format", "json"];
        all.extend_from_slice(args);
        let out = byoc(&all, env);
        assert_eq!(out.code, 0, "{}", out.stderr);
        json(&out.stdout)["tally"]["matched"].clone()
    };
    assert_eq!(matched(&["--number", "020 7946 0000"], &uk), 1);
    assert_eq!(matched(&["--number", "+44 (0)20 7946 0000"], &[]), 1);
    assert_eq!(
        matched(&["--number", "020 7946 0000", "--country", "GB"], &[]),
        1
    );
    // Read with a US home, the same digits are not that number.
    assert_eq!(matched(&["--number", "02079460000"], &[]), 0);
}
