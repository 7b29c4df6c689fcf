//! A small Lambda Runtime API emulator: it hands events to a real Lambda binary through
//! `GET /2018-06-01/runtime/invocation/next` and collects what the binary posts back, as the
//! Lambda service does.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::{oneshot, Notify};

/// What the function posted for one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `/response`: the handler's result.
    Response(serde_json::Value),
    /// `/error`: the runtime reported an error.
    Error(serde_json::Value),
}

type Waiters = HashMap<String, oneshot::Sender<Outcome>>;

#[derive(Default)]
struct Inner {
    queue: Mutex<VecDeque<(String, Bytes)>>,
    ready: Notify,
    waiters: Mutex<Waiters>,
    init_error: Mutex<Option<String>>,
    next_id: Mutex<u64>,
    /// When each `GET …/next` arrived: a function's first poll ends its init phase.
    polls: Mutex<Vec<Instant>>,
}

/// A running emulator; stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Emulator {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the emulator");
        let addr = listener.local_addr().expect("emulator address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            inner,
            server,
        }
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// Queues `event` and waits (up to `timeout`) for the function's answer.
    pub async fn invoke(
        &self,
        event: &serde_json::Value,
        timeout: Duration,
    ) -> Result<Outcome, String> {
        let body = serde_json::to_vec(event).expect("event serializes");
        self.invoke_raw(body, timeout).await
    }

    /// Queues raw bytes as the event (for malformed-event tests) and waits for the answer.
    pub async fn invoke_raw(&self, body: Vec<u8>, timeout: Duration) -> Result<Outcome, String> {
        let id = {
            let mut next = self.inner.next_id.lock().unwrap();
            *next += 1;
            format!("00000000-0000-4000-8000-{:012}", *next)
        };
        let (tx, rx) = oneshot::channel();
        self.inner.waiters.lock().unwrap().insert(id.clone(), tx);
        self.inner
            .queue
            .lock()
            .unwrap()
            .push_back((id, Bytes::from(body)));
        self.inner.ready.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            _ => Err(match self.init_error() {
                Some(e) => format!("the function failed to initialize: {e}"),
                None => format!("no answer within {timeout:?}"),
            }),
        }
    }

    /// When the first `GET …/next` at or after `since` arrived: the end of the init phase of a
    /// function started at `since` (what Lambda reports as "Init Duration").
    pub fn first_poll_since(&self, since: Instant) -> Option<Instant> {
        let polls = self.inner.polls.lock().unwrap();
        polls.iter().copied().filter(|&t| t >= since).min()
    }

    /// The init error the function reported, if any.
    pub fn init_error(&self) -> Option<String> {
        self.inner.init_error.lock().unwrap().clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> impl IntoResponse {
    inner.polls.lock().unwrap().push(Instant::now());
    loop {
        let item = inner.queue.lock().unwrap().pop_front();
        if let Some((id, body)) = item {
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
                + 30_000;
            let mut headers = HeaderMap::new();
            let mut set = |name: &'static str, value: String| {
                headers.insert(name, HeaderValue::from_str(&value).expect("header value"));
            };
            set("lambda-runtime-aws-request-id", id);
            set("lambda-runtime-deadline-ms", deadline.to_string());
            set(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:byoc-test".to_string(),
            );
            set(
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                    .to_string(),
            );
            set("content-type", "application/json".to_string());
            return (StatusCode::OK, headers, body);
        }
        inner.ready.notified().await;
    }
}

async fn response(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> impl IntoResponse {
    finish(&inner, &id, Outcome::Response(json_or_text(&body)))
}

async fn error(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> impl IntoResponse {
    finish(&inner, &id, Outcome::Error(json_or_text(&body)))
}

fn json_or_text(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn init_error(State(inner): State<Arc<Inner>>, body: Bytes) -> impl IntoResponse {
    *inner.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
    (StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
}

fn finish(inner: &Inner, id: &str, outcome: Outcome) -> (StatusCode, &'static str) {
    if let Some(tx) = inner.waiters.lock().unwrap().remove(id) {
        let _ = tx.send(outcome);
    }
    (StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
}

/// Shortcut used by tests: the API Gateway proxy response fields.
#[derive(Debug, Clone)]
pub struct ProxyResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Outcome {
    /// Reads an API Gateway proxy response (`statusCode`, `headers`, `body`, base64 or not).
    pub fn proxy(&self) -> ProxyResponse {
        let Outcome::Response(v) = self else {
            panic!("the function reported an error: {self:?}")
        };
        let status = v["statusCode"].as_u64().expect("statusCode") as u16;
        let mut headers = HashMap::new();
        if let Some(map) = v["headers"].as_object() {
            for (k, val) in map {
                headers.insert(
                    k.to_ascii_lowercase(),
                    val.as_str().unwrap_or_default().to_string(),
                );
            }
        }
        if let Some(map) = v["multiValueHeaders"].as_object() {
            for (k, vals) in map {
                if let Some(first) = vals
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(|x| x.as_str())
                {
                    headers
                        .entry(k.to_ascii_lowercase())
                        .or_insert_with(|| first.to_string());
                }
            }
        }
        let raw = v["body"].as_str().unwrap_or_default();
        let body = if v["isBase64Encoded"].as_bool().unwrap_or(false) {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .expect("base64 body");
            String::from_utf8(bytes).expect("utf-8 body")
        } else {
            raw.to_string()
        };
        ProxyResponse {
            status,
            headers,
            body,
        }
    }
}

/// How long tests wait for one invocation.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);
