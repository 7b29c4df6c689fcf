//! DynamoDB end to end: the real `byoc` CLI and the real inbound Lambda binary against a local
//! DynamoDB-API server, including the server dying mid-run.

use std::time::{Duration, Instant};

use byoc_e2e::twiml::{find, parse};
use byoc_e2e::{byoc, event, root, unique_table, Dynamo, Lambda, Serve, EVENTS_TOKEN};

const FLOW_URL: &str = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";
const BIN_URL: &str = "https://handler.twilio.com/twiml/EH00000000000000000000000000000000";

fn table_env(dynamo: &Dynamo, table: &str) -> Vec<(String, String)> {
    let mut env = dynamo.env();
    env.push(("ROUTES_TABLE".into(), table.into()));
    env.push(("BYOC_ACTOR".into(), "test".into()));
    env
}

fn setup_table(dynamo: &Dynamo, table: &str) {
    let env = table_env(dynamo, table);
    let run = byoc(&["table", "create"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let example = root()
        .join("infra/routes.example.json")
        .display()
        .to_string();
    let run = byoc(&["routes", "import", &example], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// The last "call answered" log line of a Lambda, parsed.
async fn last_call(lambda: &Lambda, count: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<String> = lambda
            .stderr
            .lines()
            .into_iter()
            .filter(|l| l.contains("\"call answered\""))
            .collect();
        if lines.len() >= count {
            return serde_json::from_str(&lines[count - 1]).expect("JSON log line");
        }
        assert!(
            Instant::now() < deadline,
            "no log line {count}:\n{}",
            lambda.stderr.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// DynamoDB Local with the example routes in a fresh table, and the inbound Lambda on it (signed events,
/// a 300 ms store budget, plus `extra`), started and past its `inbound ready` line.
async fn inbound_on_table(name: &str, extra: &[(&str, &str)]) -> (Dynamo, String, Lambda, String) {
    let dynamo = Dynamo::start();
    let table = unique_table(name);
    setup_table(&dynamo, &table);
    let env = table_env(&dynamo, &table);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend([
        ("TWILIO_AUTH_TOKEN", EVENTS_TOKEN),
        ("STORE_TIMEOUT_MS", "300"),
    ]);
    env.extend_from_slice(extra);
    let lambda = Lambda::start("inbound", &env).await;
    let ready = lambda
        .stderr
        .wait_for("inbound ready", Duration::from_secs(20))
        .await
        .expect("ready line");
    (dynamo, table, lambda, ready)
}

#[tokio::test]
async fn the_inbound_lambda_answers_from_dynamodb_and_survives_the_server_dying() {
    let (mut dynamo, table, mut lambda, ready) =
        inbound_on_table("fault", &[("ROUTE_CACHE_TTL_SECONDS", "1")]).await;
    assert!(ready.contains("\"warmup\":\"ok\""), "{ready}");
    // No certificate location in the environment: the system CA bundle file alone.
    let ready_json: serde_json::Value = serde_json::from_str(&ready).expect("JSON ready line");
    let trust = ready_json["ca_certificates"]
        .as_str()
        .expect("ca_certificates");
    assert!(
        trust == "probe" || std::path::Path::new(trust).is_file(),
        "{ready}"
    );

    // Cold: one store round trip; warm: the cache.
    let r = lambda.invoke(&event("inbound.json")).await.proxy();
    assert_eq!(r.status, 200);
    assert_eq!(find(&parse(&r.body), "Response/Redirect").text, FLOW_URL);
    assert_eq!(last_call(&lambda, 1).await["source"], "store");
    lambda.invoke(&event("inbound.json")).await.proxy();
    assert_eq!(last_call(&lambda, 2).await["source"], "cache");

    // The server dies. Once the entry expires, the stale cached route answers.
    dynamo.stop();
    let (r, calls) = invoke_until(&mut lambda, &event("inbound.json"), 2, |r| {
        r.headers["x-byoc-outcome"] == "degraded"
    })
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        find(&parse(&r.body), "Response/Redirect").text,
        FLOW_URL,
        "the stale cached route"
    );
    let log = last_call(&lambda, calls).await;
    assert_eq!(log["source"], "stale");
    assert!(
        log["reason"].as_str().unwrap().contains("cached entry"),
        "{log}"
    );

    // A number never looked up: the `*` route learned by the first call's lookup answers.
    let r = lambda.invoke(&event("inbound-prefix.json")).await.proxy();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-byoc-outcome"], "degraded");
    assert_eq!(find(&parse(&r.body), "Response/Redirect").text, BIN_URL);
    let log = last_call(&lambda, calls + 1).await;
    assert_eq!(log["source"], "last_catch_all");
    eprintln!(
        "store down: catch-all answer in {} µs (budget 300 ms)",
        log["latency_us"]
    );

    // The server comes back empty (in memory, like every local engine): still answered, degraded.
    dynamo.restart();
    let r = lambda.invoke(&event("inbound-prefix.json")).await.proxy();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-byoc-outcome"], "degraded");
    // Routes restored: normal answers again once the cache entry expires.
    setup_table(&dynamo, &table);
    let (r, _) = invoke_until(&mut lambda, &event("inbound-prefix.json"), calls + 2, |r| {
        r.headers["x-byoc-outcome"] == "matched"
    })
    .await;
    assert!(find(&parse(&r.body), "Response/Redirect")
        .text
        .contains("indianapolis"));
}

/// Invokes `event` until its answer meets `done` (a cache entry expiring, a store coming back),
/// for at most 20 s; the answer, and the number of calls the Lambda has answered in all, given
/// `before` answered earlier.
async fn invoke_until(
    lambda: &mut Lambda,
    event: &serde_json::Value,
    before: usize,
    done: impl Fn(&byoc_e2e::emulator::ProxyResponse) -> bool,
) -> (byoc_e2e::emulator::ProxyResponse, usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut calls = before;
    loop {
        let r = lambda.invoke(event).await.proxy();
        calls += 1;
        if done(&r) {
            return (r, calls);
        }
        assert!(
            Instant::now() < deadline,
            "no such answer after {} calls: {} {:?}",
            calls - before,
            r.status,
            r.headers
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_warm_up_at_init_learns_the_catch_all_before_any_call() {
    let bundle = openssl_probe::probe()
        .cert_file
        .expect("a system CA bundle on this machine");
    let (mut dynamo, _table, mut lambda, ready) = inbound_on_table(
        "warm",
        &[
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency"),
            ("SSL_CERT_FILE", bundle.to_str().expect("UTF-8 path")),
        ],
    )
    .await;
    assert!(ready.contains("\"warmup\":\"ok\""), "{ready}");
    // A location given by the environment is left alone.
    assert!(
        ready.contains("\"ca_certificates\":\"environment\""),
        "{ready}"
    );
    assert!(
        ready.contains("\"init_type\":\"provisioned-concurrency\""),
        "{ready}"
    );
    // The store dies before the first call: the `*` route learned at init answers it.
    dynamo.stop();
    let r = lambda.invoke(&event("inbound-prefix.json")).await.proxy();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-byoc-outcome"], "degraded");
    assert_eq!(find(&parse(&r.body), "Response/Redirect").text, BIN_URL);
    assert_eq!(last_call(&lambda, 1).await["source"], "last_catch_all");
}

#[tokio::test]
async fn with_the_store_down_from_the_start_calls_get_the_default_or_a_rejection() {
    let mut dynamo = Dynamo::start();
    let table = unique_table("down");
    let env_owned = table_env(&dynamo, &table);
    dynamo.stop();
    let mut env: Vec<(&str, &str)> = env_owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.extend([("ALLOW_UNSIGNED", "true"), ("STORE_TIMEOUT_MS", "200")]);

    let mut with_default = env.clone();
    with_default.push(("DEFAULT_ROUTE_URL", "https://example.com/default"));
    let mut lambda = Lambda::start("inbound", &with_default).await;
    let r = lambda.invoke(&event("inbound.json")).await.proxy();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-byoc-outcome"], "degraded");
    assert_eq!(
        find(&parse(&r.body), "Response/Redirect").text,
        "https://example.com/default"
    );
    let log = last_call(&lambda, 1).await;
    assert_eq!(log["source"], "nothing");
    assert!(!log["reason"].as_str().unwrap().is_empty());
    // The reason Twilio sees is a short kind, never the SDK's text or the
    // endpoint.
    let reason = &r.headers["x-byoc-reason"];
    assert!(reason.starts_with("store_"), "{reason}");
    assert!(
        !reason.contains("127.0.0.1") && !reason.contains("http"),
        "{reason}"
    );

    let mut lambda = Lambda::start("inbound", &env).await;
    let r = lambda.invoke(&event("inbound.json")).await.proxy();
    assert_eq!(r.status, 200);
    assert_eq!(
        find(&parse(&r.body), "Response/Reject").attr("reason"),
        Some("rejected")
    );
}

#[tokio::test]
async fn import_export_round_trip_and_ten_thousand_routes() {
    let dynamo = Dynamo::shared();
    let table = unique_table("import");
    let env = table_env(&dynamo, &table);
    assert_eq!(byoc(&["table", "create"], &env).code, 0);
    let dir = tempfile::tempdir().unwrap();

    // 10,000 routes as CSV.
    let mut csv = String::from("pattern,action,url,number,description\n");
    for i in 0..10_000 {
        if i % 2 == 0 {
            csv.push_str(&format!(
                "+1317{i:07},redirect,https://example.com/r?n={i}&x=1,,route {i}\n"
            ));
        } else {
            csv.push_str(&format!(
                "+1212{i:07},dial,,+1317555{:04},\"dial, {i}\"\n",
                i % 10_000
            ));
        }
    }
    csv.push_str("*,redirect,https://example.com/default,,\n");
    let csv_path = dir.path().join("routes.csv");
    std::fs::write(&csv_path, &csv).unwrap();
    let csv_arg = csv_path.display().to_string();

    let run = byoc(&["routes", "import", &csv_arg, "--dry-run"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("10001 added, 0 changed"),
        "{}",
        run.stderr
    );
    assert_eq!(
        byoc(&["routes", "list"], &env).stdout.lines().count(),
        0,
        "dry run wrote nothing"
    );

    let started = Instant::now();
    let run = byoc(&["routes", "import", &csv_arg], &env);
    let elapsed = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("imported: 10001 of 10001"),
        "{}",
        run.stderr
    );
    eprintln!("import of 10,001 routes (plus history) into the local server: {elapsed:?}");

    let run = byoc(&["routes", "resolve", "sip:+13170000042@h"], &env);
    assert!(
        run.stdout.contains("https://example.com/r?n=42&x=1"),
        "{}",
        run.stdout
    );

    // The export imports back with nothing to change.
    let json_path = dir.path().join("export.json");
    let json_arg = json_path.display().to_string();
    let run = byoc(&["routes", "export", "--output", &json_arg], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = byoc(&["routes", "import", &json_arg, "--dry-run"], &env);
    assert!(
        run.stderr
            .contains("0 added, 0 changed, 10001 unchanged, 0 not in the file"),
        "{}",
        run.stderr
    );

    // Listing and exporting stream the eight index shards merged in key order: the same
    // bytes as the same routes in a route file give.
    let file = dir.path().join("same.json");
    let file_arg = file.display().to_string();
    let run = byoc(&["routes", "import", &csv_arg, "--routes", &file_arg], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for format in ["csv", "json"] {
        let from_table = byoc(&["routes", "export", "--format", format], &env);
        assert_eq!(from_table.code, 0, "{}", from_table.stderr);
        let from_file = byoc(
            &[
                "routes", "export", "--format", format, "--routes", &file_arg,
            ],
            &[],
        );
        assert!(
            from_table.stdout == from_file.stdout,
            "{format} export differs between the table and the file"
        );
    }
    let listed = byoc(&["routes", "list", "--prefix", "+1212"], &env);
    let keys: Vec<&str> = listed
        .stdout
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(keys.len(), 5_000, "{}", listed.stderr);
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "in key order");
    assert!(
        listed.stderr.contains("5000 route(s) starting with +1212"),
        "{}",
        listed.stderr
    );
}

#[tokio::test]
async fn csv_export_round_trips_and_prune_removes_exactly_the_diff() {
    let dynamo = Dynamo::shared();
    let table = unique_table("prune");
    setup_table(&dynamo, &table);
    let env = table_env(&dynamo, &table);
    let dir = tempfile::tempdir().unwrap();

    let exported_csv = byoc(&["routes", "export", "--format", "csv"], &env).stdout;
    let csv = dir.path().join("export.csv");
    std::fs::write(&csv, &exported_csv).unwrap();
    let run = byoc(
        &["routes", "import", &csv.display().to_string(), "--dry-run"],
        &env,
    );
    assert!(
        run.stderr.contains("0 added, 0 changed, 7 unchanged"),
        "{}",
        run.stderr
    );
    let again = byoc(&["routes", "export", "--format", "csv"], &env).stdout;
    assert_eq!(exported_csv, again, "exports are stable");

    let small = dir.path().join("small.json");
    std::fs::write(
        &small,
        r#"{"routes":[{"pattern":"*","url":"https://example.com/new-default"},{"pattern":"+1999*","action":"hangup"}]}"#,
    )
    .unwrap();
    let small_arg = small.display().to_string();
    let run = byoc(
        &["routes", "import", &small_arg, "--prune", "--dry-run"],
        &env,
    );
    assert!(
        run.stderr
            .contains("1 added, 1 changed, 0 unchanged, 6 not in the file (removed)"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("~ * -> redirect"), "{}", run.stdout);
    assert!(run.stdout.contains("+ +1999* -> hangup"), "{}", run.stdout);
    assert!(run.stdout.contains("- +44* -> say"), "{}", run.stdout);
    let run = byoc(&["routes", "import", &small_arg, "--prune"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed = byoc(&["routes", "list"], &env).stdout;
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let run = byoc(&["routes", "history", "*"], &env);
    assert!(run.stdout.contains("v2 import by test"), "{}", run.stdout);
    let run = byoc(&["routes", "history", "+44*"], &env);
    assert!(run.stdout.contains("v1 import by test"), "{}", run.stdout);
    assert!(run.stdout.contains("after:  (none)"), "{}", run.stdout);
}

#[tokio::test]
async fn bad_imports_report_every_row_and_write_nothing() {
    let dynamo = Dynamo::shared();
    let table = unique_table("bad");
    let env = table_env(&dynamo, &table);
    assert_eq!(byoc(&["table", "create"], &env).code, 0);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "pattern,action,url,number\n*,redirect,https://x/,\n+1317*,redirect,not-a-url,\n+1212*,dial,,2125551234\n+1317*,hangup,,\n",
    )
    .unwrap();
    let run = byoc(&["routes", "import", &csv.display().to_string()], &env);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("3 invalid row(s); nothing was written"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("line 3: route `+1317*`: `url`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("line 4: route `+1212*`: `number`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("line 5: route `+1317*`: duplicate of line 3"),
        "{}",
        run.stderr
    );
    assert_eq!(byoc(&["routes", "list"], &env).stdout, "");

    // flex-inbound-sip-router configs: every known type imports; an unknown one is named.
    let flex = dir.path().join("flex.json");
    std::fs::write(
        &flex,
        r#"{"routes":[
  {"address":"+13175551234","comment":"Main","type":"webhook","destination":"https://x/main"},
  {"address":"4321","type":"dial-sip","destination":"sip:4321@pbx.example.com"},
  {"address":"+13175550000","type":"fax","destination":"sip:x@y"}
],"default":{"type":"say","destination":"Nobody is here"}}"#,
    )
    .unwrap();
    let run = byoc(&["routes", "import", &flex.display().to_string()], &env);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("line 4: route `+13175550000`: unknown type `fax`"),
        "{}",
        run.stderr
    );
    let text = std::fs::read_to_string(&flex)
        .unwrap()
        .replace("\"type\":\"fax\"", "\"type\":\"refer\"");
    std::fs::write(&flex, text).unwrap();
    let run = byoc(&["routes", "import", &flex.display().to_string()], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("(flex format)") || run.stderr.contains("flex format"),
        "{}",
        run.stderr
    );
    let listed = byoc(&["routes", "list"], &env).stdout;
    assert!(listed.contains("* -> say text=Nobody is here"), "{listed}");
    assert!(
        listed.contains("4321 -> sip uri=sip:4321@pbx.example.com"),
        "{listed}"
    );
    assert!(
        listed.contains("+13175550000 -> refer uri=sip:x@y"),
        "{listed}"
    );
}

#[tokio::test]
async fn routes_commands_work_the_same_on_a_table_and_a_file() {
    let dynamo = Dynamo::shared();
    let table = unique_table("cli");
    let table_env = table_env(&dynamo, &table);
    assert_eq!(byoc(&["table", "create"], &table_env).code, 0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.json").display().to_string();
    let file_env = vec![
        ("ROUTES_FILE".to_string(), file.clone()),
        ("BYOC_ACTOR".to_string(), "test".to_string()),
    ];
    for env in [&table_env, &file_env] {
        let run = byoc(
            &["routes", "put", "+1317*", "--url", "https://x/a?b=1&c=2"],
            env,
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains("saved v1"), "{}", run.stdout);
        let run = byoc(&["routes", "put", "+1317*", "--url", "https://x/b"], env);
        assert_eq!(run.code, 3, "create refuses an existing pattern");
        assert!(
            run.stderr.contains("already exists (version 1)"),
            "{}",
            run.stderr
        );
        let run = byoc(
            &[
                "routes",
                "put",
                "+1317*",
                "--action",
                "say",
                "--text",
                "hi",
                "--expect-version",
                "1",
            ],
            env,
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let run = byoc(
            &[
                "routes",
                "put",
                "+1317*",
                "--url",
                "https://x/c",
                "--expect-version",
                "1",
            ],
            env,
        );
        assert_eq!(run.code, 3);
        assert!(
            run.stderr.contains("is at version 2, not the expected 1"),
            "{}",
            run.stderr
        );
        let run = byoc(
            &[
                "routes",
                "put",
                "+1317*",
                "--replace",
                "--action",
                "redirect",
                "--url",
                "ftp://x",
            ],
            env,
        );
        assert_eq!(run.code, 2);
        assert!(
            run.stderr.contains("not an absolute http(s) URL"),
            "{}",
            run.stderr
        );

        let run = byoc(&["routes", "get", "+1317*"], env);
        let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(record["version"], 2);
        assert_eq!(record["text"], "hi");
        assert_eq!(record["updated_by"], "test");
        assert_eq!(byoc(&["routes", "get", "+1999*"], env).code, 1);

        let run = byoc(&["routes", "resolve", "3175550000"], env);
        assert!(
            run.stdout
                .contains("why:      longest matching prefix +1317*"),
            "{}",
            run.stdout
        );

        let run = byoc(&["routes", "history", "+1317*"], env);
        assert!(run.stdout.contains("v1 put by test"), "{}", run.stdout);
        assert!(run.stdout.contains("v2 put by test"), "{}", run.stdout);

        let run = byoc(
            &["routes", "delete", "+1317*", "--expect-version", "1"],
            env,
        );
        assert_eq!(run.code, 3);
        let run = byoc(
            &["routes", "delete", "+1317*", "--expect-version", "2"],
            env,
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(byoc(&["routes", "delete", "+1317*"], env).code, 1);
    }
    // Naming both stores is refused rather than guessed.
    let mut both = table_env.clone();
    both.push(("ROUTES_FILE".into(), file));
    let run = byoc(&["routes", "list"], &both);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[tokio::test]
async fn byoc_serve_reads_a_table() {
    let dynamo = Dynamo::shared();
    let table = unique_table("serve");
    setup_table(&dynamo, &table);
    let env = table_env(&dynamo, &table);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let serve = Serve::start(&[], &env).await;
    let response = reqwest::Client::new()
        .post(serve.url("/inbound"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(byoc_e2e::form(&[(
            "To",
            "sip:+13175551234@x.sip.twilio.com",
        )]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert_eq!(find(&parse(&body), "Response/Redirect").text, FLOW_URL);
}

/// A missing table is named as such, with the command that creates it, in a
/// few lines, exit 2; not "store unavailable" with the SDK's debug text.
#[tokio::test]
async fn a_missing_table_is_named_with_the_fix() {
    let dynamo = Dynamo::shared();
    let env = table_env(&dynamo, "no-such-table");
    for args in [
        &["routes", "list"][..],
        &["routes", "get", "+13175551234"][..],
    ] {
        let run = byoc(args, &env);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("table no-such-table does not exist")
                && run
                    .stderr
                    .contains("byoc table create --table no-such-table"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.len() < 400, "{}", run.stderr);
    }
}

/// `list`, `export` and `import` read the routes index, never the history; a
/// table made before the index still lists (by a scan, with a warning) until `byoc table
/// migrate` adds the index and the routes' list shards.
#[tokio::test]
async fn listing_skips_the_history_and_old_tables_migrate() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    // Its own server: `table migrate` adds an index (UpdateTable), which DynamoDB Local once
    // failed with InternalFailure while other tests used the same server.
    let dynamo = Dynamo::start();
    let table = unique_table("legacy");
    let client = dynamo.client();
    // The table as `byoc table create` made it before the index.
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, k: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(k)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pattern"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pattern", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
    // A route item as older versions wrote it: no list shard.
    let record: byoc_core::RouteRecord =
        serde_json::from_str(r#"{"pattern":"+1317*","action":"hangup","version":1}"#).unwrap();
    let mut item = byoc_dynamodb::record_to_item(&record);
    item.remove(byoc_dynamodb::LIST_SHARD);
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();

    let env = table_env(&dynamo, &table);
    let run = byoc(&["routes", "list"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("+1317* -> hangup"), "{}", run.stdout);
    assert!(run.stderr.contains("byoc table migrate"), "{}", run.stderr);

    let run = byoc(&["table", "migrate"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("added the `routes` index"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1 route item(s) given a list shard"),
        "{}",
        run.stdout
    );
    let run = byoc(&["table", "migrate"], &env);
    assert!(
        run.stdout.contains("0 route item(s)"),
        "idempotent: {}",
        run.stdout
    );

    // Writes give routes their shard; history items stay out of the index.
    let run = byoc(&["routes", "put", "+1212*", "--action", "hangup"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for i in 0..3 {
        let url = format!("https://example.com/{i}");
        let run = byoc(
            &[
                "routes",
                "put",
                "+1212*",
                "--replace",
                "--action",
                "redirect",
                "--url",
                &url,
            ],
            &env,
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let run = byoc(&["routes", "list"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("migrate"), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    let mut read = 0;
    for shard in 0..byoc_dynamodb::LIST_SHARDS {
        let out = client
            .query()
            .table_name(&table)
            .index_name(byoc_dynamodb::ROUTES_INDEX)
            .key_condition_expression("list_shard = :s")
            .expression_attribute_values(
                ":s",
                aws_sdk_dynamodb::types::AttributeValue::S(shard.to_string()),
            )
            .send()
            .await
            .unwrap();
        read += out.scanned_count();
    }
    assert_eq!(
        read, 2,
        "the index holds the two routes and none of their 5 history items"
    );
    let run = byoc(&["routes", "list", "--prefix", "+121"], &env);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
}

/// A stored item that fails validation (written by another tool or an older version) at
/// `+13175550000` must not hand its calls to `+1317555*` as if that had matched: the call gets
/// the degraded answer with the reason `invalid_route`, and other numbers are unaffected.
#[tokio::test]
async fn an_invalid_stored_route_is_degraded_not_passed_to_a_broader_route() {
    let dynamo = Dynamo::shared();
    let table = unique_table("invalid");
    setup_table(&dynamo, &table);
    let record: byoc_core::RouteRecord = serde_json::from_str(
        r#"{"pattern":"+13175550000","action":"teleport","url":"https://example.com/x","version":3}"#,
    )
    .unwrap();
    dynamo
        .client()
        .put_item()
        .table_name(&table)
        .set_item(Some(byoc_dynamodb::record_to_item(&record)))
        .send()
        .await
        .unwrap();
    let env = table_env(&dynamo, &table);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let serve = Serve::start(&[], &env).await;
    let call = |to: &'static str| {
        let url = serve.url("/inbound");
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(byoc_e2e::form(&[("CallSid", "CA1"), ("To", to)]))
                .send()
                .await
                .unwrap();
            let header = |h: &str| {
                response
                    .headers()
                    .get(h)
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default()
            };
            (header("x-byoc-outcome"), header("x-byoc-reason"))
        }
    };
    let (outcome, reason) = call("+13175550000").await;
    assert_eq!(outcome, "degraded");
    assert!(reason.starts_with("invalid_route"), "{reason}");
    // The store is not failing: a neighbour is answered from it at once, no back-off.
    let (outcome, _) = call("+13175551234").await;
    assert_eq!(outcome, "matched");
    // The line the template's InvalidRoutes metric filter counts (`$.kind = "invalid_route"`),
    // naming the pattern to fix.
    let line = serve
        .stderr
        .wait_for(
            "a stored route cannot be read",
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|| serve.stderr.text());
    assert!(line.contains(r#"kind="invalid_route""#), "{line}");
    assert!(line.contains("+13175550000"), "{line}");
    let template = std::fs::read_to_string(byoc_e2e::root().join("template.yaml")).unwrap();
    assert!(template.contains(r#"FilterPattern: '{ $.kind = "invalid_route" }'"#));

    // `get` names the problem and the fix; the fix works: replace it (at its own version), or
    // delete one that has no version at all.
    let cli_env = table_env(&dynamo, &table);
    let got = byoc(&["routes", "get", "+13175550000"], &cli_env);
    assert_ne!(got.code, 0);
    assert!(
        got.stderr.contains("unknown action `teleport`")
            && got
                .stderr
                .contains("byoc routes put +13175550000 --action … --replace"),
        "{}",
        got.stderr
    );
    let run = byoc(
        &[
            "routes",
            "put",
            "+13175550000",
            "--url",
            "https://example.com/fixed",
            "--action",
            "redirect",
            "--replace",
        ],
        &cli_env,
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let (outcome, _) = call("+13175550000").await;
    assert_eq!(outcome, "matched");
    let got = byoc(&["routes", "get", "+13175550000"], &cli_env);
    assert!(
        got.stdout.contains("https://example.com/fixed"),
        "{}",
        got.stdout
    );
    assert!(got.stdout.contains("\"version\": 4"), "{}", got.stdout);
    let mut no_version = byoc_dynamodb::record_to_item(
        &serde_json::from_str(r#"{"pattern":"+13175550001","action":"teleport"}"#).unwrap(),
    );
    no_version.remove("version");
    dynamo
        .client()
        .put_item()
        .table_name(&table)
        .set_item(Some(no_version))
        .send()
        .await
        .unwrap();
    let run = byoc(&["routes", "delete", "+13175550001"], &cli_env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let (outcome, _) = call("+13175550001").await;
    assert_eq!(
        outcome, "matched",
        "the prefix route answers once the item is gone"
    );
}

/// Writes a route item straight into the table, as another tool or an older version might.
async fn put_raw_item(dynamo: &Dynamo, table: &str, json: &str) {
    let record: byoc_core::RouteRecord = serde_json::from_str(json).unwrap();
    dynamo
        .client()
        .put_item()
        .table_name(table)
        .set_item(Some(byoc_dynamodb::record_to_item(&record)))
        .send()
        .await
        .unwrap();
}

/// A stored item this version cannot read is listed flagged with its reason (never hidden),
/// left out of exports with a warning (its stand-in must not come back as a real route), and
/// an import or a console save over it, at the version shown, replaces it.
#[tokio::test]
async fn an_unreadable_item_is_listed_flagged_and_an_import_or_the_console_replaces_it() {
    let dynamo = Dynamo::shared();
    let table = unique_table("unreadable");
    setup_table(&dynamo, &table);
    let bad = r#"{"pattern":"+13175550000","action":"teleport","version":3}"#;
    put_raw_item(&dynamo, &table, bad).await;
    put_raw_item(
        &dynamo,
        &table,
        r#"{"pattern":"+13175550002","action":"redirect","url":"ftp://example.com","version":7}"#,
    )
    .await;
    let env = table_env(&dynamo, &table);

    let list = byoc(&["routes", "list"], &env);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let flagged = list
        .stdout
        .lines()
        .find(|l| l.contains("+13175550000"))
        .unwrap_or_else(|| panic!("not listed:\n{}", list.stdout));
    assert!(flagged.starts_with("v3 "), "{flagged}");
    assert!(flagged.contains("UNREADABLE"), "{flagged}");
    assert!(flagged.contains("unknown action `teleport`"), "{flagged}");
    for format in ["json", "csv"] {
        let out = byoc(&["routes", "export", "--format", format], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            !out.stdout.contains("+13175550000"),
            "{format}: {}",
            out.stdout
        );
        assert!(
            out.stderr.contains("+13175550000 (v3) is left out"),
            "{format}: {}",
            out.stderr
        );
    }
    // An update by flags starts from nothing (nothing of the item can be kept): flags that do
    // not make a whole route are refused, and the item stays as it is.
    let merge = byoc(
        &[
            "routes",
            "put",
            "+13175550000",
            "--description",
            "x",
            "--replace",
        ],
        &env,
    );
    assert_eq!(merge.code, 2, "{}{}", merge.stdout, merge.stderr);
    assert!(
        merge.stderr.contains("cannot be read") && merge.stderr.contains("give the whole route"),
        "{}",
        merge.stderr
    );
    let got = byoc(&["routes", "get", "+13175550000"], &env);
    assert!(got.stderr.contains("teleport"), "{}", got.stderr);

    // An import of a file naming it replaces it (the version it read, 3, is expected).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fix.csv");
    std::fs::write(
        &file,
        "pattern,action,text\n+13175550000,say,Fixed by import\n",
    )
    .unwrap();
    let run = byoc(&["routes", "import", file.to_str().unwrap()], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("1 changed"), "{}", run.stderr);
    let got = byoc(&["routes", "get", "+13175550000"], &env);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stdout.contains("Fixed by import"), "{}", got.stdout);
    assert!(got.stdout.contains("\"version\": 4"), "{}", got.stdout);

    // The console lists the other one flagged, opens it at its version, and a save replaces it.
    let console = byoc_e2e::console::ConsoleProc::start(&[], &env).await;
    let routes = console.get("/api/routes").await;
    assert_eq!(routes.status, 200, "{}", routes.text);
    let shown = routes.json["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "+13175550002")
        .cloned()
        .unwrap_or_else(|| panic!("not listed: {}", routes.text));
    assert!(
        shown["unreadable"].as_str().unwrap().contains("url"),
        "{shown}"
    );
    assert_eq!(shown["version"], 7);
    let one = console.get("/api/route?key=%2B13175550002").await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json["route"]["version"], 7);
    let saved = console
        .post(
            "/api/route",
            &serde_json::json!({
                "record": {"pattern": "+13175550002", "action": "redirect", "url": "https://example.com/fixed"},
                "version": 7,
                "key": "+13175550002",
            }),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(saved.json["route"]["version"], 8);
    assert!(
        saved.json["route"].get("unreadable").is_none(),
        "{}",
        saved.text
    );
    let list = byoc(&["routes", "list"], &env);
    assert!(!list.stdout.contains("UNREADABLE"), "{}", list.stdout);
}
