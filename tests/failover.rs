//! A whole region going down, as Twilio sees it: two `byoc serve --table` "regions", each on
//! its own DynamoDB-API server holding the same routes, behind a simulator of Twilio's webhook
//! requests (voice URL, then the voice fallback URL on a connection failure, timeout or 5xx).
//! Mid-run the primary's gateway answers 503 for a while (as API Gateway does for a throttled or
//! failing function), then the primary hangs, then dies with its store; every call must still
//! get its route.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use byoc_e2e::twilio_sim::{Answered, Simulator};
use byoc_e2e::twiml::{find, parse};
use byoc_e2e::{unique_table, Dynamo, Serve};

const TOKEN: &str = "failover-test-token";
const FLOW_URL: &str = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";
const FUNCTION_URL: &str = "https://example-1234.twil.io/indianapolis?team=support&lang=en";
const BIN_URL: &str = "https://handler.twilio.com/twiml/EH00000000000000000000000000000000";

/// A stand-in for region A's API Gateway: forwards each request to the function (`byoc serve`,
/// whose URL is set once it runs), or answers 503 while `failing` is set. Returns its base URL.
async fn gateway(
    failing: Arc<AtomicBool>,
) -> (
    String,
    Arc<std::sync::OnceLock<String>>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    use axum::http::{HeaderMap, StatusCode, Uri};
    let target = Arc::new(std::sync::OnceLock::<String>::new());
    let client = reqwest::Client::new();
    let upstream = target.clone();
    let json = |status: StatusCode, body: &str| {
        (
            status,
            [("content-type", "application/json".to_string())],
            body.to_string(),
        )
    };
    let app = axum::Router::new().fallback(
        move |uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
            let (failing, upstream, client) = (failing.clone(), upstream.clone(), client.clone());
            async move {
                if failing.load(Ordering::SeqCst) {
                    return json(
                        StatusCode::SERVICE_UNAVAILABLE,
                        r#"{"message":"Service Unavailable"}"#,
                    );
                }
                let mut request = client.post(format!("{}{}", upstream.get().unwrap(), uri.path()));
                for name in ["content-type", "x-twilio-signature"] {
                    if let Some(v) = headers.get(name) {
                        request = request.header(name, v.as_bytes());
                    }
                }
                match request.body(body).send().await {
                    Ok(r) => {
                        let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
                        let kind = r
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        (
                            status,
                            [("content-type", kind)],
                            r.text().await.unwrap_or_default(),
                        )
                    }
                    // The function is gone: what API Gateway answers.
                    Err(_) => json(
                        StatusCode::BAD_GATEWAY,
                        r#"{"message":"Internal Server Error"}"#,
                    ),
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    (base, target, server)
}

/// One region: a DynamoDB-API server with the example routes, and `byoc serve` on its table
/// (checking signatures against `public`, the URL Twilio calls, when it is behind a gateway).
async fn region(table: &str, public: Option<&str>) -> (Dynamo, Serve) {
    let dynamo = Dynamo::start();
    dynamo.example_table(table, "us-east-1");
    let table_arg = format!("--table={table}");
    let env = dynamo.env();
    let mut serve_env: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    serve_env.push(("TWILIO_AUTH_TOKEN", TOKEN));
    serve_env.push(("STORE_TIMEOUT_MS", "300"));
    if let Some(public) = public {
        serve_env.push(("PUBLIC_BASE_URL", public));
    }
    let serve = Serve::start(&[&table_arg], &serve_env).await;
    (dynamo, serve)
}

/// A check of the TwiML a call got.
type Check = fn(&str);

/// The called numbers of the run, each with a check of the TwiML its route gives.
fn calls() -> Vec<(&'static str, Check)> {
    vec![
        ("sip:+13175551234@example.sip.twilio.com;user=phone", |t| {
            assert_eq!(find(&parse(t), "Response/Redirect").text, FLOW_URL, "{t}")
        }),
        ("sip:+13175559999@example.sip.twilio.com", |t| {
            assert_eq!(
                find(&parse(t), "Response/Redirect").text,
                FUNCTION_URL,
                "{t}"
            )
        }),
        ("+13175550100", |t| {
            let doc = parse(t);
            let number = find(&doc, "Response/Dial/Number");
            assert_eq!(number.text, "+13175550199", "{t}");
            assert_eq!(
                number.attr("byoc"),
                Some("BY00000000000000000000000000000000"),
                "{t}"
            );
        }),
        ("sip:+442071234567@example.sip.twilio.com", |t| {
            assert!(
                find(&parse(t), "Response/Say").text.contains("UK office"),
                "{t}"
            )
        }),
        ("+16155550000", |t| {
            assert_eq!(find(&parse(t), "Response/Redirect").text, BIN_URL, "{t}")
        }),
    ]
}

#[tokio::test]
async fn a_region_that_hangs_then_dies_loses_no_call() {
    const WORKERS: usize = 8;
    const CALLS_PER_WORKER: usize = 150;
    // When the primary's gateway answers 503 and stops doing so, when the primary hangs
    // (SIGSTOP: calls time out) and when it dies with its store.
    const ERRORS_FROM: usize = 150;
    const ERRORS_TO: usize = 230;
    const HANG_AT: usize = 300;
    const KILL_AT: usize = 340;
    const TIMEOUT: Duration = Duration::from_millis(500);

    let table = unique_table("failover");
    let failing = Arc::new(AtomicBool::new(false));
    let (gateway_url, upstream, gateway_server) = gateway(failing.clone()).await;
    let (mut primary_store, primary) = region(&table, Some(&gateway_url)).await;
    upstream.set(primary.base_url.clone()).unwrap();
    let (_secondary_store, secondary) = region(&table, None).await;
    let sim = Arc::new(Simulator::new(
        TOKEN,
        &format!("{gateway_url}/inbound"),
        &secondary.url("/inbound/fallback"),
        TIMEOUT,
    ));
    let placed = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let (sim, placed) = (sim.clone(), placed.clone());
        workers.push(tokio::spawn(async move {
            let calls = calls();
            let mut answers = Vec::new();
            for i in 0..CALLS_PER_WORKER {
                let (to, check) = calls[(worker + i) % calls.len()];
                let sid = format!("CA{worker:02}{i:030}");
                let params = [
                    ("CallSid", sid.as_str()),
                    ("AccountSid", "AC00000000000000000000000000000000"),
                    ("From", "+13175550123"),
                    ("To", to),
                    ("SipDomain", "example.sip.twilio.com"),
                ];
                let answer = sim.call(&params).await.unwrap_or_else(|e| {
                    panic!("call {sid} to {to} got no TwiML: {e}");
                });
                check(&answer.twiml);
                placed.fetch_add(1, Ordering::SeqCst);
                answers.push(answer);
            }
            answers
        }));
    }

    let started = Instant::now();
    // A worker that failed a call stops placing them: give up waiting rather than hang.
    let wait_for = |n: usize| {
        let placed = placed.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while placed.load(Ordering::SeqCst) < n {
                assert!(
                    Instant::now() < deadline,
                    "only {} calls placed of the {n} awaited (a worker failed a call?)",
                    placed.load(Ordering::SeqCst)
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    wait_for(ERRORS_FROM).await;
    failing.store(true, Ordering::SeqCst);
    wait_for(ERRORS_TO).await;
    failing.store(false, Ordering::SeqCst);
    wait_for(HANG_AT).await;
    primary.signal("STOP");
    let hung_at = started.elapsed();
    wait_for(KILL_AT).await;
    // The whole region: the function, its store and its gateway (connections refused).
    primary.signal("KILL");
    gateway_server.abort();
    // Off the test's one runtime thread: stopping the server waits for its JVM, and a blocked
    // runtime would let the callers' 500 ms timeouts run out on the healthy fallback region
    // too (a CI run lost a call that way).
    let _primary_store = tokio::task::spawn_blocking(move || {
        primary_store.stop();
        primary_store
    })
    .await
    .expect("stop the primary's store");
    let killed_at = started.elapsed();

    let mut answers = Vec::new();
    for worker in workers {
        answers.extend(worker.await.expect("a worker failed a call"));
    }
    let total = answers.len();
    assert_eq!(total, WORKERS * CALLS_PER_WORKER);
    let by_primary: Vec<_> = answers.iter().filter(|a| a.by == Answered::Voice).collect();
    let by_fallback: Vec<_> = answers
        .iter()
        .filter(|a| a.by == Answered::Fallback)
        .collect();
    // Back on the primary once its errors stopped, and nowhere else until it failed.
    let expected_primary = ERRORS_FROM + (HANG_AT - ERRORS_TO) - 2 * WORKERS;
    assert!(by_primary.len() >= expected_primary, "{}", by_primary.len());
    assert!(
        by_fallback.len() >= total - KILL_AT - WORKERS,
        "{}",
        by_fallback.len()
    );
    let after_5xx = by_fallback
        .iter()
        .filter(|a| a.error_code == Some(byoc_e2e::twilio_sim::HTTP_RETRIEVAL_FAILURE))
        .count();
    assert!(
        after_5xx >= ERRORS_TO - ERRORS_FROM - WORKERS,
        "{after_5xx}"
    );
    let timeouts = by_fallback.iter().filter(|a| a.elapsed >= TIMEOUT).count();

    let mut primary_ms: Vec<Duration> = by_primary.iter().map(|a| a.elapsed).collect();
    primary_ms.sort();
    let median = primary_ms[primary_ms.len() / 2];
    let worst = by_fallback.iter().map(|a| a.elapsed).max().unwrap();
    let mut fallback_ms: Vec<Duration> = by_fallback.iter().map(|a| a.elapsed).collect();
    fallback_ms.sort();
    let fallback_median = fallback_ms[fallback_ms.len() / 2];
    // A hung primary costs a caller the timeout, no more: the simulator gives the fallback
    // request the same timeout as Twilio does, so a fallback that did not answer at once would
    // have failed its call above.
    eprintln!("worst call {worst:?} (timeout {TIMEOUT:?} per request)");

    // The fallback region logged what it served, and why.
    let line = secondary
        .stderr
        .wait_for("endpoint=\"inbound_fallback\"", Duration::from_secs(5))
        .await
        .expect("fallback call line");
    assert!(line.contains("error_code=\"11200\""), "{line}");
    assert!(secondary
        .stderr
        .wait_for("error_code=\"11205\"", Duration::from_secs(5))
        .await
        .is_some());
    assert!(line.contains("outcome=\"matched\""), "{line}");

    eprintln!(
        "failover: {total} calls in {:.1} s ({WORKERS} concurrent; the primary's gateway answered 503 from call \
         {ERRORS_FROM} to {ERRORS_TO}, the primary hung at {:.2} s, \
         killed with its store at {:.2} s; Twilio timeout simulated as {} ms): \
         primary answered {}, fallback region answered {} ({} after a 5xx, {} after a timeout, \
         the rest after a refused connection), lost 0; median call {:.1} ms on the primary, {:.1} ms through the fallback; \
         worst added latency {:.1} ms",
        started.elapsed().as_secs_f64(),
        hung_at.as_secs_f64(),
        killed_at.as_secs_f64(),
        TIMEOUT.as_millis(),
        by_primary.len(),
        by_fallback.len(),
        after_5xx,
        timeouts,
        median.as_secs_f64() * 1e3,
        fallback_median.as_secs_f64() * 1e3,
        (worst.saturating_sub(median)).as_secs_f64() * 1e3,
    );
}
