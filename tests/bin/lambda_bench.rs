//! Cold starts and memory of the real Lambda binaries, side by side with a hello-world
//! `lambda_http` binary built the same way, on the Runtime API emulator.
//!
//! `cargo run --release -p byoc-e2e --bin lambda-bench -- [STARTS] [INVOCATIONS]`
//! (infra/bench/coldstart.sh builds the baseline and runs this; see docs/performance.md).
//!
//! `BASELINE_INBOUND=/path/to/an/older/inbound` adds that binary, with the 1,000-route file and
//! with DynamoDB, to the same interleaved run, for a before/after comparison that machine noise
//! hits alike.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use byoc_e2e::emulator::{Emulator, INVOKE_TIMEOUT};
use byoc_e2e::{binary, event, Dynamo};

struct Variant {
    name: &'static str,
    binary: PathBuf,
    env: Vec<(String, String)>,
    event: serde_json::Value,
}

fn base_env(api: &str, name: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api),
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn spawn(v: &Variant, api: &str) -> tokio::process::Child {
    tokio::process::Command::new(&v.binary)
        .env_clear()
        .envs(base_env(api, v.name))
        .envs(v.env.iter().map(|(k, s)| (k.as_str(), s.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A TCP relay in front of moto that adds up how long the function waits on the store: on
/// each connection, from the first byte of a request to the last byte of its response
/// (HTTP/1.1 without pipelining: requests and responses alternate). Loopback and moto's own
/// processing are not the function's work, and a regional DynamoDB endpoint answers in its
/// own time, so the DynamoDB variants are also reported without this wait.
#[derive(Clone, Default)]
struct StoreClock(std::sync::Arc<std::sync::Mutex<Duration>>);

#[derive(Default)]
struct Exchange {
    started: Option<Instant>,
    answered: Option<Instant>,
}

impl StoreClock {
    /// Starts relaying to `upstream`; returns the relay's address.
    async fn start(&self, upstream: std::net::SocketAddr) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clock = self.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let clock = clock.clone();
                tokio::spawn(async move {
                    if let Ok(server) = tokio::net::TcpStream::connect(upstream).await {
                        clock.relay(client, server).await;
                    }
                });
            }
        });
        addr
    }

    async fn relay(&self, client: tokio::net::TcpStream, server: tokio::net::TcpStream) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let exchange = std::sync::Arc::new(std::sync::Mutex::new(Exchange::default()));
        let (mut client_rx, mut client_tx) = client.into_split();
        let (mut server_rx, mut server_tx) = server.into_split();
        let requests = {
            let exchange = exchange.clone();
            async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n @ 1..) = client_rx.read(&mut buf).await {
                    {
                        let mut x = exchange.lock().unwrap();
                        // The first bytes of a new request start a new exchange.
                        if x.answered.is_some() {
                            *x = Exchange::default();
                        }
                        x.started.get_or_insert_with(Instant::now);
                    }
                    if server_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = server_tx.shutdown().await;
            }
        };
        let responses = {
            let (exchange, clock) = (exchange.clone(), self.clone());
            async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n @ 1..) = server_rx.read(&mut buf).await {
                    if client_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    let now = Instant::now();
                    let mut x = exchange.lock().unwrap();
                    // Counted as it goes, so a reading taken mid-connection is complete.
                    if let Some(start) = x.started {
                        let counted = x.answered.unwrap_or(start);
                        *clock.0.lock().unwrap() += now - counted;
                    }
                    x.answered = Some(now);
                }
                let _ = client_tx.shutdown().await;
            }
        };
        tokio::join!(requests, responses);
    }

    fn take(&self) -> Duration {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// User + system CPU of this process so far, in clock ticks (/proc/self/stat fields 14, 15).
fn process_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// `getconf CLK_TCK`: 100 on Linux unless the kernel says otherwise.
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn report(title: &str, variants: &[Variant], times: &mut [Vec<Duration>]) {
    println!("{title}");
    for t in times.iter_mut() {
        t.sort();
    }
    let base = percentile(&times[0], 0.5);
    for (v, t) in variants.iter().zip(times.iter()) {
        let median = percentile(t, 0.5);
        println!(
            "  {:<40} median {:>8.2} ms  p90 {:>8.2} ms  ratio to hello-world {:.2}",
            v.name,
            median.as_secs_f64() * 1000.0,
            percentile(t, 0.9).as_secs_f64() * 1000.0,
            median.as_secs_f64() / base.as_secs_f64()
        );
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let starts = args.first().copied().unwrap_or(25);
    let invocations = args.get(1).copied().unwrap_or(2000);

    let hello = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/hello_lambda");
    assert!(hello.exists(), "build the baseline first: cargo build --release -p byoc-web --example hello_lambda --features lambda");

    // Route files of 100 and 1,000 routes (plus the exact route of the event and `*`).
    let dir = std::env::temp_dir().join(format!("byoc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let route_file = |n: usize| {
        let path = dir.join(format!("routes-{n}.json"));
        let mut text = String::from("{\"routes\":[");
        for i in 0..n {
            text.push_str(&format!(
                "{{\"pattern\":\"+1212555{i:04}\",\"url\":\"https://example.com/r{i}?a=1&b=2\"}},"
            ));
        }
        text.push_str("{\"pattern\":\"+13175551234\",\"url\":\"https://example.com/main\"},{\"pattern\":\"*\",\"url\":\"https://example.com/d\"}]}");
        std::fs::write(&path, text).unwrap();
        vec![("ROUTES_FILE".to_string(), path.display().to_string())]
    };
    // The inbound binary points rustls-native-certs at the system CA bundle alone; with
    // `SSL_CERT_DIR` set as well, it reads the bundle and every file of the directory (149 on
    // this Debian machine), which is what it did before (see docs/performance.md).
    let bundle = openssl_probe::probe().cert_file;

    let moto = Dynamo::moto();
    let store_clock = StoreClock::default();
    let relay = store_clock
        .start(
            moto.endpoint()
                .trim_start_matches("http://")
                .parse()
                .unwrap(),
        )
        .await;
    let table_env = {
        let mut env = moto.env();
        for (name, value) in env.iter_mut() {
            if name == "AWS_ENDPOINT_URL_DYNAMODB" {
                *value = format!("http://{relay}");
            }
        }
        env.push(("ROUTES_TABLE".into(), "bench".into()));
        env
    };
    // An empty table is enough: the measurement is client creation + warm-up + one lookup.
    byoc_dynamodb::DynamoStore::new(moto.client(), "bench", Default::default())
        .create_table()
        .await
        .unwrap();

    let token = vec![(
        "TWILIO_AUTH_TOKEN".to_string(),
        byoc_e2e::EVENTS_TOKEN.to_string(),
    )];
    let mut variants = vec![
        Variant {
            name: "hello-world lambda_http",
            binary: hello,
            env: vec![],
            event: event("inbound.json"),
        },
        Variant {
            name: "inbound (no routes)",
            binary: binary("inbound"),
            env: token.clone(),
            event: event("inbound.json"),
        },
        Variant {
            name: "inbound (route file, 100 routes)",
            binary: binary("inbound"),
            env: [token.clone(), route_file(100)].concat(),
            event: event("inbound.json"),
        },
        Variant {
            name: "inbound (route file, 1,000 routes)",
            binary: binary("inbound"),
            env: [token.clone(), route_file(1000)].concat(),
            event: event("inbound.json"),
        },
        Variant {
            name: "outbound",
            binary: binary("outbound"),
            env: token.clone(),
            event: event("outbound.json"),
        },
        Variant {
            // A UK home: libphonenumber's metadata is loaded and the home's patterns compiled
            // at init (the event dials a +1 number, allowed here).
            name: "outbound (home GB, +44)",
            binary: binary("outbound"),
            env: [
                token.clone(),
                vec![
                    ("DEFAULT_COUNTRY_CODE".into(), "44".into()),
                    ("OUTBOUND_ALLOWED_PREFIXES".into(), "+1,+44".into()),
                ],
            ]
            .concat(),
            event: event("outbound.json"),
        },
        Variant {
            name: "inbound (DynamoDB on loopback moto)",
            binary: binary("inbound"),
            env: [token.clone(), table_env.clone()].concat(),
            event: event("inbound.json"),
        },
    ];
    if let Some(baseline) = std::env::var_os("BASELINE_INBOUND") {
        variants.push(Variant {
            name: "BASELINE_INBOUND (route file, 1,000)",
            binary: PathBuf::from(&baseline),
            env: [token.clone(), route_file(1000)].concat(),
            event: event("inbound.json"),
        });
        variants.push(Variant {
            name: "BASELINE_INBOUND (DynamoDB)",
            binary: PathBuf::from(&baseline),
            env: [token.clone(), table_env.clone()].concat(),
            event: event("inbound.json"),
        });
    }
    if let (Some(bundle), true) = (bundle, std::path::Path::new("/etc/ssl/certs").is_dir()) {
        variants.push(Variant {
            name: "inbound (DynamoDB, bundle + directory)",
            binary: binary("inbound"),
            env: [
                token.clone(),
                table_env,
                vec![
                    ("SSL_CERT_FILE".into(), bundle.display().to_string()),
                    ("SSL_CERT_DIR".into(), "/etc/ssl/certs".into()),
                ],
            ]
            .concat(),
            event: event("inbound.json"),
        });
    }

    let emulator = Emulator::start().await;
    let api = emulator.runtime_api();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    let mut inits: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    let mut ours: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    // Interleaved so that machine noise hits every variant alike.
    for _ in 0..starts {
        for (i, v) in variants.iter().enumerate() {
            store_clock.take();
            let started = Instant::now();
            let mut child = spawn(v, &api);
            let outcome = emulator
                .invoke(&v.event, INVOKE_TIMEOUT)
                .await
                .expect("first response");
            let elapsed = started.elapsed();
            times[i].push(elapsed);
            ours[i].push(elapsed.saturating_sub(store_clock.take()));
            let polled = emulator
                .first_poll_since(started)
                .expect("the function polled");
            inits[i].push(polled - started);
            let status = outcome.proxy().status;
            assert!(status == 200, "{}: status {status}", v.name);
            let _ = child.kill().await;
        }
    }
    report(
        &format!("init: process start -> first poll of the Runtime API ({starts} starts each)"),
        &variants,
        &mut inits,
    );
    report(
        &format!("cold start: process start -> first response delivered ({starts} starts each)"),
        &variants,
        &mut times,
    );
    report(
        "cold start less the time spent waiting on the store (DynamoDB variants; the others equal the above)",
        &variants,
        &mut ours,
    );

    // One BatchGetItem to moto from this process, and the CPU the SDK spends on it (this
    // process is otherwise idle meanwhile). moto answers `Connection: close`, so every call
    // also opens a TCP connection, which DynamoDB's keep-alive spares.
    let store = byoc_dynamodb::DynamoStore::new(moto.client(), "bench", Default::default());
    let address = byoc_core::Address::E164("+13175551234".into());
    let mut trips = Vec::new();
    let mut cpu_before = 0;
    const CALLS: usize = 500;
    for i in 0..CALLS + 10 {
        if i == 10 {
            cpu_before = process_cpu_ticks();
        }
        let started = Instant::now();
        byoc_store::RouteStore::resolve(&store, &address, None)
            .await
            .expect("moto answers");
        if i >= 10 {
            trips.push(started.elapsed());
        }
    }
    let cpu_ms = (process_cpu_ticks() - cpu_before) as f64 * 1000.0 / clock_ticks_per_second();
    trips.sort();
    println!(
        "one BatchGetItem to moto ({CALLS} calls): median {:.2} ms; client CPU {:.2} ms per call",
        percentile(&trips, 0.5).as_secs_f64() * 1000.0,
        cpu_ms / CALLS as f64
    );

    println!("peak RSS (VmHWM) after {invocations} invocations");
    for v in &variants {
        let mut child = spawn(v, &api);
        let pid = child.id().expect("pid");
        for _ in 0..invocations {
            emulator
                .invoke(&v.event, INVOKE_TIMEOUT)
                .await
                .expect("response");
        }
        println!(
            "  {:<40} {:>6.1} MB",
            v.name,
            vm_hwm_kb(pid) as f64 / 1024.0
        );
        let _ = child.kill().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
