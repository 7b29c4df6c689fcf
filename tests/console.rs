//! `byoc console` over real HTTP: the API on a route file and on DynamoDB (DynamoDB Local), its security
//! rules, and the same answers as the CLI.

use byoc_e2e::console::{answer, ConsoleProc};
use byoc_e2e::{byoc, root, unique_table, Dynamo};
use reqwest::Method;
use serde_json::{json, Value};

const FLOW_URL: &str = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";

/// A copy of the example routes in a temporary directory.
pub fn example_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.json");
    std::fs::copy(root().join("infra/routes.example.json"), &path).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn env() -> Vec<(String, String)> {
    vec![("BYOC_ACTOR".into(), "console-test".into())]
}

/// What every store must do through the console.
async fn api_contract(console: &ConsoleProc) {
    // Listing: the example's routes in key order, each with its version; one page.
    let list = console.get("/api/routes").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let routes = list.json["routes"].as_array().unwrap().clone();
    let keys: Vec<&str> = routes.iter().map(|r| r["key"].as_str().unwrap()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 7, "{keys:?}");
    assert_eq!(list.json["next"], Value::Null);
    assert!(routes.iter().all(|r| r["version"].as_u64().is_some()));
    // Pages of 3 follow the cursor to the end; filters apply on the server.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let page = console
            .get(&format!("/api/routes?limit=3&after={}", url_encode(&after)))
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        for r in page.json["routes"].as_array().unwrap() {
            paged.push(r["key"].as_str().unwrap().to_string());
        }
        match page.json["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    assert_eq!(paged, keys);
    let filtered = console
        .get("/api/routes?prefix=%2B1317&action=redirect")
        .await;
    let fkeys: Vec<&str> = filtered.json["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(fkeys, ["+1317555*", "+13175551234"], "{}", filtered.text);
    let text = console.get("/api/routes?text=INDIANAPOLIS").await;
    assert_eq!(
        text.json["routes"].as_array().unwrap().len(),
        1,
        "{}",
        text.text
    );
    let counted = console
        .get("/api/routes/count?prefix=%2B1317&action=redirect")
        .await;
    assert_eq!(
        counted.json,
        json!({"matched": 2, "total": 7}),
        "{}",
        counted.text
    );
    for bad in ["limit=0", "limit=501", "limit=x"] {
        assert_eq!(
            console.get(&format!("/api/routes?{bad}")).await.status,
            400,
            "{bad}"
        );
    }

    // Create; create again is a conflict that shows the stored route.
    let record =
        json!({"pattern": "+1999555*", "url": "https://example.com/a", "description": "console"});
    let created = console
        .post("/api/route", &json!({"record": record, "version": null}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.json["route"]["version"], 1);
    assert_eq!(created.json["route"]["updated_by"], "console-test");
    let again = console
        .post("/api/route", &json!({"record": record, "version": null}))
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.json["current"]["version"], 1);

    // The linter's findings: said on save and in the listing, never refused.
    let plain = json!({"pattern": "+1999444*", "url": "http://example.com/plain"});
    let saved = console
        .post("/api/route", &json!({"record": plain, "version": null}))
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    let warning = saved.json["warnings"][0].as_str().unwrap_or_default();
    assert!(warning.starts_with("plain_http: "), "{}", saved.text);
    let listed = console.get("/api/routes").await;
    let row = listed.json["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "+1999444*")
        .cloned()
        .unwrap();
    assert_eq!(row["warnings"][0].as_str(), Some(warning), "{row}");
    assert!(
        created.json["warnings"]
            .as_array()
            .is_some_and(|w| w.is_empty()),
        "{}",
        created.text
    );
    let gone = console
        .post(
            "/api/route/delete",
            &json!({"key": "+1999444*", "version": 1}),
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);

    // A bad field: 422 naming the field, with the CLI's message.
    let bad = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "+1999555*", "url": "not a url"}, "version": 1, "key": "+1999555*"}),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.json["field"], "url");
    let cli_message = bad.json["message"].as_str().unwrap();
    assert!(bad.json["error"].as_str().unwrap().contains(cli_message));

    // Edit with the version read: version 2; with the stale one: 409 and the current route.
    let edited = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "+1999555*", "url": "https://example.com/b"}, "version": 1, "key": "+1999555*"}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(edited.json["route"]["version"], 2);
    let stale = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "+1999555*", "url": "https://example.com/lost"}, "version": 1, "key": "+1999555*"}),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    assert_eq!(stale.json["current"]["url"], "https://example.com/b");
    // An edit may not move a route to another pattern.
    let moved = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "+1999556*", "url": "https://example.com/b"}, "version": 2, "key": "+1999555*"}),
        )
        .await;
    assert_eq!(moved.status, 422, "{}", moved.text);
    assert_eq!(moved.json["field"], "pattern");

    // Saving it unchanged, from the version loaded, writes nothing: no version 3, no history.
    let same = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "+1999555*", "url": "https://example.com/b"}, "version": 2, "key": "+1999555*"}),
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(same.json["unchanged"], true, "{}", same.text);
    assert_eq!(same.json["route"]["version"], 2);

    // One route; history with before and after.
    let one = console.get("/api/route?key=%2B1999555*").await;
    assert_eq!(one.json["route"]["url"], "https://example.com/b");
    let history = console.get("/api/history?key=%2B1999555*").await;
    let changes = history.json["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{}", history.text);
    assert_eq!(changes[1]["before"]["url"], "https://example.com/a");
    assert_eq!(changes[1]["after"]["url"], "https://example.com/b");
    assert_eq!(changes[1]["by"], "console-test");

    // Delete is version-checked.
    let stale = console
        .post(
            "/api/route/delete",
            &json!({"key": "+1999555*", "version": 1}),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    let deleted = console
        .post(
            "/api/route/delete",
            &json!({"key": "+1999555*", "version": 2}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(console.get("/api/route?key=%2B1999555*").await.status, 404);

    // Test a call.
    let resolved = console
        .post(
            "/api/resolve",
            &json!({"number": "sip:+13175551234@example.sip.twilio.com", "at": "2026-12-24T19:00", "tz": "America/Indiana/Indianapolis"}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    let lines = resolved.json["lines"].as_array().unwrap();
    let line = |label: &str| {
        lines
            .iter()
            .find(|l| l[0] == label)
            .map(|l| l[1].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(line("outcome"), "matched");
    assert!(line("twiml").contains(FLOW_URL), "{lines:?}");
    assert_eq!(resolved.json["at"], "2026-12-25T00:00:00Z");
    assert!(line("home").starts_with("US and Canada (+1)"), "{lines:?}");
    // The home country a test call assumes can be changed for the test: a UK national number.
    let uk = console
        .post(
            "/api/resolve",
            &json!({"number": "sip:07700900123@carrier.example", "country": "GB"}),
        )
        .await;
    assert_eq!(uk.status, 200, "{}", uk.text);
    let uk_lines = uk.json["lines"].to_string();
    assert!(uk_lines.contains("GB (+44) (asked for)"), "{uk_lines}");
    assert!(
        uk_lines.contains("+447700900123 (E.164 number)"),
        "{uk_lines}"
    );
    let bad_country = console
        .post(
            "/api/resolve",
            &json!({"number": "+13175551234", "country": "999"}),
        )
        .await;
    assert_eq!(bad_country.status, 422, "{}", bad_country.text);
    assert_eq!(bad_country.json["field"], "country");

    // Import: the dry run shows the difference; apply writes it; bad rows name their line.
    let csv = "pattern,action,url\n+1888555*,redirect,https://example.com/import\n";
    let dry = console
        .post("/api/import", &json!({"text": csv, "name": "new.csv"}))
        .await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.json["added"].as_array().unwrap().len(), 1);
    assert_eq!(dry.json["writes"], 1);
    assert_eq!(console.get("/api/route?key=%2B1888555*").await.status, 404);
    let applied = console
        .post(
            "/api/import",
            &json!({"text": csv, "name": "new.csv", "apply": true}),
        )
        .await;
    assert_eq!(applied.json["written"], 1, "{}", applied.text);
    let idle = console.get("/api/import/progress").await;
    assert_eq!(idle.json, json!({"done": 0, "total": 0}), "{}", idle.text);
    assert_eq!(console.get("/api/route?key=%2B1888555*").await.status, 200);
    let invalid = console
        .post(
            "/api/import",
            &json!({"text": "pattern,action,url\n+1888555*,redirect,https://ok.example/\n+1777*,redirect,nope\n", "name": "bad.csv"}),
        )
        .await;
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    assert_eq!(invalid.json["errors"][0]["line"], 3);

    // Export round trip: importing the export changes nothing.
    for format in ["json", "csv"] {
        let exported = console.get(&format!("/api/export?format={format}")).await;
        assert_eq!(exported.status, 200);
        assert!(exported.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("routes.{format}")));
        let again = console
            .post(
                "/api/import",
                &json!({"text": exported.text, "name": format!("routes.{format}")}),
            )
            .await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(again.json["writes"], 0, "{format}: {}", again.text);
    }
}

/// The security rules, each refused with its reason.
async fn security(console: &ConsoleProc) {
    let url = format!("{}/api/routes", console.base);
    let http = reqwest::Client::new();
    // The page shell needs no token and carries the headers.
    let page = answer(http.get(format!("{}/", console.base))).await;
    assert_eq!(page.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(page.headers.get("access-control-allow-origin").is_none());
    // No token, a wrong token, the token in the query string: 401.
    assert_eq!(answer(http.get(&url)).await.status, 401);
    assert_eq!(
        answer(http.get(&url).bearer_auth("x".repeat(43)))
            .await
            .status,
        401
    );
    assert_eq!(
        answer(http.get(format!("{url}?token={}", console.token)))
            .await
            .status,
        401
    );
    // A foreign Host (DNS rebinding).
    let rebound = answer(
        http.get(&url)
            .bearer_auth(&console.token)
            .header("host", "attacker.example"),
    )
    .await;
    assert_eq!(rebound.status, 421, "{}", rebound.text);
    // Changes: cross-origin, no Origin, not JSON.
    let body = json!({"number": "+13175551234"}).to_string();
    let resolve = format!("{}/api/resolve", console.base);
    for (origin, content_type) in [
        (Some("http://attacker.example"), "application/json"),
        (None, "application/json"),
        (Some(console.base.as_str()), "text/plain"),
    ] {
        let mut request = http
            .post(&resolve)
            .bearer_auth(&console.token)
            .header("content-type", content_type)
            .body(body.clone());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let refused = answer(request).await;
        assert_eq!(
            refused.status, 403,
            "{origin:?} {content_type}: {}",
            refused.text
        );
    }
    // Bounded bodies, bad JSON, unknown fields.
    let big = json!({"number": "1".repeat(300 * 1024)});
    assert_eq!(console.post("/api/resolve", &big).await.status, 413);
    let bad = answer(
        console
            .request(Method::POST, "/api/resolve")
            .body("{not json"),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let unknown = console
        .post(
            "/api/resolve",
            &json!({"number": "+13175551234", "nmber": 1}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.text.contains("nmber"), "{}", unknown.text);
}

#[tokio::test]
async fn the_console_api_on_a_route_file() {
    let (_dir, path) = example_file();
    let console = ConsoleProc::start(&["--routes", &path], &env()).await;
    assert!(console.token.len() >= 22, "{}", console.url);
    security(&console).await;
    api_contract(&console).await;

    // The test a call answer is exactly what `byoc routes resolve` prints.
    let resolved = console
        .post(
            "/api/resolve",
            &json!({"number": "3175559876", "from": "+13175550000", "at": "2026-12-24T19:00:00Z"}),
        )
        .await;
    let run = byoc(
        &[
            "routes",
            "resolve",
            "3175559876",
            "--from",
            "+13175550000",
            "--at",
            "2026-12-24T19:00:00Z",
            "--routes",
            &path,
        ],
        &env(),
    );
    let printed: Vec<String> = resolved.json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{:<9} {}",
                format!("{}:", l[0].as_str().unwrap()),
                l[1].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(printed.join("\n") + "\n", run.stdout);
}

#[tokio::test]
async fn the_console_api_on_dynamodb() {
    let dynamo = Dynamo::shared();
    let table = unique_table("console");
    let mut env = dynamo.env();
    env.extend(self::env());
    env.push(("ROUTES_TABLE".into(), table.clone()));
    assert_eq!(byoc(&["table", "create"], &env).code, 0);
    let example = root()
        .join("infra/routes.example.json")
        .display()
        .to_string();
    assert_eq!(byoc(&["routes", "import", &example], &env).code, 0);
    let console = ConsoleProc::start(&[], &env).await;
    let described = console
        .stderr
        .wait_for(
            &format!("dynamodb table {table}"),
            std::time::Duration::from_secs(5),
        )
        .await;
    assert!(described.is_some(), "{}", console.stderr.text());
    api_contract(&console).await;

    // A large import reports its progress while it runs.
    let mut csv = String::from("pattern,action,url\n");
    for i in 0..1000 {
        csv.push_str(&format!(
            "+1646555{i:04},redirect,https://example.com/{i}\n"
        ));
    }
    let body = json!({"text": csv, "name": "many.csv", "apply": true});
    let apply = console.post("/api/import", &body);
    let watch = async {
        let mut seen = Vec::new();
        for _ in 0..600 {
            let p = console.get("/api/import/progress").await.json;
            if p["total"] == 1000 {
                seen.push(p["done"].as_u64().unwrap());
            }
            if seen.len() >= 2 && seen.last() > seen.first() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        seen
    };
    let (applied, seen) = tokio::join!(apply, watch);
    assert_eq!(applied.json["written"], 1000, "{}", applied.text);
    assert!(!seen.is_empty(), "no progress seen while the import ran");

    // The table gone: the error says what to run.
    let gone = ConsoleProc::start(&["--table", "no-such-table"], &env).await;
    let missing = gone.get("/api/routes").await;
    assert_eq!(missing.status, 503, "{}", missing.text);
    assert!(missing.json["fix"]
        .as_str()
        .unwrap()
        .contains("byoc table create --table no-such-table"));
}

#[tokio::test]
async fn the_console_without_a_store_is_read_only_and_refuses_remote_binds() {
    let console = ConsoleProc::start(&[], &env()).await;
    let info = console.get("/api/info").await;
    assert_eq!(info.json["read_only"], true, "{}", info.text);
    let refused = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "+1999*", "url": "https://example.com/"}, "version": null}),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.text.contains("--routes FILE"));
    let run = byoc(
        &["console", "--no-open", "--bind", "0.0.0.0", "--port", "0"],
        &env(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--allow-remote"), "{}", run.stderr);
}

/// The route file under the console: changes made elsewhere are seen, a failed write changes
/// nothing, a dangerous prune must be confirmed, keys are taken in the CLI's forms.
#[tokio::test]
async fn the_console_follows_its_route_file_and_guards_writes() {
    let (dir, path) = example_file();
    let console = ConsoleProc::start(&["--routes", &path], &env()).await;

    // A change by the CLI while the console runs.
    let run = byoc(
        &[
            "routes",
            "put",
            "+13175550060",
            "--action",
            "hangup",
            "--routes",
            &path,
        ],
        &env(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = console.get("/api/route?key=%2B13175550060").await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(seen.json["route"]["action"], "hangup");

    // A write that cannot reach the disk: an error that says so, memory as the file is, no
    // temporary file left.
    let tmp = format!("{path}.tmp");
    std::fs::create_dir(&tmp).unwrap();
    let failed = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "*", "action": "reject"}, "version": 1, "key": "*"}),
        )
        .await;
    assert_eq!(failed.status, 500, "{}", failed.text);
    assert!(
        failed.text.contains("cannot write route file"),
        "{}",
        failed.text
    );
    std::fs::remove_dir(&tmp).unwrap();
    let star = console.get("/api/route?key=*").await;
    assert_eq!(star.json["route"]["version"], 1, "{}", star.text);
    assert_ne!(star.json["route"]["action"], "reject");

    // An unreadable file: 503 with the reason, not the old copy.
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, "{\"routes\": [").unwrap();
    let broken = console.get("/api/routes").await;
    assert_eq!(broken.status, 503, "{}", broken.text);
    assert!(broken.text.contains("is invalid"), "{}", broken.text);
    std::fs::write(&path, &good).unwrap();
    assert_eq!(console.get("/api/routes").await.status, 200);

    // A hand edit in an editor that leaves `version` alone is a change all the same: a save
    // from the version the page loaded is a conflict, and the edit is kept.
    let loaded = console.get("/api/route?key=*").await;
    let version = loaded.json["route"]["version"].as_u64().unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&good).unwrap();
    for route in file["routes"].as_array_mut().unwrap() {
        if route["pattern"] == "*" {
            route["description"] = "edited by hand".into();
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    let overwrite = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "*", "action": "reject"}, "version": version, "key": "*"}),
        )
        .await;
    assert_eq!(overwrite.status, 409, "{}", overwrite.text);
    assert_eq!(overwrite.json["current"]["description"], "edited by hand");
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let star = kept["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pattern"] == "*")
        .unwrap();
    assert_eq!(star["description"], "edited by hand", "{kept}");
    assert_ne!(star["action"], "reject", "{kept}");
    // A second hand edit, still at the file's version: the stale save is refused again.
    let mut twice = kept.clone();
    for route in twice["routes"].as_array_mut().unwrap() {
        if route["pattern"] == "*" {
            route["description"] = "edited twice".into();
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&twice).unwrap()).unwrap();
    let stale = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "*", "action": "reject"}, "version": version, "key": "*"}),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    assert_eq!(stale.json["current"]["description"], "edited twice");
    std::fs::write(&path, &good).unwrap();

    // A prune that deletes `*` (here: every route) must be confirmed.
    let empty =
        json!({"text": "pattern,action,url\n", "name": "empty.csv", "prune": true, "apply": true});
    let refused = console.post("/api/import", &empty).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.json["prune_risk"]
        .as_str()
        .unwrap()
        .contains("the * route"));
    assert_eq!(console.get("/api/route?key=*").await.status, 200);

    // Keys in the CLI's forms; `PATTERN@DOMAIN` names the scope.
    let scoped = console
        .post(
            "/api/route",
            &json!({"record": {"pattern": "+13175551234@Acme.SIP.twilio.com", "action": "hangup"}, "version": null}),
        )
        .await;
    assert_eq!(scoped.status, 200, "{}", scoped.text);
    assert_eq!(scoped.json["route"]["scope"], "acme.sip.twilio.com");
    let found = console
        .get("/api/route?key=%2B13175551234%40ACME.sip.twilio.com")
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(console.get("/api/route").await.status, 400);
    let gone = console
        .post(
            "/api/route/delete",
            &json!({"key": "+19999999999", "version": 1}),
        )
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text);
    for method in [Method::PUT, Method::DELETE, Method::HEAD] {
        let answer = answer(console.request(method.clone(), "/api/routes")).await;
        assert_eq!(answer.status, 405, "{method}");
    }
    drop(dir);

    // A mistyped path is refused, not created.
    let run = byoc(
        &[
            "console",
            "--no-open",
            "--port",
            "0",
            "--routes",
            "/nonexistent/r.json",
        ],
        &env(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
}
