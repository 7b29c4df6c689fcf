//! A region whose table fails reads the replica. Two DynamoDB Local servers stand for the two
//! regions of a global table (the same table name and routes in each); the call path (`byoc
//! serve --table` under load, and the real inbound Lambda binary) runs on the "home" one with
//! `ROUTES_REPLICA_REGION` and `DYNAMODB_REPLICA_ENDPOINT_URL` on the other. The home server is
//! hung (SIGSTOP), thawed, then killed: routes that exist in the replica get no degraded answer.
//! Then the replica dies too, and the answers degrade (the test can fail).

use std::sync::Arc;
use std::time::{Duration, Instant};

use byoc_e2e::twiml::{find, parse};
use byoc_e2e::{event, signed_post, unique_table, Dynamo, Lambda, Serve, EVENTS_TOKEN};

const TOKEN: &str = "replica-test-token";
const FLOW_URL: &str = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";
/// The per-attempt budget of each store (home, then replica).
const BUDGET_MS: &str = "300";

/// A server with the example routes in `table`, in `region`.
fn region_with_routes(table: &str, region: &str) -> Dynamo {
    let dynamo = Dynamo::start();
    dynamo.example_table(table, region);
    dynamo
}

/// The environment of a call path on `home` reading `replica` when home fails.
fn env_with_replica(home: &Dynamo, replica: &Dynamo, table: &str) -> Vec<(String, String)> {
    let mut env = home.env();
    env.extend([
        ("ROUTES_TABLE".to_string(), table.to_string()),
        ("ROUTES_REPLICA_REGION".into(), "us-west-2".into()),
        ("DYNAMODB_REPLICA_ENDPOINT_URL".into(), replica.endpoint()),
        ("STORE_TIMEOUT_MS".into(), BUDGET_MS.into()),
        // Every call asks the store: the path under test, not the cache.
        ("ROUTE_CACHE_TTL_SECONDS".into(), "0".into()),
    ]);
    env
}

/// Called numbers of the example routes, each with the route's key.
const CALLS: &[(&str, &str)] = &[
    (
        "sip:+13175551234@example.sip.twilio.com;user=phone",
        "+13175551234",
    ),
    ("sip:+13175559999@example.sip.twilio.com", "+13175559999"),
    ("+13175550100", "+13175550100"),
    ("sip:+442071234567@example.sip.twilio.com", "+44*"),
    ("+16155550000", "+1615*"),
];

/// What a phase of calls got.
#[derive(Default)]
struct Phase {
    outcomes: std::collections::BTreeMap<String, usize>,
    latencies_ms: Vec<f64>,
}

impl Phase {
    fn count(&self, outcome: &str) -> usize {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    fn report(&mut self, name: &str) {
        self.latencies_ms.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((self.latencies_ms.len() as f64 - 1.0) * q).round() as usize;
            self.latencies_ms[i]
        };
        eprintln!(
            "replica: {name}: {} calls, outcomes {:?}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.latencies_ms.len(),
            self.outcomes,
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}

/// `calls` signed calls to serve's /inbound from `workers` concurrent callers; each answer must be
/// TwiML of a 200 (every call is answered, whatever the stores do).
async fn load(serve: &Serve, workers: usize, calls: usize) -> Phase {
    let url = serve.url("/inbound");
    let client = reqwest::Client::new();
    let phase = Arc::new(std::sync::Mutex::new(Phase::default()));
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let (url, client, phase) = (url.clone(), client.clone(), phase.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..calls / workers {
                let (to, _) = CALLS[(worker + i) % CALLS.len()];
                let sid = format!("CA{worker:02}{i:030}");
                let pairs = [
                    ("CallSid", sid.as_str()),
                    ("AccountSid", "AC00000000000000000000000000000000"),
                    ("From", "+13175550123"),
                    ("To", to),
                ];
                let started = Instant::now();
                let r = signed_post(&client, TOKEN, &url, &pairs)
                    .send()
                    .await
                    .expect("serve answers");
                let elapsed = started.elapsed().as_secs_f64() * 1000.0;
                assert_eq!(r.status(), 200, "{to}");
                let outcome = r.headers()["x-byoc-outcome"].to_str().unwrap().to_string();
                let body = r.text().await.unwrap();
                parse(&body);
                let mut phase = phase.lock().unwrap();
                *phase.outcomes.entry(outcome).or_default() += 1;
                phase.latencies_ms.push(elapsed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("a caller failed");
    }
    Arc::try_unwrap(phase)
        .ok()
        .expect("callers done")
        .into_inner()
        .unwrap()
}

#[tokio::test]
async fn a_table_that_hangs_or_dies_is_read_from_its_replica_under_load() {
    const WORKERS: usize = 8;
    const CALLS: usize = 400;
    let table = unique_table("replica");
    let mut home = region_with_routes(&table, "us-east-1");
    let mut replica = region_with_routes(&table, "us-west-2");
    let env = env_with_replica(&home, &replica, &table);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let serve = Serve::start(&[], &[&env[..], &[("TWILIO_AUTH_TOKEN", TOKEN)]].concat()).await;

    let mut healthy = load(&serve, WORKERS, CALLS).await;
    healthy.report("both up");
    assert_eq!(healthy.count("matched"), CALLS, "{:?}", healthy.outcomes);

    // Hung: connections open, nothing answers. Each key waits out one budget at most, then
    // the replica; in the home table's back-off the replica is asked straight away.
    home.pause();
    let mut hung = load(&serve, WORKERS, CALLS).await;
    hung.report("home hung (SIGSTOP)");
    home.resume();
    assert_eq!(hung.count("degraded"), 0, "{:?}", hung.outcomes);
    assert_eq!(hung.count("matched"), CALLS, "{:?}", hung.outcomes);

    // Killed: connections refused.
    home.stop();
    let mut killed = load(&serve, WORKERS, CALLS).await;
    killed.report("home killed");
    assert_eq!(killed.count("degraded"), 0, "{:?}", killed.outcomes);
    assert_eq!(killed.count("matched"), CALLS, "{:?}", killed.outcomes);

    // Both gone: degraded answers (still answered), which the phases above never got.
    replica.stop();
    let mut both = load(&serve, WORKERS, 40).await;
    both.report("both down");
    assert_eq!(both.count("degraded"), 40, "{:?}", both.outcomes);
}

#[tokio::test]
async fn the_inbound_lambda_reads_the_replica_and_says_so() {
    let table = unique_table("replica-lambda");
    let mut home = region_with_routes(&table, "us-east-1");
    let replica = region_with_routes(&table, "us-west-2");
    let env = env_with_replica(&home, &replica, &table);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(("TWILIO_AUTH_TOKEN", EVENTS_TOKEN));
    // A home outside +1: the replica read does not depend on the number plan.
    env.push(("DEFAULT_COUNTRY_CODE", "44"));
    let mut lambda = Lambda::start("inbound", &env).await;
    let ready = lambda
        .stderr
        .wait_for("inbound ready", Duration::from_secs(20))
        .await
        .expect("ready line");
    assert!(ready.contains("in us-west-2"), "{ready}");

    home.stop();
    let r = lambda.invoke(&event("inbound.json")).await.proxy();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-byoc-outcome"], "matched");
    assert_eq!(find(&parse(&r.body), "Response/Redirect").text, FLOW_URL);
    let line = lambda
        .stderr
        .wait_for("\"call answered\"", Duration::from_secs(5))
        .await
        .expect("a call line");
    let line: serde_json::Value = serde_json::from_str(&line).expect("JSON call line");
    assert_eq!(line["source"], "replica", "{line}");
    assert_eq!(line["reason"], "", "not degraded: {line}");

    // A replica setting that cannot work stops the function at init, named.
    let mut bad = env.clone();
    bad.retain(|(k, _)| *k != "DYNAMODB_REPLICA_ENDPOINT_URL");
    bad.retain(|(k, _)| *k != "ROUTES_REPLICA_REGION");
    bad.push(("ROUTES_REPLICA_REGION", "us-east-1"));
    let mut broken = Lambda::start("inbound", &bad).await;
    let status = broken
        .wait_exit(Duration::from_secs(20))
        .await
        .expect("exits");
    assert!(!status.success());
    let stderr = broken.stderr.text();
    assert!(
        stderr.contains("ROUTES_REPLICA_REGION is this function's own region (us-east-1)"),
        "{stderr}"
    );
}
