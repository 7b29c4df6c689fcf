//! The console in a real browser: Debian's headless Chromium driven over chromedriver
//! (WebDriver, with fantoccini). `#[ignore]`d in a plain `cargo test` because it needs
//! `chromium` and `chromium-driver`; `infra/test.sh` installs them and runs it with
//! `cargo test -p byoc-e2e --test e2e browser:: -- --ignored`.
//!
//! `BYOC_CONSOLE_SCREENSHOTS=1` also saves the main screens into `docs/console/` (the README
//! shows them); CI does not rewrite them.

use std::process::Stdio;
use std::time::Duration;

use byoc_e2e::console::ConsoleProc;
use byoc_e2e::root;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::console::example_file;

const FLOW_URL: &str = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";

/// chromedriver on a free loopback port; killed on drop.
struct Driver {
    _child: tokio::process::Child,
    url: String,
    profiles: Vec<tempfile::TempDir>,
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver; infra/test.sh does)");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            _child: child,
            url,
            profiles: Vec::new(),
        }
    }

    /// A new headless Chromium with an empty profile, kept off the network but for loopback.
    async fn browser(&mut self) -> Client {
        let profile = tempfile::tempdir().unwrap();
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1280,800".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        self.profiles.push(profile);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

/// Polls `expression` in the page until it is truthy (10 s at most) and returns its value.
async fn until(c: &Client, expression: &str) -> Value {
    for _ in 0..100 {
        let value = c
            .execute(&format!("return ({expression});"), vec![])
            .await
            .unwrap_or(Value::Null);
        let truthy = match &value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = c.source().await.unwrap_or_default();
    panic!("timed out waiting for `{expression}`; page:\n{page}");
}

async fn fill(c: &Client, css: &str, text: &str) {
    let input = c.find(Locator::Css(css)).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn no_errors(c: &Client) {
    let errors = c
        .execute(
            "return window.__consoleErrors || ['console.js did not run'];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(errors, json!([]), "JavaScript errors in the page");
}

async fn screenshot(c: &Client, name: &str) {
    if std::env::var("BYOC_CONSOLE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = root().join("docs/console");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.png")),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
}

async fn open_route(c: &Client, key: &str) {
    fill(c, "#f-prefix", key.trim_end_matches('*')).await;
    until(c, &format!("[...document.querySelectorAll('#routes tbody button.link')].some(b => b.textContent === '{key}')")).await;
    c.execute(
        &format!("[...document.querySelectorAll('#routes tbody button.link')].find(b => b.textContent === '{key}').click();"),
        vec![],
    )
    .await
    .unwrap();
    until(c, "document.getElementById('editor').open").await;
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver: run by infra/test.sh"]
async fn the_console_in_a_real_browser_on_a_route_file() {
    let (dir, path) = example_file();
    let console = ConsoleProc::start(
        &["--routes", &path],
        &[("BYOC_ACTOR".into(), "browser-test".into())],
    )
    .await;
    use_the_console(&console, dir.path(), true).await;

    // 100,000 routes: the server sends a page of rows; the page pages and filters through it.
    let mut csv = String::from("pattern,action,url,description\n");
    for i in 0..100_000 {
        csv.push_str(&format!(
            "+1212{:07},redirect,https://example.com/{i},bulk {i}\n",
            i
        ));
    }
    let body = json!({"text": csv, "name": "bulk.csv", "apply": true});
    let applied = console.post("/api/import", &body).await;
    assert_eq!(applied.json["written"], 100_000, "{}", applied.text);
    let mut driver = Driver::start().await;
    let c = driver.browser().await;
    c.goto(&console.url).await.unwrap();
    until(
        &c,
        "document.getElementById('count').textContent.includes('100009 of 100009 routes')",
    )
    .await;
    assert_eq!(
        until(&c, "document.querySelectorAll('#routes tbody tr').length").await,
        json!(50)
    );
    let first_page =
        "[...document.querySelectorAll('#routes tbody button.link')].map(b => b.textContent)";
    let page1 = until(&c, first_page).await;
    click(&c, "#next").await;
    until(
        &c,
        "document.getElementById('page').textContent.startsWith('Page 2')",
    )
    .await;
    let page2 = until(&c, &format!("(() => {{ const k = {first_page}; return k.length === 50 && k[0] !== {page1} [0] && k; }})()")).await;
    let (last1, first2) = (page1[49].as_str().unwrap(), page2[0].as_str().unwrap());
    assert!(
        last1 < first2,
        "{last1} then {first2}: pages follow in key order"
    );
    click(&c, "#prev").await;
    until(&c, &format!("{first_page}[0] === {}", page1[0])).await;
    // A filter over every route, answered by the server.
    let started = std::time::Instant::now();
    fill(&c, "#f-text", "bulk 99999").await;
    until(&c, "document.querySelectorAll('#routes tbody button.link').length === 1 && document.querySelector('#routes tbody button.link').textContent === '+12120099999'").await;
    eprintln!(
        "filtering 100,009 routes took {:?} (debug build, with the page's 150 ms pause)",
        started.elapsed()
    );
    until(
        &c,
        "document.getElementById('count').textContent.includes('1 of 100009 routes')",
    )
    .await;
    no_errors(&c).await;
    c.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver: run by infra/test.sh"]
async fn the_console_in_a_real_browser_on_dynamodb() {
    let dynamo = byoc_e2e::Dynamo::shared();
    let mut env = dynamo.env();
    env.push(("ROUTES_TABLE".into(), byoc_e2e::unique_table("browser")));
    env.push(("BYOC_ACTOR".into(), "browser-test".into()));
    assert_eq!(byoc_e2e::byoc(&["table", "create"], &env).code, 0);
    let example = root()
        .join("infra/routes.example.json")
        .display()
        .to_string();
    assert_eq!(
        byoc_e2e::byoc(&["routes", "import", &example], &env).code,
        0
    );
    let console = ConsoleProc::start(&[], &env).await;
    let dir = tempfile::tempdir().unwrap();
    use_the_console(&console, dir.path(), false).await;
}

/// The whole tour, on whatever store `console` has; `screenshots` on one of them.
async fn use_the_console(console: &ConsoleProc, dir: &std::path::Path, screenshots: bool) {
    let shoot = |c: &Client, name: &'static str| {
        let c = c.clone();
        async move {
            if screenshots {
                screenshot(&c, name).await;
            }
        }
    };
    let mut driver = Driver::start().await;
    let a = driver.browser().await;
    a.goto(&console.url).await.unwrap();
    // The token left the address bar; the routes are listed in the matcher's order.
    until(
        &a,
        "document.querySelectorAll('#routes tbody button.link').length >= 3",
    )
    .await;
    assert!(!a.current_url().await.unwrap().as_str().contains("token"));
    let count = until(&a, "document.getElementById('count').textContent").await;
    assert!(count.as_str().unwrap().contains("routes"), "{count}");
    shoot(&a, "routes").await;

    // Filter.
    fill(&a, "#f-text", "indianapolis").await;
    until(
        &a,
        "document.querySelectorAll('#routes tbody button.link').length === 1",
    )
    .await;
    fill(&a, "#f-text", "").await;

    // Create through the form: a field error next to its field, fixed, saved, listed.
    click(&a, "#new-route").await;
    until(&a, "document.getElementById('editor').open").await;
    fill(&a, "#e-f-pattern", "+1999777*").await;
    fill(&a, "#e-f-url", "not a url").await;
    fill(&a, "#e-f-description", "from the browser").await;
    click(&a, "#e-save").await;
    let error = until(&a, "document.getElementById('e-f-url-error').textContent").await;
    assert!(error.as_str().unwrap().contains("url"), "{error}");
    assert_eq!(
        a.find(Locator::Css("#e-f-url"))
            .await
            .unwrap()
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    shoot(&a, "edit-error").await;
    // Saved over plain http: saved, with the linter's warning said on save and on its row.
    fill(&a, "#e-f-url", "http://example.com/new").await;
    click(&a, "#e-save").await;
    until(&a, "!document.getElementById('editor').open").await;
    let said = until(&a, "document.getElementById('count').textContent.includes('Warning: plain_http') && document.getElementById('count').textContent").await;
    assert!(said.as_str().unwrap().contains("Saved +1999777*"), "{said}");
    fill(&a, "#f-prefix", "+1999777").await;
    until(&a, "[...document.querySelectorAll('#routes tbody button.link')].some(b => b.textContent === '+1999777*')").await;
    until(&a, "[...document.querySelectorAll('#routes tbody .warning[role=note]')].some(w => w.textContent.includes('plain http'))").await;
    shoot(&a, "lint-warning").await;
    no_errors(&a).await;

    // Two tabs edit the same route: the second save shows both versions; overwrite knowingly.
    let b = driver.browser().await;
    b.goto(&console.url).await.unwrap();
    until(
        &b,
        "document.querySelectorAll('#routes tbody button.link').length >= 3",
    )
    .await;
    open_route(&a, "+1999777*").await;
    open_route(&b, "+1999777*").await;
    fill(&a, "#e-f-description", "edited in tab A").await;
    click(&a, "#e-save").await;
    until(&a, "!document.getElementById('editor').open").await;
    fill(&b, "#e-f-description", "edited in tab B").await;
    click(&b, "#e-save").await;
    until(&b, "!document.getElementById('e-conflict').hidden").await;
    let theirs = until(&b, "document.getElementById('e-theirs').textContent").await;
    assert!(
        theirs.as_str().unwrap().contains("edited in tab A"),
        "{theirs}"
    );
    shoot(&b, "conflict").await;
    click(&b, "#e-overwrite").await;
    until(&b, "!document.getElementById('editor').open").await;
    let stored = console.get("/api/route?key=%2B1999777*").await;
    assert_eq!(stored.json["route"]["description"], "edited in tab B");
    assert_eq!(stored.json["route"]["version"], 3);
    no_errors(&b).await;

    // Test a call and read the TwiML.
    click(&a, "[data-view=test]").await;
    fill(&a, "#t-number", "sip:+13175551234@example.sip.twilio.com").await;
    fill(&a, "#t-at", "").await;
    click(&a, "#test-form button[type=submit]").await;
    let result = until(&a, "document.getElementById('t-result').textContent").await;
    let result = result.as_str().unwrap();
    assert!(
        result.contains("matched") && result.contains(FLOW_URL),
        "{result}"
    );
    shoot(&a, "test-a-call").await;
    // The same test for a UK home: a national number, read as dialled in GB.
    a.execute(
        "document.getElementById('t-result').textContent = '';",
        vec![],
    )
    .await
    .unwrap();
    fill(&a, "#t-number", "sip:07700900123@carrier.example").await;
    fill(&a, "#t-country", "GB").await;
    click(&a, "#test-form button[type=submit]").await;
    let uk = until(&a, "document.getElementById('t-result').textContent").await;
    let uk = uk.as_str().unwrap();
    assert!(
        uk.contains("GB (+44)") && uk.contains("+447700900123"),
        "{uk}"
    );
    fill(&a, "#t-country", "").await;

    // Import a CSV: the difference first, then apply.
    let csv = dir.join("more.csv");
    std::fs::write(
        &csv,
        "pattern,action,url\n+1888777*,redirect,https://example.com/csv\n",
    )
    .unwrap();
    click(&a, "[data-view=import]").await;
    a.find(Locator::Css("#i-file"))
        .await
        .unwrap()
        .send_keys(&csv.display().to_string())
        .await
        .unwrap();
    click(&a, "#import-form button[type=submit]").await;
    until(&a, "document.getElementById('i-apply')").await;
    let diff = until(&a, "document.getElementById('i-result').textContent").await;
    assert!(diff.as_str().unwrap().contains("1 added"), "{diff}");
    shoot(&a, "import").await;
    click(&a, "#i-apply").await;
    until(
        &a,
        "document.getElementById('i-result').textContent.includes('1 change(s) written')",
    )
    .await;
    assert_eq!(console.get("/api/route?key=%2B1888777*").await.status, 200);
    no_errors(&a).await;

    // Phone width: still usable.
    a.set_window_size(390, 844).await.unwrap();
    click(&a, "[data-view=routes]").await;
    until(
        &a,
        "document.querySelectorAll('#routes tbody tr').length >= 1",
    )
    .await;
    no_errors(&a).await;

    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver: run by infra/test.sh"]
async fn the_calls_tab_in_a_real_browser() {
    let (dir, routes) = example_file();
    let (log, _) = crate::calls::serve_log(dir.path()).await;
    let console = ConsoleProc::start(
        &["--routes", &routes, "--calls", &log.display().to_string()],
        &[("BYOC_ACTOR".into(), "browser-test".into())],
    )
    .await;
    let mut driver = Driver::start().await;
    let c = driver.browser().await;
    c.goto(&console.url).await.unwrap();
    until(
        &c,
        "document.querySelectorAll('#routes tbody button.link').length >= 3",
    )
    .await;
    click(&c, "[data-view=calls]").await;
    let totals = until(&c, "document.getElementById('c-totals').textContent.includes('inbound calls') && document.getElementById('c-totals').textContent").await;
    assert!(
        totals.as_str().unwrap().contains("6 inbound calls"),
        "{totals}"
    );
    assert!(
        totals.as_str().unwrap().contains("2 unreadable"),
        "{totals}"
    );
    // Calls per route, the number that fell through most, the recent calls.
    let routes = until(&c, "document.querySelector('#c-routes tbody').textContent").await;
    assert!(routes.as_str().unwrap().contains("+1317555*"), "{routes}");
    let first = until(
        &c,
        "document.querySelector('#c-numbers tbody tr td').textContent",
    )
    .await;
    assert_eq!(first, json!("+16505550000"));
    assert_eq!(
        until(&c, "document.querySelectorAll('#c-recent tbody tr').length").await,
        json!(9)
    );
    screenshot(&c, "calls").await;

    // One call's lines, in order.
    let call = crate::calls::sid(1);
    click(
        &c,
        &format!("#c-recent button[aria-label='Every line of call {call}']"),
    )
    .await;
    until(&c, "!document.getElementById('c-detail').hidden").await;
    let lines = until(&c, "[...document.querySelectorAll('#c-lines tbody tr')].map(r => r.children[1].textContent).join(',')").await;
    assert_eq!(lines, json!("inbound,inbound_status"));

    // A fall-through number becomes a route: the editor opens on it, saving adds it.
    click(
        &c,
        "#c-numbers button[aria-label='Create a route for +16505550000']",
    )
    .await;
    until(&c, "document.getElementById('editor').open").await;
    let pattern = until(&c, "document.getElementById('e-f-pattern').value").await;
    assert_eq!(pattern, json!("+16505550000"));
    fill(&c, "#e-f-url", "https://example.com/sales").await;
    click(&c, "#e-save").await;
    until(&c, "!document.getElementById('editor').open").await;
    assert_eq!(
        console.get("/api/route?key=%2B16505550000").await.status,
        200
    );

    // A narrower window and a number.
    fill(&c, "#c-number", "+13175551234").await;
    click(&c, "#calls-form button[type=submit]").await;
    until(
        &c,
        "document.querySelectorAll('#c-recent tbody tr').length === 2",
    )
    .await;
    no_errors(&c).await;
    c.close().await.unwrap();
}
