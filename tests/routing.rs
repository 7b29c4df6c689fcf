//! Routing power, end to end: every destination through `byoc serve` and the real inbound Lambda,
//! from a route file and from DynamoDB (imported with the real CLI), with identical answers; and
//! import/export of the new fields round-tripping through JSON and CSV.

use byoc_core::import::{self, Format};
use byoc_core::NumberPlan;
use byoc_e2e::twiml::{find, parse, Element};
use byoc_e2e::{byoc, form, unique_table, Dynamo, Lambda, Serve};

/// One route per destination, each with the characters that need escaping.
const ROUTES: &str = r#"{"routes": [
  {"pattern": "+13175550001", "action": "client", "identity": "alice@example.com", "caller_id": "+13175551111", "timeout": 15},
  {"pattern": "+13175550002", "action": "application", "application": "AP0123456789abcdef0123456789abcdef", "parameters": {"team": "support & sales", "lang": "en"}},
  {"pattern": "+13175550003", "action": "enqueue", "workflow": "WW0123456789abcdef0123456789abcdef", "task_attributes": {"type": "support", "note": "<vip>"}},
  {"pattern": "+13175550004", "action": "play", "url": "https://x.example.com/hold.mp3?a=1&b=2"},
  {"pattern": "+13175550005", "action": "refer", "uri": "sip:desk@pbx.example.com;transport=tls"},
  {"pattern": "+13175550006", "action": "conference", "name": "Room <1> & \"2\""},
  {"pattern": "+13175550007", "action": "twiml", "twiml": "<Say voice=\"alice\">Hi &amp; bye</Say><Pause length=\"1\"/><Hangup/>"},
  SCHEDULED,
  CHAIN,
  {"pattern": "+13175550030", "url": "https://x.example.com/open",
   "callers": [{"from": "+1317", "action": "reject", "reason": "busy"}, {"from": "+131755501", "action": "say", "text": "Hello neighbour"}]},
  {"pattern": "+13175550031", "url": "https://x.example.com/open",
   "callers": [{"from": "+1317555", "url": "https://x.example.com/vip"}],
   "schedule": {"timezone": "UTC", "exceptions": [{"date": "2000-01-01", "hours": ["00:00-24:00"]}], "closed": {"action": "say", "text": "We are closed"}}},
  {"pattern": "+13175550032", "url": "https://x.example.com/open",
   "callers": [{"from": "+44", "action": "reject"}]},
  {"pattern": "+13175550040", "url": "https://x.example.com/global"},
  {"pattern": "+13175550040", "scope": "Tenant-A.sip.twilio.com", "url": "https://x.example.com/tenant-a"},
  {"pattern": "+13175550041", "scope": "other.sip.twilio.com", "url": "https://x.example.com/other"},
  {"pattern": "*", "action": "reject"}
]}"#;

/// Routes with schedules that hold whatever the time: always open, always closed, and a holiday
/// on every day of the year (today's exception wins, whatever today is).
fn scheduled_routes() -> String {
    let closed = r#""closed": {"action": "say", "text": "We are closed"}"#;
    let every_day: Vec<String> = (1..=12)
        .flat_map(|m| (1..=31).map(move |d| (m, d)))
        .filter(|(m, d)| jiff::civil::Date::new(2028, *m, *d).is_ok())
        .map(|(m, d)| format!(r#"{{"date": "{m:02}-{d:02}", "name": "Test day"}}"#))
        .collect();
    format!(
        r#"{{"pattern": "+13175550010", "url": "https://x.example.com/open", "schedule": {{"timezone": "America/Indiana/Indianapolis", "hours": ["daily 00:00-24:00"], {closed}}}}},
  {{"pattern": "+13175550011", "url": "https://x.example.com/open", "schedule": {{"timezone": "UTC", "exceptions": [{{"date": "2000-01-01", "hours": ["00:00-24:00"]}}], {closed}}}}},
  {{"pattern": "+13175550012", "url": "https://x.example.com/open", "schedule": {{"timezone": "Pacific/Kiritimati", "hours": ["daily 00:00-24:00"], "exceptions": [{}], {closed}, "holiday": {{"action": "play", "url": "https://x.example.com/holiday.mp3"}}}}}}"#,
        every_day.join(", ")
    )
}

/// A failover chain: a number over the trunk, a SIP desk, a client, then voicemail.
const CHAIN: &str = r#"{"pattern": "+13175550020", "action": "dial", "byoc": "BY0123456789abcdef0123456789abcdef",
    "timeout": 20, "caller_id": "+13175550000",
    "targets": [{"number": "+13175550001"}, {"sip": "sip:desk@pbx.example.com", "timeout": 10}, {"client": "alice"}],
    "final": {"action": "redirect", "url": "https://x.example.com/voicemail?a=1&b=2"}}"#;

fn routes_json() -> String {
    ROUTES
        .replace("SCHEDULED", &scheduled_routes())
        .replace("CHAIN", CHAIN)
}

const NUMBERS: [&str; 15] = [
    "+13175550001",
    "+13175550002",
    "+13175550003",
    "+13175550004",
    "+13175550005",
    "+13175550006",
    "+13175550007",
    "+13175550010",
    "+13175550011",
    "+13175550012",
    "+13175550030",
    "+13175550031",
    "+13175550032",
    "+13175550040",
    "+13175550041",
];

/// What each number's TwiML must contain.
fn check(number: &str, twiml: &[Element]) {
    let text = |path: &str| find(twiml, path).text.clone();
    match number {
        "+13175550001" => {
            assert_eq!(text("Response/Dial/Client"), "alice@example.com");
            let dial = find(twiml, "Response/Dial");
            assert_eq!(dial.attr("callerId"), Some("+13175551111"));
            assert_eq!(dial.attr("timeout"), Some("15"));
        }
        "+13175550002" => {
            assert_eq!(
                text("Response/Dial/Application/ApplicationSid"),
                "AP0123456789abcdef0123456789abcdef"
            );
            let params: Vec<(&str, &str)> = twiml
                .iter()
                .filter(|e| e.path == "Response/Dial/Application/Parameter")
                .map(|e| (e.attr("name").unwrap(), e.attr("value").unwrap()))
                .collect();
            assert_eq!(params, [("lang", "en"), ("team", "support & sales")]);
        }
        "+13175550003" => {
            let enqueue = find(twiml, "Response/Enqueue");
            assert_eq!(
                enqueue.attr("workflowSid"),
                Some("WW0123456789abcdef0123456789abcdef")
            );
            let task: serde_json::Value =
                serde_json::from_str(&text("Response/Enqueue/Task")).unwrap();
            assert_eq!(
                task,
                serde_json::json!({"type": "support", "note": "<vip>"})
            );
        }
        "+13175550004" => {
            assert_eq!(
                text("Response/Play"),
                "https://x.example.com/hold.mp3?a=1&b=2"
            );
            find(twiml, "Response/Hangup");
        }
        "+13175550005" => assert_eq!(
            text("Response/Refer/Sip"),
            "sip:desk@pbx.example.com;transport=tls"
        ),
        "+13175550006" => assert_eq!(text("Response/Dial/Conference"), "Room <1> & \"2\""),
        "+13175550007" => {
            assert_eq!(text("Response/Say"), "Hi & bye");
            assert_eq!(find(twiml, "Response/Say").attr("voice"), Some("alice"));
            assert_eq!(find(twiml, "Response/Pause").attr("length"), Some("1"));
            find(twiml, "Response/Hangup");
        }
        "+13175550010" => assert_eq!(text("Response/Redirect"), "https://x.example.com/open"),
        "+13175550011" => assert_eq!(text("Response/Say"), "We are closed"),
        "+13175550012" => assert_eq!(text("Response/Play"), "https://x.example.com/holiday.mp3"),
        // From +13175550123: the longest matching caller prefix wins ...
        "+13175550030" => assert_eq!(text("Response/Say"), "Hello neighbour"),
        // ... a caller condition wins over the schedule ...
        "+13175550031" => assert_eq!(text("Response/Redirect"), "https://x.example.com/vip"),
        // ... and a caller no condition matches gets the route's action.
        "+13175550032" => assert_eq!(text("Response/Redirect"), "https://x.example.com/open"),
        // Calls come in on tenant-a's SIP domain: its scoped route wins over the global one of
        // the same pattern, and a route scoped to another domain is not seen (the `*` answers).
        "+13175550040" => assert_eq!(text("Response/Redirect"), "https://x.example.com/tenant-a"),
        "+13175550041" => assert_eq!(
            find(twiml, "Response/Reject").attr("reason"),
            Some("rejected")
        ),
        other => panic!("no expectation for {other}"),
    }
}

/// The `X-Byoc-Schedule` header each number's answer carries.
fn schedule_branch(number: &str) -> Option<&'static str> {
    match number {
        "+13175550010" => Some("open"),
        "+13175550011" => Some("closed"),
        "+13175550012" => Some("holiday"),
        _ => None,
    }
}

/// The `X-Byoc-Caller-Rule` header each number's answer carries (the caller is +13175550123).
fn caller_rule(number: &str) -> Option<&'static str> {
    match number {
        "+13175550030" => Some("+131755501"),
        "+13175550031" => Some("+1317555"),
        _ => None,
    }
}

fn call(number: &str) -> String {
    form(&[
        ("CallSid", "CA1"),
        ("To", &format!("sip:{number}@tenant-a.sip.twilio.com")),
        ("From", "+13175550123"),
        ("SipDomain", "tenant-a.sip.twilio.com"),
    ])
}

async fn serve_answers(serve: &Serve) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for number in NUMBERS {
        let response = client
            .post(serve.url("/inbound"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(call(number))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-byoc-outcome"], "matched", "{number}");
        let branch = response
            .headers()
            .get("x-byoc-schedule")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(branch.as_deref(), schedule_branch(number), "{number}");
        let rule = response
            .headers()
            .get("x-byoc-caller-rule")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(rule.as_deref(), caller_rule(number), "{number}");
        out.push(response.text().await.unwrap());
    }
    out
}

async fn lambda_answers(lambda: &mut Lambda) -> Vec<String> {
    let mut out = Vec::new();
    for number in NUMBERS {
        let body = call(number);
        let event = byoc_e2e::http_api_event(
            "POST",
            "/inbound",
            "",
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
            &[],
        );
        let response = lambda.invoke(&event).await.proxy();
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.headers["x-byoc-outcome"], "matched", "{number}");
        assert_eq!(
            response.headers.get("x-byoc-schedule").map(String::as_str),
            schedule_branch(number),
            "{number}"
        );
        assert_eq!(
            response
                .headers
                .get("x-byoc-caller-rule")
                .map(String::as_str),
            caller_rule(number),
            "{number}"
        );
        out.push(response.body);
    }
    out
}

/// `byoc` with `args`, which must succeed; its standard output.
fn cli(args: &[&str], env: &[(String, String)]) -> String {
    let run = byoc(args, env);
    assert_eq!(run.code, 0, "byoc {args:?}: {}", run.stderr);
    run.stdout
}

#[tokio::test]
async fn every_destination_from_a_file_and_from_dynamodb_through_serve_and_lambda() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.json");
    let routes = routes_json();
    std::fs::write(&file, &routes).unwrap();
    let file = file.display().to_string();
    let unsigned = ("ALLOW_UNSIGNED", "true");

    // Route file.
    let serve = Serve::start(&["--routes", &file], &[unsigned]).await;
    let from_file = serve_answers(&serve).await;
    for (number, xml) in NUMBERS.iter().zip(&from_file) {
        check(number, &parse(xml));
    }
    let mut lambda = Lambda::start("inbound", &[unsigned, ("ROUTES_FILE", file.as_str())]).await;
    assert_eq!(lambda_answers(&mut lambda).await, from_file);

    // DynamoDB, imported with the CLI.
    let dynamo = Dynamo::shared();
    let table = unique_table("dest");
    let mut env = dynamo.env();
    env.push(("ROUTES_TABLE".into(), table.clone()));
    cli(&["table", "create"], &env);
    cli(&["routes", "import", &file], &env);
    let table_env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([unsigned])
        .collect();
    let serve = Serve::start(&[], &table_env).await;
    assert_eq!(serve_answers(&serve).await, from_file);
    let mut lambda = Lambda::start("inbound", &table_env).await;
    assert_eq!(lambda_answers(&mut lambda).await, from_file);

    // Export from the table as JSON and CSV: both read back as exactly the routes of the file.
    let plan = NumberPlan::default();
    let mut want = import::parse(&routes, Format::Json, &plan).unwrap();
    want.sort_by_key(|r| r.pattern.key());
    for (format, fmt) in [("json", Format::Json), ("csv", Format::Csv)] {
        let exported = cli(&["routes", "export", "--format", format], &env);
        let mut got = import::parse(&exported, fmt, &plan)
            .unwrap_or_else(|e| panic!("{format}: {e:?}\n{exported}"));
        got.sort_by_key(|r| r.pattern.key());
        assert_eq!(got, want, "{format}:\n{exported}");
        // Re-importing the export changes nothing (a dry run lists no `+` or `~` line).
        let path = dir.path().join(format!("export.{format}"));
        std::fs::write(&path, &exported).unwrap();
        let dry = cli(
            &["routes", "import", "--dry-run", &path.display().to_string()],
            &env,
        );
        assert!(dry.trim().is_empty(), "{format}: {dry}");
    }
}

/// `byoc routes resolve --at` names the branch of a scheduled route and why, at any instant.
#[test]
fn resolve_at_shows_the_schedule_branch() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.json");
    std::fs::write(
        &file,
        r#"{"routes": [{"pattern": "+13175551234", "url": "https://x.example.com/open",
          "schedule": {"timezone": "America/Indiana/Indianapolis",
            "hours": ["mon-fri 08:00-18:00", "fri 22:00-06:00"],
            "exceptions": [{"date": "12-25", "name": "Christmas"}],
            "closed": {"action": "redirect", "url": "https://x.example.com/voicemail"},
            "holiday": {"action": "say", "text": "Merry Christmas"}}}]}"#,
    )
    .unwrap();
    let file = file.display().to_string();
    let resolve = |at: &str| {
        let run = byoc(
            &[
                "routes",
                "resolve",
                "3175551234",
                "--routes",
                &file,
                "--at",
                at,
            ],
            &[],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    let out = resolve("2026-12-25T10:00:00Z");
    assert!(
        out.contains(
            "schedule: holiday: exception 12-25 (Christmas); local fri 2026-12-25 05:00 EST"
        ),
        "{out}"
    );
    assert!(out.contains("<Say>Merry Christmas</Say>"), "{out}");
    let out = resolve("2026-12-21T15:00:00Z");
    assert!(
        out.contains("schedule: open: mon-fri 08:00-18:00; local mon 2026-12-21 10:00 EST"),
        "{out}"
    );
    assert!(
        out.contains("<Redirect method=\"POST\">https://x.example.com/open</Redirect>"),
        "{out}"
    );
    // Summer time: 21:30Z on a Monday in July is 17:30 EDT, open; 22:30Z is 18:30, closed.
    assert!(resolve("2026-07-06T21:30:00Z").contains("schedule: open"));
    let out = resolve("2026-07-06T22:30:00Z");
    assert!(out.contains("schedule: closed: outside the hours"), "{out}");
    assert!(out.contains("https://x.example.com/voicemail"), "{out}");
    // Overnight: Saturday 03:00 local is still Friday's 22:00-06:00 ...
    let out = resolve("2026-12-19T08:00:00Z");
    assert!(out.contains("overnight from the day before"), "{out}");
    // ... except after a holiday Friday, which had no hours at all.
    let out = resolve("2026-12-26T08:00:00Z");
    assert!(out.contains("schedule: closed: outside the hours"), "{out}");
    // As the console takes it: a local time in a time zone, and `now`.
    let resolve_with = |extra: &[&str]| {
        let mut args = vec!["routes", "resolve", "3175551234", "--routes", &file];
        args.extend_from_slice(extra);
        byoc(&args, &[])
    };
    let run = resolve_with(&["--at", "2026-12-21T10:00", "--tz", "America/New_York"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("local mon 2026-12-21 10:00 EST"),
        "{}",
        run.stdout
    );
    assert_eq!(resolve_with(&["--at", "now"]).code, 0);
    let run = resolve_with(&["--at", "soon"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("not an RFC 3339 time"),
        "{}",
        run.stderr
    );

    // A caller condition, shown with --from.
    let dir2 = tempfile::tempdir().unwrap();
    let callers = dir2.path().join("callers.json");
    std::fs::write(
        &callers,
        r#"{"routes": [{"pattern": "+1317*", "url": "https://x.example.com/open",
            "callers": [{"from": "+1900", "action": "reject", "reason": "busy"}]}]}"#,
    )
    .unwrap();
    let callers = callers.display().to_string();
    let run = byoc(
        &[
            "routes",
            "resolve",
            "+13175550000",
            "--routes",
            &callers,
            "--from",
            "sip:+19005551234@carrier.example.com",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("caller:   +19005551234 matches the caller condition +1900"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(r#"<Reject reason="busy"/>"#),
        "{}",
        run.stdout
    );

    let run = byoc(
        &[
            "routes",
            "resolve",
            "3175551234",
            "--routes",
            &file,
            "--at",
            "tomorrow",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("not an RFC 3339 time"),
        "{}",
        run.stderr
    );
}

const TOKEN: &str = "chain-test-token";
const GATEWAY: &str = "https://abc123xyz0.execute-api.us-east-1.amazonaws.com";

/// The `<Dial action>` URL of an answer.
fn dial_action(xml: &str) -> String {
    find(&parse(xml), "Response/Dial")
        .attr("action")
        .expect("Dial action")
        .to_string()
}

/// What Twilio posts to a Dial action URL, and the signature it sends.
fn post_back(url: &str, status: &str) -> (String, String) {
    let pairs = [
        ("CallSid", "CA1"),
        ("DialCallStatus", status),
        ("To", "sip:+13175550020@example.sip.twilio.com"),
    ];
    (form(&pairs), byoc_e2e::sign(TOKEN, url, &pairs))
}

async fn serve_post(url: &str, body: String, signature: &str) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let outcome = response
        .headers()
        .get("x-byoc-outcome")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, outcome, response.text().await.unwrap())
}

#[tokio::test]
async fn a_failover_chain_walks_its_targets_through_serve() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.json");
    std::fs::write(&file, format!(r#"{{"routes": [{CHAIN}]}}"#)).unwrap();
    let file = file.display().to_string();
    let serve = Serve::start(&["--routes", &file], &[("TWILIO_AUTH_TOKEN", TOKEN)]).await;

    let inbound = serve.url("/inbound");
    let (body, sig) = post_back(&inbound, "ringing");
    let (status, outcome, xml) = serve_post(&inbound, body, &sig).await;
    assert_eq!((status, outcome.as_str()), (200, "matched"), "{xml}");
    assert_eq!(
        find(&parse(&xml), "Response/Dial/Number").text,
        "+13175550001"
    );
    let a1 = dial_action(&xml);
    assert!(
        a1.starts_with(&serve.url("/inbound/next?c=")) && a1.ends_with("&i=1"),
        "{a1}"
    );

    // Busy: the SIP desk, with its own timeout; no answer: the client; busy again: voicemail.
    let (body, sig) = post_back(&a1, "busy");
    let (status, outcome, xml) = serve_post(&a1, body, &sig).await;
    assert_eq!((status, outcome.as_str()), (200, "chain_next"), "{xml}");
    assert_eq!(
        find(&parse(&xml), "Response/Dial/Sip").text,
        "sip:desk@pbx.example.com"
    );
    assert_eq!(
        find(&parse(&xml), "Response/Dial").attr("timeout"),
        Some("10")
    );
    let a2 = dial_action(&xml);
    let (body, sig) = post_back(&a2, "no-answer");
    let (_, _, xml) = serve_post(&a2, body, &sig).await;
    assert_eq!(find(&parse(&xml), "Response/Dial/Client").text, "alice");
    let a3 = dial_action(&xml);
    let (body, sig) = post_back(&a3, "busy");
    let (status, outcome, xml) = serve_post(&a3, body, &sig).await;
    assert_eq!((status, outcome.as_str()), (200, "chain_final"), "{xml}");
    assert_eq!(
        find(&parse(&xml), "Response/Redirect").text,
        "https://x.example.com/voicemail?a=1&b=2"
    );
    // An answered call ends the chain.
    let (body, sig) = post_back(&a2, "completed");
    let (_, outcome, xml) = serve_post(&a2, body, &sig).await;
    assert_eq!(outcome, "chain_completed");
    find(&parse(&xml), "Response/Hangup");

    // Tampering: a changed step or state no longer matches Twilio's signature.
    let (body, sig) = post_back(&a1, "busy");
    for forged in [a1.replace("&i=1", "&i=2"), a1.replacen("c=", "c=e", 1)] {
        let (status, _, text) = serve_post(&forged, body.clone(), &sig).await;
        assert_eq!(status, 403, "{forged}: {text}");
    }
    // A signed request with an unreadable state is still answered (the default), with a reason.
    let garbage = serve.url("/inbound/next?c=bm90LWpzb24&i=1");
    let (body, sig) = post_back(&garbage, "busy");
    let (status, outcome, xml) = serve_post(&garbage, body, &sig).await;
    assert_eq!((status, outcome.as_str()), (200, "bad_input"), "{xml}");
    find(&parse(&xml), "Response/Reject");
}

/// The next-step request as an API Gateway event, signed as Twilio signs it.
fn next_event(action: &str, status: &str) -> serde_json::Value {
    let (body, sig) = post_back(action, status);
    let rest = action.strip_prefix(GATEWAY).expect("gateway URL");
    let (path, query) = rest.split_once('?').unwrap();
    byoc_e2e::http_api_event(
        "POST",
        path,
        query,
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
        &[("x-twilio-signature", &sig)],
    )
}

#[tokio::test]
async fn a_failover_chain_survives_its_route_being_deleted_mid_call_in_lambda() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.json");
    std::fs::write(&file, format!(r#"{{"routes": [{CHAIN}]}}"#)).unwrap();
    let dynamo = Dynamo::shared();
    let table = unique_table("chain");
    let mut env = dynamo.env();
    env.push(("ROUTES_TABLE".into(), table));
    cli(&["table", "create"], &env);
    cli(&["routes", "import", &file.display().to_string()], &env);
    let lambda_env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("ROUTE_CACHE_TTL_SECONDS", "0"),
        ])
        .collect();
    let mut lambda = Lambda::start("inbound", &lambda_env).await;

    let url = format!("{GATEWAY}/inbound");
    let (body, sig) = post_back(&url, "ringing");
    let event = byoc_e2e::http_api_event(
        "POST",
        "/inbound",
        "",
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
        &[("x-twilio-signature", &sig)],
    );
    let response = lambda.invoke(&event).await.proxy();
    assert_eq!(response.status, 200, "{}", response.body);
    let a1 = dial_action(&response.body);
    assert!(
        a1.starts_with(&format!("{GATEWAY}/inbound/next?c=")),
        "{a1}"
    );

    // The route is deleted mid-call; the call goes on with the chain it started with.
    cli(&["routes", "delete", "+13175550020"], &env);
    let response = lambda.invoke(&next_event(&a1, "busy")).await.proxy();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.headers["x-byoc-outcome"], "chain_next");
    assert_eq!(
        find(&parse(&response.body), "Response/Dial/Sip").text,
        "sip:desk@pbx.example.com"
    );
    let a2 = dial_action(&response.body);
    let response = lambda.invoke(&next_event(&a2, "failed")).await.proxy();
    let a3 = dial_action(&response.body);
    let response = lambda.invoke(&next_event(&a3, "no-answer")).await.proxy();
    assert_eq!(response.headers["x-byoc-outcome"], "chain_final");
    assert_eq!(
        find(&parse(&response.body), "Response/Redirect").text,
        "https://x.example.com/voicemail?a=1&b=2"
    );
    // New calls to the number no longer find the route.
    let response = lambda.invoke(&event).await.proxy();
    assert_eq!(response.headers["x-byoc-outcome"], "rejected");
}

/// A UK deployment's inbound calls through `byoc serve`: national forms, the country code
/// without `+`, `(0)` and an RFC 3966 local number reach their exact routes, not a prefix or
/// `*`; a display name does not let a `+1900` caller past its block; Twilio's anonymous
/// placeholder is not a Lesotho caller.
#[tokio::test]
async fn a_uk_home_reads_every_form_of_its_numbers() {
    const UK_ROUTES: &str = r#"{"routes": [
  {"pattern": "+447700900123", "url": "https://example.com/exact"},
  {"pattern": "+13175551234", "url": "https://example.com/us-exact",
   "callers": [{"from": "+1900", "action": "reject", "reason": "busy"},
               {"from": "+266", "url": "https://example.com/lesotho"}]},
  {"pattern": "+44*", "url": "https://example.com/uk-prefix"},
  {"pattern": "*", "url": "https://example.com/catch-all"}
]}"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.json");
    std::fs::write(&file, UK_ROUTES).unwrap();
    let file = file.display().to_string();
    let serve = Serve::start(
        &["--routes", &file],
        &[("ALLOW_UNSIGNED", "true"), ("DEFAULT_COUNTRY_CODE", "44")],
    )
    .await;
    let client = reqwest::Client::new();
    let answer = |to: &'static str, from: &'static str| {
        let client = client.clone();
        let url = serve.url("/inbound");
        async move {
            let response = client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[("CallSid", "CA1"), ("To", to), ("From", from)]))
                .send()
                .await
                .unwrap();
            let outcome = response.headers()["x-byoc-outcome"]
                .to_str()
                .unwrap()
                .to_string();
            let body = response.text().await.unwrap();
            (outcome, body)
        }
    };
    for to in [
        "sip:447700900123@example.sip.twilio.com",
        "sip:07700900123@example.sip.twilio.com",
        "+44 (0)7700 900123",
        "tel:7700900123;phone-context=+44",
    ] {
        let (_, body) = answer(to, "+442071230000").await;
        assert!(body.contains("https://example.com/exact"), "{to}: {body}");
    }
    let (_, body) = answer("tel:5551234;phone-context=+1317", "+442071230000").await;
    assert!(body.contains("https://example.com/us-exact"), "{body}");
    // The caller rules read the number behind a display name, and know anonymity.
    let (_, body) = answer("+13175551234", r#""Bob" <sip:+19005551234@carrier>"#).await;
    assert!(body.contains(r#"<Reject reason="busy"/>"#), "{body}");
    let (_, body) = answer("+13175551234", "+266696687").await;
    assert!(body.contains("https://example.com/us-exact"), "{body}");
    let (_, body) = answer("+13175551234", "+26622123456").await;
    assert!(body.contains("https://example.com/lesotho"), "{body}");
}

/// Screening: an anonymous caller and a caller ID that failed STIR/SHAKEN verification get their
/// own actions, a rule under `observe` only says what it would have done, and Twilio's signature
/// holds over a call that carries `StirVerstat`; `resolve` and CSV carry the same conditions.
#[tokio::test]
async fn anonymous_and_unverified_callers_are_screened_with_signatures_intact() {
    const TOKEN: &str = "screening-test-token";
    let routes = r#"{"routes": [
      {"pattern": "+13175550050", "url": "https://x.example.com/main",
       "callers": [{"from": "anonymous", "action": "reject", "reason": "rejected"},
                   {"from": "+266", "action": "say", "text": "Lesotho"},
                   {"verstat": "failed", "url": "https://x.example.com/captcha"},
                   {"verstat": "no-validation", "url": "https://x.example.com/captcha", "observe": true}]}
    ]}"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.json");
    std::fs::write(&file, routes).unwrap();
    let file = file.display().to_string();
    let serve = Serve::start(
        &["--routes", &file, "--log-format", "json"],
        &[("TWILIO_AUTH_TOKEN", TOKEN)],
    )
    .await;
    let client = reqwest::Client::new();
    let url = serve.url("/inbound");
    let ask = |from: &'static str, verstat: Option<&'static str>| {
        let mut params = vec![
            ("To", "sip:+13175550050@example.sip.twilio.com"),
            ("From", from),
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ];
        if let Some(v) = verstat {
            params.push(("StirVerstat", v));
        }
        let request = byoc_e2e::signed_post(&client, TOKEN, &url, &params);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{from} {verstat:?}");
            let rule = response
                .headers()
                .get("x-byoc-caller-rule")
                .map(|v| v.to_str().unwrap().to_string());
            let twiml = parse(&response.text().await.unwrap());
            let what = if let Some(r) = twiml.iter().find(|e| e.path == "Response/Redirect") {
                r.text.clone()
            } else {
                twiml[1].path.clone()
            };
            (what, rule)
        }
    };
    for from in [
        "+266696687",
        "anonymous",
        "sip:anonymous@anonymous.invalid",
        "Restricted",
        "",
    ] {
        assert_eq!(
            ask(from, None).await,
            ("Response/Reject".into(), Some("anonymous".into())),
            "{from}"
        );
    }
    assert_eq!(
        ask("+26622123456", None).await,
        ("Response/Say".into(), Some("+266".into()))
    );
    assert_eq!(
        ask("+13175551234", Some("TN-Validation-Failed-A")).await,
        (
            "https://x.example.com/captcha".into(),
            Some("verstat=failed".into())
        )
    );
    // Observed: the main route answers; the header and the line say what would have.
    assert_eq!(
        ask("+13175551234", Some("No-TN-Validation")).await,
        (
            "https://x.example.com/main".into(),
            Some("observed: verstat=no-validation".into())
        )
    );
    assert_eq!(
        ask("+13175551234", Some("TN-Validation-Passed-A")).await,
        ("https://x.example.com/main".into(), None)
    );
    // A StirVerstat added after signing is a forgery.
    let params = [
        ("To", "+13175550050"),
        ("From", "+13175551234"),
        ("StirVerstat", "TN-Validation-Passed-A"),
    ];
    let signed_without: Vec<(&str, &str)> = params[..2].to_vec();
    let response = client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            byoc_e2e::sign(TOKEN, &url, &signed_without),
        )
        .body(form(&params))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let line = serve
        .stderr
        .wait_for(
            "observed: verstat=no-validation",
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("the observed rule in the call line");
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["caller_rule"], "observed: verstat=no-validation");
    serve.stop().await;

    // resolve says the same, and the conditions survive CSV both ways.
    let env: Vec<(String, String)> = Vec::new();
    let out = cli(
        &[
            "routes",
            "resolve",
            "+13175550050",
            "--from",
            "anonymous",
            "--routes",
            &file,
        ],
        &env,
    );
    assert!(
        out.contains("an anonymous caller matches the caller condition anonymous"),
        "{out}"
    );
    let out = cli(
        &[
            "routes",
            "resolve",
            "+13175550050",
            "--from",
            "+13175551234",
            "--verstat",
            "TN-Validation-Failed",
            "--routes",
            &file,
        ],
        &env,
    );
    assert!(
        out.contains(
            "+13175551234 (TN-Validation-Failed) matches the caller condition verstat=failed"
        ),
        "{out}"
    );
    let csv = dir.path().join("routes.csv").display().to_string();
    cli(
        &[
            "routes", "export", "--format", "csv", "-o", &csv, "--routes", &file,
        ],
        &env,
    );
    let back = dir.path().join("back.json").display().to_string();
    cli(&["routes", "import", &csv, "--routes", &back], &env);
    let text: String = std::fs::read_to_string(&back)
        .unwrap()
        .split_whitespace()
        .collect();
    assert!(
        text.contains(r#""observe":true"#)
            && text.contains(r#""verstat":"no-validation""#)
            && text.contains(r#""from":"anonymous""#),
        "{text}"
    );
}

/// A split through `byoc serve`: each caller always reaches the same share (header and call
/// line say which), the shares follow their weights, an anonymous caller is placed by CallSid;
/// `resolve` shows the share, and the split survives CSV both ways.
#[tokio::test]
async fn a_split_shares_calls_by_weight_and_keeps_each_caller_on_one_share() {
    let routes = r#"{"routes": [
      {"pattern": "+13175550060", "action": "split",
       "shares": [{"weight": 70, "url": "https://x.example.com/flow-a"},
                  {"weight": 30, "url": "https://x.example.com/flow-b"}]}
    ]}"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.json");
    std::fs::write(&file, routes).unwrap();
    let file = file.display().to_string();
    let serve = Serve::start(&["--routes", &file, "--log-format", "json"], &[]).await;
    let client = reqwest::Client::new();
    let ask = |from: String, sid: String| {
        let request = client
            .post(serve.url("/inbound"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("To", "+13175550060"),
                ("From", &from),
                ("CallSid", &sid),
            ]));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let share = response.headers()["x-byoc-share"]
                .to_str()
                .unwrap()
                .to_string();
            let twiml = parse(&response.text().await.unwrap());
            (share, find(&twiml, "Response/Redirect").text.clone())
        }
    };
    let mut counts = [0usize; 2];
    for n in 0..200 {
        let from = format!("+1212555{n:04}");
        let first = ask(from.clone(), format!("CA{n}a")).await;
        // The same caller, another call: the same share.
        assert_eq!(ask(from, format!("CA{n}b")).await, first);
        let i: usize = first.0.parse().unwrap();
        let url = if i == 1 {
            "https://x.example.com/flow-a"
        } else {
            "https://x.example.com/flow-b"
        };
        assert_eq!(first.1, url);
        counts[i - 1] += 1;
    }
    // 70/30 of 200 callers, within what chance allows (chi-square, p = 0.001).
    let stat =
        (counts[0] as f64 - 140.0).powi(2) / 140.0 + (counts[1] as f64 - 60.0).powi(2) / 60.0;
    assert!(stat < 10.83, "{counts:?}");
    // Anonymous callers: each call on its own, by CallSid.
    let mut anonymous = std::collections::BTreeSet::new();
    for n in 0..40 {
        anonymous.insert(ask("anonymous".into(), format!("CA{n:032}")).await.0);
    }
    assert_eq!(anonymous.len(), 2, "{anonymous:?}");
    let line = serve
        .stderr
        .wait_for("\"share\":", std::time::Duration::from_secs(5))
        .await
        .expect("a call line with its share");
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(matches!(line["share"].as_i64(), Some(1 | 2)), "{line}");
    assert_eq!(line["action"], "redirect");
    serve.stop().await;

    let env: Vec<(String, String)> = Vec::new();
    let out = cli(
        &[
            "routes",
            "resolve",
            "+13175550060",
            "--from",
            "+12125550007",
            "--routes",
            &file,
        ],
        &env,
    );
    assert!(
        out.contains("+12125550007 always gets this share while the weights hold; shares 1 70% redirect, 2 30% redirect"),
        "{out}"
    );
    let csv = dir.path().join("routes.csv").display().to_string();
    cli(
        &[
            "routes", "export", "--format", "csv", "-o", &csv, "--routes", &file,
        ],
        &env,
    );
    assert!(std::fs::read_to_string(&csv)
        .unwrap()
        .starts_with("pattern,action,"));
    let back = dir.path().join("back.json").display().to_string();
    cli(&["routes", "import", &csv, "--routes", &back], &env);
    let out = cli(
        &[
            "routes",
            "resolve",
            "+13175550060",
            "--from",
            "+12125550007",
            "--routes",
            &back,
        ],
        &env,
    );
    assert!(
        out.contains("shares 1 70% redirect, 2 30% redirect"),
        "{out}"
    );
}

/// `byoc routes lint`: clean routes exit 0; findings name the route and exit 1, in text and
/// JSON; an import says the same findings as warnings and still writes.
#[test]
fn lint_reports_what_will_not_work_and_import_warns_without_refusing() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.json");
    std::fs::write(
        &clean,
        r#"{"routes": [{"pattern": "+13175551234", "url": "https://x.example.com/a"}, {"pattern": "*", "action": "reject"}]}"#,
    )
    .unwrap();
    let clean = clean.display().to_string();
    let env: Vec<(String, String)> = vec![
        (
            "PUBLIC_BASE_URL".into(),
            "https://abc.execute-api.us-east-1.amazonaws.com".into(),
        ),
        (
            "TWILIO_ACCOUNT_SID".into(),
            "AC00000000000000000000000000000000".into(),
        ),
    ];
    let run = byoc(&["routes", "lint", "--routes", &clean], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("0 finding(s)"), "{}", run.stderr);

    let messy = dir.path().join("messy.json");
    std::fs::write(
        &messy,
        r#"{"routes": [
          {"pattern": "+13175550001", "url": "https://abc.execute-api.us-east-1.amazonaws.com/inbound"},
          {"pattern": "+13175550002", "url": "http://x.example.com/a"},
          {"pattern": "+13175550003", "url": "https://webhooks.twilio.com/v1/Accounts/AC11111111111111111111111111111111/Flows/FW00000000000000000000000000000000"},
          {"pattern": "+13175550004", "action": "split", "shares": [{"weight": 1, "url": "https://x.example.com/a"}, {"weight": 1, "url": "https://x.example.com/a"}]},
          {"pattern": "+13175550005", "action": "reject"},
          {"pattern": "*", "action": "reject"}
        ]}"#,
    )
    .unwrap();
    let messy = messy.display().to_string();
    let run = byoc(&["routes", "lint", "--routes", &messy], &env);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for line in [
        "+13175550001  loop: action: https://abc.execute-api.us-east-1.amazonaws.com/inbound is this router's own webhook",
        "+13175550002  plain_http:",
        "+13175550003  other_account:",
        "+13175550004  same_share:",
        "+13175550005  repeats_catch_all:",
    ] {
        assert!(run.stdout.contains(line), "{line}:\n{}", run.stdout);
    }
    let run = byoc(
        &["routes", "lint", "--routes", &messy, "--format", "json"],
        &env,
    );
    assert_eq!(run.code, 1);
    let findings: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(findings.as_array().unwrap().len(), 5, "{findings}");
    assert_eq!(findings[0]["route"], "+13175550001");
    assert_eq!(findings[0]["kind"], "loop");
    // Without PUBLIC_BASE_URL / --base-url the loop is not judged.
    let run = byoc(&["routes", "lint", "--routes", &messy], &[]);
    assert!(!run.stdout.contains("loop"), "{}", run.stdout);
    let run = byoc(
        &[
            "routes",
            "lint",
            "--routes",
            &messy,
            "--base-url",
            "https://abc.execute-api.us-east-1.amazonaws.com",
        ],
        &[],
    );
    assert!(run.stdout.contains("loop"), "{}", run.stdout);

    // A lint needs named routes, and a base URL or account it can use.
    let run = byoc(&["routes", "lint"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("name the routes to lint"),
        "{}",
        run.stderr
    );
    let run = byoc(
        &[
            "routes",
            "lint",
            "--routes",
            &messy,
            "--base-url",
            "calls.example.com",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not an http(s) URL"),
        "{}",
        run.stderr
    );
    let run = byoc(
        &["routes", "lint", "--routes", &messy],
        &[("TWILIO_ACCOUNT_SID".into(), "garbage".into())],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("TWILIO_ACCOUNT_SID"), "{}", run.stderr);

    // The import warns with the same findings and writes all the same.
    let target = dir.path().join("target.json").display().to_string();
    let run = byoc(&["routes", "import", &messy, "--routes", &target], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: +13175550002 plain_http:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("6 added"), "{}", run.stderr);
}

/// The call line carries no caller number unless LOG_CALLER says so: masked hides the last
/// four digits; an anonymous caller is `anonymous` either way.
#[tokio::test]
async fn the_caller_reaches_the_log_only_as_log_caller_allows() {
    for (mode, want) in [
        (None, None),
        (Some("masked"), Some("+1317555****")),
        (Some("full"), Some("+13175559876")),
    ] {
        let mut env = vec![];
        if let Some(m) = mode {
            env.push(("LOG_CALLER", m));
        }
        let serve = Serve::start(&["--log-format", "json"], &env).await;
        let response = reqwest::Client::new()
            .post(serve.url("/inbound"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("To", "+13175551234"),
                ("From", "sip:+13175559876@carrier.example"),
                ("CallSid", "CA1"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let line = serve
            .stderr
            .wait_for(
                "\"endpoint\":\"inbound\"",
                std::time::Duration::from_secs(5),
            )
            .await
            .expect("a call line");
        let line: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(line["caller"].as_str(), want, "{mode:?}: {line}");
        assert!(
            !line.to_string().contains("9876") || mode == Some("full"),
            "{line}"
        );
        serve.stop().await;
    }
}
