//! Helpers for the end-to-end tests: build and start the real binaries, a Lambda Runtime API
//! emulator, request signing and TwiML parsing. Every process started here is killed when its
//! handle is dropped, so a failing test leaves nothing running.

pub mod console;
pub mod dynamo;
pub mod dynamo_proxy;
pub mod emulator;
pub mod fake_twilio;
pub mod process;
pub mod twilio_sim;
pub mod twiml;

use std::path::{Path, PathBuf};

pub use dynamo::{unique_table, Dynamo, Engine};
pub use emulator::Emulator;
pub use process::{binary, byoc, Lambda, Run, Serve};

/// The token the events in `events/` are signed with (see events/README.md).
pub const EVENTS_TOKEN: &str = "byoc-events-test-token";

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// An event from `events/`.
pub fn event(name: &str) -> serde_json::Value {
    let path = root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `application/x-www-form-urlencoded` encoding of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The signature Twilio would send for a form POST (or a GET with `pairs` empty).
pub fn sign(token: &str, url: &str, pairs: &[(&str, &str)]) -> String {
    let params: byoc_core::Params = pairs.iter().copied().collect();
    byoc_core::signature::sign(token, url, &params)
}

/// A form POST of `pairs` to `url`, signed with `token` as Twilio signs it.
pub fn signed_post(
    client: &reqwest::Client,
    token: &str,
    url: &str,
    pairs: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sign(token, url, pairs))
        .body(form(pairs))
}

/// An API Gateway HTTP API (payload 2.0) event, body base64-encoded as API Gateway sends forms.
pub fn http_api_event(
    method: &str,
    path: &str,
    raw_query: &str,
    body: Option<(&str, &[u8])>,
    extra_headers: &[(&str, &str)],
) -> serde_json::Value {
    use base64::Engine as _;
    let mut headers = serde_json::Map::new();
    headers.insert(
        "host".into(),
        "abc123xyz0.execute-api.us-east-1.amazonaws.com".into(),
    );
    headers.insert("x-forwarded-proto".into(), "https".into());
    if let Some((content_type, _)) = body {
        headers.insert("content-type".into(), content_type.into());
    }
    for (k, v) in extra_headers {
        headers.insert(k.to_string(), (*v).into());
    }
    let mut event = serde_json::json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123xyz0",
            "domainName": "abc123xyz0.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123xyz0",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "54.172.60.1", "userAgent": "TwilioProxy/1.1"},
            "requestId": "test",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "27/Nov/2026:01:37:00 +0000",
            "timeEpoch": 1795743420000u64
        },
        "isBase64Encoded": body.is_some()
    });
    if let Some((_, bytes)) = body {
        event["body"] = base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into();
    }
    event
}
