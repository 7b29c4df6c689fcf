//! A loopback proxy in front of the DynamoDB-API server that makes DynamoDB's rarer answers
//! happen on demand: `UnprocessedKeys` from `BatchGetItem` (throttling) and a transaction that
//! loses a race between the store's read and its write. Everything else goes to the server
//! unchanged, so the answers the store reads are the server's own.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// What the proxy does to the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything through.
    None,
    /// The next `BatchGetItem` reads only its first key; the others come back unprocessed.
    SplitNextBatchGet,
    /// Every `BatchGetItem` reads nothing and returns every key unprocessed.
    StarveBatchGet,
    /// The next `TransactWriteItems` is sent twice: the first copy plays another writer that got
    /// there first, so the store's own copy fails its condition on the server.
    RaceNextTransaction,
}

struct Inner {
    upstream: String,
    fault: Mutex<Fault>,
    /// The `X-Amz-Target` operation of every request, in order.
    seen: Mutex<Vec<String>>,
    http: reqwest::Client,
}

/// A running proxy; stops when dropped.
pub struct DynamoProxy {
    inner: Arc<Inner>,
    port: u16,
    server: tokio::task::JoinHandle<()>,
}

impl DynamoProxy {
    /// Starts a proxy to `upstream` (e.g. `Dynamo::endpoint()`) on a free loopback port.
    pub async fn start(upstream: &str) -> Self {
        let inner = Arc::new(Inner {
            upstream: upstream.to_string(),
            fault: Mutex::new(Fault::None),
            seen: Mutex::new(Vec::new()),
            http: reqwest::Client::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let port = listener.local_addr().expect("bound").port();
        let app = axum::Router::new()
            .fallback(axum::routing::post(forward))
            .with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            inner,
            port,
            server,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, fault: Fault) {
        *self.inner.fault.lock().unwrap() = fault;
        self.inner.seen.lock().unwrap().clear();
    }

    /// How many requests of `operation` (e.g. `BatchGetItem`) went through since the last `set`.
    pub fn count(&self, operation: &str) -> usize {
        let seen = self.inner.seen.lock().unwrap();
        seen.iter().filter(|op| *op == operation).count()
    }
}

impl Drop for DynamoProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split('.').nth(1))
        .unwrap_or_default()
        .to_string();
    inner.seen.lock().unwrap().push(operation.clone());
    let fault = *inner.fault.lock().unwrap();
    match (fault, operation.as_str()) {
        (Fault::StarveBatchGet, "BatchGetItem") => {
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            let tables = request["RequestItems"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let empty: serde_json::Map<String, Value> =
                tables.keys().map(|t| (t.clone(), json!([]))).collect();
            dynamo_json(json!({"Responses": empty, "UnprocessedKeys": tables}))
        }
        (Fault::SplitNextBatchGet, "BatchGetItem") => {
            *inner.fault.lock().unwrap() = Fault::None;
            let mut request: Value = serde_json::from_slice(&body).unwrap_or_default();
            let mut unprocessed = serde_json::Map::new();
            if let Some(tables) = request["RequestItems"].as_object_mut() {
                for (table, keys) in tables.iter_mut() {
                    let all = keys["Keys"].as_array().cloned().unwrap_or_default();
                    let (first, rest) = all.split_at(all.len().min(1));
                    keys["Keys"] = Value::Array(first.to_vec());
                    let mut rest_request = keys.clone();
                    rest_request["Keys"] = Value::Array(rest.to_vec());
                    unprocessed.insert(table.clone(), rest_request);
                }
            }
            let sent = serde_json::to_vec(&request).unwrap_or_default();
            let (status, mut answer) = upstream(&inner, &headers, sent.into()).await;
            let mut value: Value = serde_json::from_slice(&answer).unwrap_or_default();
            value["UnprocessedKeys"] = Value::Object(unprocessed);
            answer = serde_json::to_vec(&value).unwrap_or_default().into();
            reply(status, answer)
        }
        (Fault::RaceNextTransaction, "TransactWriteItems") => {
            *inner.fault.lock().unwrap() = Fault::None;
            // The other writer's copy has its own idempotency token: with the SDK's token,
            // DynamoDB (Local included; moto ignores tokens) would take the store's own copy
            // for a retry of the first and answer it with success, writing nothing.
            let mut rival: Value = serde_json::from_slice(&body).unwrap_or_default();
            static RIVALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = RIVALS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            rival["ClientRequestToken"] = json!(format!("rival-{}-{n}", std::process::id()));
            let rival = serde_json::to_vec(&rival).unwrap_or_default();
            let (status, answer) = upstream(&inner, &headers, rival.into()).await;
            if !status.is_success() {
                // The racing copy itself failed: pass that on, so the test sees why.
                return reply(status, answer);
            }
            let (status, answer) = upstream(&inner, &headers, body).await;
            reply(status, answer)
        }
        _ => {
            let (status, answer) = upstream(&inner, &headers, body).await;
            reply(status, answer)
        }
    }
}

async fn upstream(inner: &Inner, headers: &HeaderMap, body: Bytes) -> (StatusCode, Bytes) {
    let mut request = inner.http.post(&inner.upstream).body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    match request.send().await {
        Ok(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, response.bytes().await.unwrap_or_default())
        }
        Err(_) => (StatusCode::BAD_GATEWAY, Bytes::new()),
    }
}

fn dynamo_json(value: Value) -> Response {
    reply(
        StatusCode::OK,
        serde_json::to_vec(&value).unwrap_or_default().into(),
    )
}

fn reply(status: StatusCode, body: Bytes) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.0")],
        body,
    )
        .into_response()
}
