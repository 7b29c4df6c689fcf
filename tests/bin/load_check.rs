//! Sends N signed inbound calls at concurrency C and checks every answer: status 200 and TwiML
//! that parses with a `<Response>` root. Prints errors by kind, outcomes, throughput, latency and
//! a per-second timeline (so a store outage shows up as `degraded` seconds, not as errors).
//!
//! ```text
//! load-check serve  URL      [--requests N] [--concurrency C] [--numbers FILE]
//! load-check lambda INSTANCES [--requests N] [--numbers FILE] [--env K=V ...]
//! ```
//! `serve` posts to `URL/inbound` (a running `byoc serve`); `lambda` starts INSTANCES copies of
//! the real inbound binary, each on its own Runtime API emulator (as Lambda runs one event at a
//! time per instance), and sends API Gateway events. Signing uses `TWILIO_AUTH_TOKEN` and, for
//! `serve`, `PUBLIC_BASE_URL` if set. Exit status 1 if any request failed.
//! Used by infra/bench/faults.sh.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use byoc_core::params::Params;
use byoc_core::signature::sign;
use byoc_e2e::emulator::{Emulator, Outcome, INVOKE_TIMEOUT};
use byoc_e2e::{binary, form, http_api_event};
use quick_xml::events::Event;
use quick_xml::Reader;

const GATEWAY: &str = "https://abc123xyz0.execute-api.us-east-1.amazonaws.com";

struct Args {
    mode: String,
    target: String,
    requests: usize,
    concurrency: usize,
    numbers: Vec<String>,
    env: Vec<(String, String)>,
}

fn parse_args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .context("usage: load-check serve URL | lambda INSTANCES [...]")?;
    let target = it.next().context("missing URL or INSTANCES")?;
    let mut args = Args {
        mode,
        target,
        requests: 100_000,
        concurrency: 64,
        numbers: Vec::new(),
        env: Vec::new(),
    };
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--requests" => args.requests = value.parse().context("--requests")?,
            "--concurrency" => args.concurrency = value.parse().context("--concurrency")?,
            "--numbers" => {
                let text = std::fs::read_to_string(&value).with_context(|| value.clone())?;
                args.numbers = text.split_whitespace().map(str::to_string).collect();
            }
            "--env" => {
                let (k, v) = value.split_once('=').context("--env K=V")?;
                args.env.push((k.to_string(), v.to_string()));
            }
            other => bail!("unknown option {other}"),
        }
    }
    if args.numbers.is_empty() {
        args.numbers = vec!["+13175551234".to_string()];
    }
    Ok(args)
}

/// The form body of call `i`.
fn call_form(i: usize, numbers: &[String]) -> Vec<(String, String)> {
    let to = format!(
        "sip:{}@example.sip.twilio.com;user=phone",
        numbers[i % numbers.len()]
    );
    vec![
        ("AccountSid".into(), format!("AC{}", "0".repeat(32))),
        ("CallSid".into(), format!("CA{i:032x}")),
        ("CallStatus".into(), "ringing".into()),
        ("Direction".into(), "inbound".into()),
        ("From".into(), "sip:+13175550123@198.51.100.7".into()),
        ("To".into(), to.clone()),
        ("Called".into(), to),
    ]
}

fn encode(pairs: &[(String, String)]) -> String {
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form(&refs)
}

fn signature(token: &str, url: &str, pairs: &[(String, String)]) -> String {
    let params: Params = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sign(token, url, &params)
}

/// Why an answer is not acceptable, if it is not.
fn check(status: u16, body: &str) -> Option<String> {
    if status != 200 {
        return Some(format!("status {status}"));
    }
    let mut reader = Reader::from_str(body);
    let mut root = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if root.is_none() => {
                root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Some(format!("malformed XML: {e}")),
        }
    }
    match root.as_deref() {
        Some("Response") => None,
        other => Some(format!("root element {other:?}")),
    }
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    outcomes: BTreeMap<String, usize>,
    errors: BTreeMap<String, usize>,
    /// Per second since start: (answers, degraded, errors).
    timeline: BTreeMap<u64, (usize, usize, usize)>,
}

impl Tally {
    fn record(&mut self, start: Instant, took: Duration, outcome: &str, error: Option<String>) {
        self.latencies.push(took);
        let second = start.elapsed().as_secs();
        let slot = self.timeline.entry(second).or_default();
        slot.0 += 1;
        match error {
            Some(e) => {
                slot.2 += 1;
                *self.errors.entry(e).or_default() += 1;
            }
            None => {
                if outcome == "degraded" {
                    slot.1 += 1;
                }
                *self.outcomes.entry(outcome.to_string()).or_default() += 1;
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, (a, d, e)) in other.timeline {
            let slot = self.timeline.entry(k).or_default();
            slot.0 += a;
            slot.1 += d;
            slot.2 += e;
        }
    }
}

/// Waits for every worker and adds up what they saw.
async fn join(workers: Vec<tokio::task::JoinHandle<Tally>>) -> Result<Tally> {
    let mut tally = Tally::default();
    for w in workers {
        tally.merge(w.await?);
    }
    Ok(tally)
}

async fn run_serve(args: &Args, token: &str, start: Instant) -> Result<Tally> {
    let base = args.target.trim_end_matches('/').to_string();
    let signed_base = std::env::var("PUBLIC_BASE_URL").unwrap_or_else(|_| base.clone());
    let url = format!("{base}/inbound");
    let signed_url = format!("{}/inbound", signed_base.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let numbers = Arc::new(args.numbers.clone());
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, next, numbers) = (client.clone(), next.clone(), numbers.clone());
        let (url, signed_url, token) = (url.clone(), signed_url.clone(), token.to_string());
        let total = args.requests;
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let pairs = call_form(i, &numbers);
                let sent = Instant::now();
                let result = client
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", signature(&token, &signed_url, &pairs))
                    .body(encode(&pairs))
                    .send()
                    .await;
                let (outcome, error) = match result {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let outcome = response
                            .headers()
                            .get("x-byoc-outcome")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        match response.text().await {
                            Ok(body) => (outcome, check(status, &body)),
                            Err(e) => (outcome, Some(format!("reading the body: {e}"))),
                        }
                    }
                    Err(e) => (String::new(), Some(format!("connection: {e}"))),
                };
                tally.record(start, sent.elapsed(), &outcome, error);
            }
            tally
        }));
    }
    join(workers).await
}

async fn run_lambda(args: &Args, token: &str, start: Instant) -> Result<Tally> {
    let instances: usize = args.target.parse().context("INSTANCES must be a number")?;
    let inbound = binary("inbound");
    let next = Arc::new(AtomicUsize::new(0));
    let numbers = Arc::new(args.numbers.clone());
    let mut workers = Vec::new();
    for n in 0..instances {
        let emulator = Emulator::start().await;
        let api = emulator.runtime_api();
        let mut cmd = tokio::process::Command::new(&inbound);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "inbound")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .env("TWILIO_AUTH_TOKEN", token)
            .envs(args.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let child = cmd.spawn().with_context(|| format!("start inbound #{n}"))?;
        let (next, numbers, token) = (next.clone(), numbers.clone(), token.to_string());
        let total = args.requests;
        workers.push(tokio::spawn(async move {
            let _child = child;
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let pairs = call_form(i, &numbers);
                let sig = signature(&token, &format!("{GATEWAY}/inbound"), &pairs);
                let body = encode(&pairs);
                let event = http_api_event(
                    "POST",
                    "/inbound",
                    "",
                    Some(("application/x-www-form-urlencoded", body.as_bytes())),
                    &[("x-twilio-signature", &sig)],
                );
                let sent = Instant::now();
                let (outcome, error) = match emulator.invoke(&event, INVOKE_TIMEOUT).await {
                    Ok(Outcome::Response(v)) => {
                        let status = v["statusCode"].as_u64().unwrap_or(0) as u16;
                        let outcome = v["headers"]["x-byoc-outcome"]
                            .as_str()
                            .unwrap_or("")
                            .to_string();
                        let body = v["body"].as_str().unwrap_or("");
                        (outcome, check(status, body))
                    }
                    Ok(Outcome::Error(e)) => (String::new(), Some(format!("function error: {e}"))),
                    Err(e) => (String::new(), Some(format!("invoke: {e}"))),
                };
                tally.record(start, sent.elapsed(), &outcome, error);
            }
            tally
        }));
    }
    join(workers).await
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let token = std::env::var("TWILIO_AUTH_TOKEN").context("set TWILIO_AUTH_TOKEN")?;
    let start = Instant::now();
    let mut tally = match args.mode.as_str() {
        "serve" => run_serve(&args, &token, start).await?,
        "lambda" => run_lambda(&args, &token, start).await?,
        other => bail!("unknown mode {other}: serve or lambda"),
    };
    let elapsed = start.elapsed();
    tally.latencies.sort();
    let pct = |p: f64| {
        let l = &tally.latencies;
        if l.is_empty() {
            Duration::ZERO
        } else {
            l[((l.len() - 1) as f64 * p).round() as usize]
        }
    };
    let errors: usize = tally.errors.values().sum();
    println!("timeline (second: answers / degraded / errors):");
    for (s, (a, d, e)) in &tally.timeline {
        println!("  {s:>4}s {a:>7} {d:>7} {e:>7}");
    }
    println!(
        "{} requests in {:.1} s = {:.0} req/s; p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
        tally.latencies.len(),
        elapsed.as_secs_f64(),
        tally.latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
    );
    println!("outcomes: {:?}", tally.outcomes);
    println!("errors: {errors} {:?}", tally.errors);
    if errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}
