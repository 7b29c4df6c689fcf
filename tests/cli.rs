//! `byoc routes resolve` as a user runs it.

use std::process::Command;

use byoc_e2e::{binary, byoc};

fn resolve(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(binary("byoc"))
        .env_clear()
        .envs(env.iter().copied())
        .args(["routes", "resolve"])
        .args(args)
        .output()
        .expect("run byoc");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn resolve_explains_the_match_on_the_embedded_example() {
    let (code, out) = resolve(&["sip:3175559876@example.sip.twilio.com;user=phone"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("address:  +13175559876 (E.164 number)"),
        "{out}"
    );
    assert!(out.contains("route:    +1317555* -> redirect"), "{out}");
    assert!(
        out.contains("why:      longest matching prefix +1317555* (7 digits)"),
        "{out}"
    );
    assert!(out.contains("team=support&amp;lang=en"), "{out}");

    let (code, out) = resolve(&["+13175551234"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("why:      exact match on +13175551234"),
        "{out}"
    );

    let (code, out) = resolve(&["sip:4321@pbx"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("literal address"), "{out}");
    assert!(
        out.contains("<Sip>sip:4321@pbx.example.com;transport=tls</Sip>"),
        "{out}"
    );

    let (code, out) = resolve(&["+33123456789"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("why:      catch-all *"), "{out}");
}

#[test]
fn resolve_reports_no_route_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.json");
    std::fs::write(
        &path,
        r#"{"routes":[{"pattern":"+1317*","action":"hangup"}]}"#,
    )
    .unwrap();
    let file = path.display().to_string();

    let (code, out) = resolve(&["+12125551234", "--routes", &file], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("route:    none"), "{out}");
    assert!(out.contains("<Reject reason=\"rejected\"/>"), "{out}");

    let (code, out) = resolve(
        &["+12125551234", "--routes", &file],
        &[("DEFAULT_ROUTE_URL", "https://example.com/d")],
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("the default route (DEFAULT_ROUTE_URL)"),
        "{out}"
    );

    let (code, out) = resolve(&["+1-abc"], &[]);
    assert_eq!(code, 1);
    assert!(out.contains("address:  invalid"), "{out}");

    std::fs::write(&path, r#"{"routes":[{"pattern":"+1317*","url":"x"}]}"#).unwrap();
    let (code, out) = resolve(&["+1317", "--routes", &file], &[]);
    assert_eq!(code, 2);
    assert!(out.contains("route `+1317*`: `url`"), "{out}");
}

fn byoc_in(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(binary("byoc"))
        .env_clear()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run byoc");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// An update changes only the fields its flags name; `--clear` removes one;
/// `--dry-run` shows the change and writes nothing; `--json @file` gives a whole route.
#[test]
fn put_updates_only_what_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--url",
            "https://example.com/a",
            "--callers",
            r#"[{"from":"+1900","action":"reject"}]"#,
            "--schedule",
            r#"{"timezone":"UTC","hours":["daily 09:00-17:00"],"closed":{"action":"hangup"}}"#,
            "--description",
            "Main line",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--expect-version",
            "1",
            "--url",
            "https://example.com/b",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(r#"~ url: "https://example.com/a" -> "https://example.com/b""#),
        "{out}"
    );
    assert!(out.contains("dry run: nothing written"), "{out}");
    assert!(!std::fs::read_to_string(d.join("r.json"))
        .unwrap()
        .contains("example.com/b"));

    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--expect-version",
            "1",
            "--url",
            "https://example.com/b",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (_, got) = byoc_in(d, &["routes", "get", "3175551234", "--routes", "r.json"]);
    let got: serde_json::Value = serde_json::from_str(&got).expect(&got);
    assert_eq!(got["url"], "https://example.com/b");
    assert_eq!(
        got["callers"][0]["from"], "+1900",
        "the caller block survives: {got}"
    );
    assert_eq!(got["schedule"]["timezone"], "UTC");
    assert_eq!(got["description"], "Main line");
    assert_eq!(got["version"], 2);

    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--replace",
            "--clear",
            "schedule",
            "--action",
            "say",
            "--text",
            "Hello",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (_, got) = byoc_in(d, &["routes", "get", "+13175551234", "--routes", "r.json"]);
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got["action"], "say");
    assert!(
        got.get("url").is_none() && got.get("schedule").is_none(),
        "{got}"
    );
    assert_eq!(got["callers"][0]["from"], "+1900");

    std::fs::write(d.join("route.json"), r#"{"action":"enqueue","workflow":"WW0123456789abcdef0123456789abcdef","task_attributes":{"skill":"es"}}"#).unwrap();
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--expect-version",
            "3",
            "--json",
            "@route.json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (_, got) = byoc_in(d, &["routes", "get", "+13175551234", "--routes", "r.json"]);
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got["task_attributes"]["skill"], "es");
    assert!(
        got.get("callers").is_none(),
        "--json is the whole route: {got}"
    );
}

/// A field that does not exist, or one both given and cleared, is refused, never guessed.
#[test]
fn put_refuses_unknown_and_contradictory_fields() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--action",
            "enqueue",
            "--workflow",
            "WW0123456789abcdef0123456789abcdef",
            "--task-attributes",
            r#"{"skill":"es"}"#,
            "--description",
            "Main line",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--replace",
            "--clear",
            "bogus",
        ],
    );
    assert_ne!(code, 0);
    assert!(out.contains("unknown field `bogus`"), "{out}");

    // Setting and clearing one field at once is refused, not silently cleared.
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--replace",
            "--clear",
            "description",
            "--description",
            "x",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("both given"), "{out}");
}

/// A put that changes nothing writes nothing: no version bump under other editors.
#[test]
fn put_that_changes_nothing_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--action",
            "enqueue",
            "--workflow",
            "WW0123456789abcdef0123456789abcdef",
            "--task-attributes",
            r#"{"skill":"es"}"#,
            "--description",
            "Main line",
        ],
    );
    assert_eq!(code, 0, "{out}");
    // A put that changes nothing writes nothing (no version bump under other editors).
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--expect-version",
            "1",
            "--task-attributes",
            r#"{"skill":"es"}"#,
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no change to +13175551234"), "{out}");
    let (_, got) = byoc_in(d, &["routes", "get", "+13175551234", "--routes", "r.json"]);
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got["version"], 1);
}

/// The scope is part of a route's key: an update cannot move a route onto another one.
#[test]
fn the_scope_is_part_of_a_routes_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out) = byoc_in(
        d,
        &[
            "routes", "put", "+1317*", "--routes", "r.json", "--action", "hangup",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+1317*@Tenant-A.sip.twilio.com",
            "--routes",
            "r.json",
            "--action",
            "reject",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("new route +1317*@tenant-a.sip.twilio.com"),
        "{out}"
    );
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "put",
            "+1317*@tenant-a.sip.twilio.com",
            "--routes",
            "r.json",
            "--replace",
            "--clear",
            "scope",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("the scope is part of the route's key"),
        "{out}"
    );
    let (_, got) = byoc_in(d, &["routes", "get", "+1317*", "--routes", "r.json"]);
    assert!(
        got.contains("\"hangup\""),
        "the unscoped route is untouched: {got}"
    );
}

/// A prune that would delete the `*` route (or many routes) asks for `--yes`.
#[test]
fn a_header_only_prune_needs_yes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("r.json"),
        r#"{"routes":[{"pattern":"*","action":"hangup"},{"pattern":"+1317*","action":"hangup"}]}"#,
    )
    .unwrap();
    std::fs::write(d.join("empty.csv"), "pattern,action,url\n").unwrap();
    let before = std::fs::read_to_string(d.join("r.json")).unwrap();
    // The dry run says the real run will need --yes.
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "import",
            "empty.csv",
            "--prune",
            "--dry-run",
            "--routes",
            "r.json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the real run needs --yes"), "{out}");
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "import",
            "empty.csv",
            "--prune",
            "--routes",
            "r.json",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("the * route"), "{out}");
    assert!(out.contains("--yes"), "{out}");
    assert_eq!(std::fs::read_to_string(d.join("r.json")).unwrap(), before);
    let (code, out) = byoc_in(
        d,
        &[
            "routes",
            "import",
            "empty.csv",
            "--prune",
            "--yes",
            "--routes",
            "r.json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (_, listed) = byoc_in(d, &["routes", "list", "--routes", "r.json"]);
    assert!(listed.contains("0 route(s) in file r.json"), "{listed}");
}

/// One route per line whatever its text; a flag beats the environment; the
/// route count said once.
#[test]
fn list_papercuts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("r.json"),
        r#"{"routes":[{"pattern":"*","action":"say","text":"Line one\nLine two","description":"a\nb"}]}"#,
    )
    .unwrap();
    let output = Command::new(binary("byoc"))
        .env_clear()
        .current_dir(d)
        // A table in the environment; the flag names the file.
        .env("ROUTES_TABLE", "not-this-table")
        .args(["routes", "list", "--routes", "r.json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains(r"text=Line one\nLine two"), "{stdout}");
    assert_eq!(stderr.trim(), "1 route(s) in file r.json", "{stderr}");

    // A reader that has gone away (`byoc routes get … | true`) ends the command quietly.
    for args in [
        &["routes", "get", "*"][..],
        &["routes", "list"][..],
        &["routes", "resolve", "+13175551234"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(binary("byoc"))
            .env_clear()
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Every route example in the docs (JSON route files, single routes, CSV) imports: the docs
/// cannot drift from the route model. Placeholder SIDs (`BY…`, `AC…`) become valid SIDs.
#[test]
fn every_route_example_in_the_docs_imports() {
    let root = byoc_e2e::root();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for doc in ["README.md", "docs/routes.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("```") {
            let after = &rest[start + 3..];
            let (kind, body) = after.split_once('\n').unwrap();
            let end = body.find("```").expect("a closed code block");
            let block = &body[..end];
            rest = &body[end + 3..];
            let block = fill_placeholders(block);
            let file = match kind {
                "json" => {
                    let value: serde_json::Value = serde_json::from_str(&block)
                        .unwrap_or_else(|e| panic!("{doc}: not JSON ({e}):\n{block}"));
                    let text = if value.get("routes").is_some() {
                        block.clone()
                    } else {
                        serde_json::json!({ "routes": [value] }).to_string()
                    };
                    let path = dir.path().join(format!("example{checked}.json"));
                    std::fs::write(&path, text).unwrap();
                    path
                }
                "csv" => {
                    let path = dir.path().join(format!("example{checked}.csv"));
                    std::fs::write(&path, &block).unwrap();
                    path
                }
                _ => continue,
            };
            let output = Command::new(binary("byoc"))
                .env_clear()
                .args(["routes", "import", &file.display().to_string(), "--dry-run"])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{doc}:\n{block}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} examples found");
}

/// `BY…` → `BY` and 32 zeros, for every two-letter SID prefix.
fn fill_placeholders(block: &str) -> String {
    let mut out = String::with_capacity(block.len());
    let chars: Vec<char> = block.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let sid = *c == '…'
            && i >= 2
            && chars[i - 1].is_ascii_uppercase()
            && chars[i - 2].is_ascii_uppercase();
        if sid {
            out.push_str(&"0".repeat(32));
        } else {
            out.push(*c);
        }
    }
    out
}

/// Route management does not read the webhooks' settings, and one rule picks the
/// store (both stores in the environment is an error, never a silent choice).
#[test]
fn route_commands_need_only_their_own_settings() {
    let run = |env: &[(&str, &str)]| {
        let output = Command::new(binary("byoc"))
            .env_clear()
            .envs(env.iter().copied())
            .args(["routes", "list"])
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[("OUTBOUND_CALLER_ID", "alice")]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = run(&[("ROUTES_TABLE", "t"), ("ROUTES_FILE", "f.json")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("both ROUTES_TABLE and ROUTES_FILE are set"),
        "{err}"
    );
}

/// The README's first import, as a new user types it: a dry run against a route file that does
/// not exist yet shows what the import would add and creates nothing; a flex file that is not
/// an FSR configuration is refused before anything is compared; CRLF line numbers are right.
#[test]
fn a_first_dry_run_import_and_files_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("my-routes.json");
    std::fs::write(
        &mine,
        r#"{"routes": [{"pattern": "+13175551234", "url": "https://example.com/main"}]}"#,
    )
    .unwrap();
    let routes = dir.path().join("routes.json");
    let routes_arg = routes.display().to_string();
    let mine_arg = mine.display().to_string();
    let out = byoc(
        &[
            "routes",
            "import",
            &mine_arg,
            "--routes",
            &routes_arg,
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("+13175551234"), "{}", out.stdout);
    assert!(!routes.exists(), "a dry run created the file");
    // Without --dry-run the same command creates it.
    let out = byoc(
        &["routes", "import", &mine_arg, "--routes", &routes_arg],
        &[],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(routes.exists());

    // A typo'd FSR file is refused, naming what was expected, and --prune --yes deletes nothing.
    let typo = dir.path().join("fsr.json");
    std::fs::write(&typo, r#"{"rutes": [{"address": "+13175550000", "type": "webhook", "destination": "https://x"}]}"#).unwrap();
    let out = byoc(
        &[
            "routes",
            "import",
            &typo.display().to_string(),
            "--format",
            "flex",
            "--routes",
            &routes_arg,
            "--prune",
            "--yes",
        ],
        &[],
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("not a flex-inbound-sip-router configuration"),
        "{}",
        out.stderr
    );
    let kept = byoc(&["routes", "list", "--routes", &routes_arg], &[]);
    assert!(kept.stdout.contains("+13175551234"), "{}", kept.stdout);

    // A CSV saved by Excel on Windows: CRLF, the bad row on line 3.
    let csv = dir.path().join("excel.csv");
    std::fs::write(
        &csv,
        "pattern,url\r\n+13175550001,https://x/a\r\n+13175550002,nope\r\n",
    )
    .unwrap();
    let out = byoc(
        &[
            "routes",
            "import",
            &csv.display().to_string(),
            "--routes",
            &routes_arg,
            "--dry-run",
        ],
        &[],
    );
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("line 3:"), "{}", out.stderr);
}

/// `--clear byoc` (or `timeout`) on a failover chain clears what each target carries: the
/// chain copies its trunk into every target when it is read, so clearing only the route's own
/// changed nothing and said so, while the trunk was still dialled.
#[test]
fn clearing_a_chains_trunk_clears_it_from_its_targets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.json");
    std::fs::write(
        &file,
        r#"{"routes": [{"pattern": "+13175551234", "action": "dial", "byoc": "BY0123456789abcdef0123456789abcdef", "timeout": 15,
            "targets": [{"number": "+13175550001"}, {"number": "+13175550002"}]}]}"#,
    )
    .unwrap();
    let file = file.display().to_string();
    for field in ["byoc", "timeout"] {
        let out = byoc(
            &[
                "routes",
                "put",
                "+13175551234",
                "--replace",
                "--clear",
                field,
                "--routes",
                &file,
            ],
            &[],
        );
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert!(!out.stdout.contains("no change"), "{field}: {}", out.stdout);
    }
    let got = byoc(&["routes", "get", "+13175551234", "--routes", &file], &[]);
    assert!(
        !got.stdout.contains("BY0123456789abcdef0123456789abcdef"),
        "{}",
        got.stdout
    );
    assert!(!got.stdout.contains("\"timeout\""), "{}", got.stdout);
    let resolved = byoc(
        &["routes", "resolve", "+13175551234", "--routes", &file],
        &[],
    );
    assert!(!resolved.stdout.contains("byoc="), "{}", resolved.stdout);
}

/// A `twiml` route moved from flex-inbound-sip-router or a Twilio Function with relative URLs
/// (`<Gather action="/menu">`, `<Play>/hold.mp3</Play>`) imports, with a warning for each.
#[test]
fn relative_urls_in_twiml_routes_are_warned_about_at_import() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fsr.json");
    std::fs::write(
        &file,
        r#"{"routes": [{"address": "+13175551234", "type": "twiml", "destination": "<Gather action=\"/menu\"><Play>/hold.mp3</Play></Gather>"}]}"#,
    )
    .unwrap();
    let out = byoc(
        &[
            "routes",
            "import",
            &file.display().to_string(),
            "--format",
            "flex",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(r#"warning: route `+13175551234`: relative URL in <Gather action="/menu">"#),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("<Play>/hold.mp3</Play>"),
        "{}",
        out.stderr
    );
}

/// `byoc --help` lists the exit codes scripts branch on, and a missing route exits with the
/// one it names "not found".
#[test]
fn help_lists_the_exit_codes_the_commands_use() {
    let dir = tempfile::tempdir().unwrap();
    let (code, help) = byoc_in(dir.path(), &["--help"]);
    assert_eq!(code, 0, "{help}");
    for line in [
        "Exit codes:",
        "1  not found",
        "2  invalid input",
        "3  conflict",
        "4  unreachable",
        "5  refused by Twilio",
    ] {
        assert!(help.contains(line), "{line}: {help}");
    }
    let (code, out) = byoc_in(dir.path(), &["routes", "get", "+19995550000"]);
    assert_eq!(code, 1, "{out}");
    std::fs::write(dir.path().join("r.json"), r#"{"routes":[]}"#).unwrap();
    let args = [
        "routes",
        "put",
        "+13175551234",
        "--routes",
        "r.json",
        "--action",
        "hangup",
    ];
    assert_eq!(byoc_in(dir.path(), &args).0, 0);
    let (code, out) = byoc_in(dir.path(), &args);
    assert_eq!(code, 3, "{out}");
    let (code, out) = byoc_in(
        dir.path(),
        &[
            "routes",
            "put",
            "+13175551234",
            "--routes",
            "r.json",
            "--action",
            "nonsense",
            "--replace",
        ],
    );
    assert_eq!(code, 2, "{out}");
}
