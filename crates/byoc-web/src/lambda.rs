//! The adapter between API Gateway events (HTTP API payload 2.0 and REST payload 1.0) and
//! [`App::handle`].
//!
//! `lambda_http::run` would do the conversion itself, but it panics on input a sender controls
//! (a body flagged `isBase64Encoded` that is not base64, a Host or query string `http::Uri`
//! refuses), and a panic becomes a Lambda error, which API Gateway turns into a 502 and Twilio
//! into a failed call. So the event is checked first, the conversion runs under `catch_unwind`
//! as a last guard, and anything unreadable is answered `400` with the reason.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::request::{LambdaRequest, RequestOrigin};
use lambda_http::{lambda_runtime, Body, LambdaEvent};

use crate::app::{bad_event, HttpResponse};
use crate::{App, Config, Runtime};

/// The whole of a Lambda function's `main` besides building its [`App`]: JSON logs, the
/// configuration, `app` to build the app from it (the inbound function opens its route store
/// there; outbound needs none), then the Runtime API loop. A failure at any step is one JSON
/// error line with the whole cause chain (so the reason shows in CloudWatch) and exit status 1.
pub fn main<F, Fut, E>(name: &'static str, app: F) -> !
where
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = Result<App, E>>,
    E: Into<BoxError>,
{
    crate::init_logging(crate::LogFormat::Json);
    let stopped = |error: String| -> ! {
        tracing::error!(error, "{name} stopped");
        std::process::exit(1)
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => stopped(format!("cannot start the async runtime: {e}")),
    };
    let config = match Config::from_env(Runtime::Lambda) {
        Ok(config) => config,
        Err(e) => stopped(format!("invalid configuration: {e}")),
    };
    config.announce(name);
    let result = runtime.block_on(async move {
        let app = app(config).await.map_err(|e| chain(&*e.into()))?;
        run(Arc::new(app)).await.map_err(|e| chain(&*e))
    });
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => stopped(e),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error and its causes, `outer: inner: …`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // anyhow's Display of a context already ends with its cause's text only when `{:#}`.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Serves `app` on the Lambda Runtime API until the runtime stops the process.
pub async fn run(app: Arc<App>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<GatewayEvent>| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(handle_event(&app, event.payload.0).await) }
        },
    ))
    .await
}

/// An API Gateway event, read straight into the type its payload version names. `LambdaRequest`
/// is an untagged enum: serde buffers the whole event into a tree and tries each variant on it,
/// about half the CPU of a warm invoke. An HTTP API event (`"version": "2.0"`, what the
/// template deploys) is read directly; anything else as before.
pub struct GatewayEvent(pub LambdaRequest);

impl<'de> serde::Deserialize<'de> for GatewayEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
        use serde::de::Error as _;
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        // Read as an HTTP API event first: one pass, and its `version` says whether it was one
        // (a REST or ALB event may read as one too, with another version or none).
        let event = match serde_json::from_str::<ApiGatewayV2httpRequest>(raw.get()) {
            Ok(event) if event.version.as_deref() == Some("2.0") => {
                Ok(LambdaRequest::ApiGatewayV2(event))
            }
            _ => serde_json::from_str(raw.get()),
        };
        match event {
            Ok(event) => Ok(GatewayEvent(event)),
            // A header HTTP cannot carry (a control byte or DEL in a value, a space in a name)
            // fails the whole event, which Lambda answers 500. Only on that path: such headers
            // are dropped, and the request is answered for what it is without them (no
            // signature: 403).
            Err(first) => {
                let mut value: serde_json::Value =
                    serde_json::from_str(raw.get()).map_err(D::Error::custom)?;
                if !drop_bad_headers(&mut value) {
                    return Err(D::Error::custom(first));
                }
                serde_json::from_value(value)
                    .map(GatewayEvent)
                    .map_err(D::Error::custom)
            }
        }
    }
}

/// Removes from an event's `headers` and `multiValueHeaders` the names and values HTTP cannot
/// carry; whether any was.
fn drop_bad_headers(event: &mut serde_json::Value) -> bool {
    use http::{HeaderName, HeaderValue};
    let good_name = |n: &str| HeaderName::from_bytes(n.as_bytes()).is_ok();
    let good_value =
        |v: &serde_json::Value| v.as_str().is_some_and(|v| HeaderValue::from_str(v).is_ok());
    let mut dropped = false;
    if let Some(map) = event.get_mut("headers").and_then(|h| h.as_object_mut()) {
        let before = map.len();
        map.retain(|name, value| good_name(name) && good_value(value));
        dropped |= map.len() != before;
    }
    if let Some(map) = event
        .get_mut("multiValueHeaders")
        .and_then(|h| h.as_object_mut())
    {
        let before = map.len();
        map.retain(|name, _| good_name(name));
        dropped |= map.len() != before;
        for values in map.values_mut().filter_map(|v| v.as_array_mut()) {
            let before = values.len();
            values.retain(good_value);
            dropped |= values.len() != before;
        }
    }
    dropped
}

/// One API Gateway event through the shared handler, answered in the event's own response
/// format (as `serde_json::Value`, which is what the runtime posts back).
pub async fn handle_event(app: &App, event: LambdaRequest) -> serde_json::Value {
    let origin = event.request_origin();
    let response = match into_request(event, app.config().url_from_context) {
        Ok(request) => app.handle(request).await,
        Err(reason) => bad_event(reason),
    };
    to_gateway(&origin, response)
}

/// The URL API Gateway was called on, from its request context (never from client headers):
/// `https://` + `domainName` + the path as called (an HTTP API's `rawPath`, stage included
/// when the stage is in the URL; a REST API's `requestContext.path`, stage or base-path
/// mapping included) + for an HTTP API its `rawQueryString`. `None` without a context.
fn context_url(event: &LambdaRequest) -> Option<(String, bool)> {
    match event {
        LambdaRequest::ApiGatewayV2(e) => {
            let domain = e.request_context.domain_name.as_deref()?;
            let path = e.raw_path.as_deref().filter(|p| p.starts_with('/'))?;
            let query = e.raw_query_string.as_deref().unwrap_or("");
            let sep = if query.is_empty() { "" } else { "?" };
            Some((format!("https://{domain}{path}{sep}{query}"), false))
        }
        LambdaRequest::ApiGatewayV1(e) => {
            let domain = e.request_context.domain_name.as_deref()?;
            let path = e
                .request_context
                .path
                .as_deref()
                .filter(|p| p.starts_with('/'))?;
            // A REST API passes no raw query string: `lambda_http`'s own encoding of it is kept.
            Some((format!("https://{domain}{path}"), true))
        }
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Whether the pieces `lambda_http` builds a URI from (the `Host` and `X-Forwarded-Proto`
/// headers, the path, an HTTP API's raw query string) are what `http` reads: otherwise its
/// conversion panics.
fn uri_parts_readable(event: &LambdaRequest) -> bool {
    use http::uri::{Authority, PathAndQuery};
    let (headers, path, query) = match event {
        LambdaRequest::ApiGatewayV2(e) => (
            &e.headers,
            e.raw_path.as_deref().unwrap_or("/"),
            e.raw_query_string.as_deref().unwrap_or(""),
        ),
        LambdaRequest::ApiGatewayV1(e) => (&e.headers, e.path.as_deref().unwrap_or("/"), ""),
        #[allow(unreachable_patterns)]
        _ => return true,
    };
    let host_ok = headers
        .get(http::header::HOST)
        .is_none_or(|h| h.to_str().is_ok_and(|h| Authority::try_from(h).is_ok()));
    let target = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let proto_ok = headers.get("x-forwarded-proto").is_none_or(|p| {
        p.to_str().is_ok_and(|p| {
            p.split(',')
                .next()
                .is_some_and(|p| p.trim().parse::<http::uri::Scheme>().is_ok())
        })
    });
    host_ok && proto_ok && PathAndQuery::try_from(target).is_ok()
}

/// The event as an `http::Request`, or why it cannot be read as one. `from_context`: its URI
/// is the one API Gateway was called on ([`context_url`]), not one `lambda_http` builds from
/// `Host` and `X-Forwarded-Proto`, which a client sets.
fn into_request(
    mut event: LambdaRequest,
    from_context: bool,
) -> Result<http::Request<Bytes>, &'static str> {
    let called = if from_context {
        Some(context_url(&event).ok_or(
            "the event has no request context (domainName and path): the URL Twilio signed cannot be known",
        )?)
    } else {
        None
    };
    // Decode the body here rather than in `lambda_http`, whose decoder panics on bad base64.
    let body = match &mut event {
        LambdaRequest::ApiGatewayV2(e) => take_body(&mut e.body, &mut e.is_base64_encoded)?,
        LambdaRequest::ApiGatewayV1(e) => take_body(&mut e.body, &mut e.is_base64_encoded)?,
        #[allow(unreachable_patterns)]
        _ => return Err("not an API Gateway proxy event"),
    };
    // The body is out of the event, so the conversion only builds the URI and headers. Its
    // URI parts are checked first, so that it does not panic (and print a panic message) on
    // one `http` refuses; `catch_unwind` stays as the last guard.
    if !uri_parts_readable(&event) {
        return Err("the request line cannot be read as an HTTP request");
    }
    let request = catch_unwind(AssertUnwindSafe(|| http::Request::<Body>::from(event)))
        .map_err(|_| "the request line or headers cannot be read as an HTTP request")?;
    let (mut parts, _) = request.into_parts();
    if let Some((url, add_query)) = called {
        let url = match parts.uri.query().filter(|_| add_query) {
            Some(query) => format!("{url}?{query}"),
            None => url,
        };
        parts.uri = url
            .parse()
            .map_err(|_| "the request context's domain or path cannot be read as a URL")?;
    }
    Ok(http::Request::from_parts(parts, body))
}

fn take_body(body: &mut Option<String>, base64: &mut bool) -> Result<Bytes, &'static str> {
    let Some(text) = body.take() else {
        return Ok(Bytes::new());
    };
    if !std::mem::take(base64) {
        return Ok(Bytes::from(text));
    }
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map(Bytes::from)
        .map_err(|_| "the body is marked isBase64Encoded but is not valid base64")
}

/// `response` in the format API Gateway expects for events of `origin`.
fn to_gateway(origin: &RequestOrigin, response: HttpResponse) -> serde_json::Value {
    let (parts, body) = response.into_parts();
    let status = i64::from(parts.status.as_u16());
    let body = (!body.is_empty()).then_some(Body::Text(body));
    let value = match origin {
        RequestOrigin::ApiGatewayV1 => {
            let mut r = ApiGatewayProxyResponse::default();
            r.status_code = status;
            // REST APIs merge `headers` into `multiValueHeaders`; setting one avoids duplicates.
            r.multi_value_headers = parts.headers;
            r.body = body;
            serde_json::to_value(r)
        }
        _ => {
            let mut r = ApiGatewayV2httpResponse::default();
            r.status_code = status;
            r.headers = parts.headers;
            r.body = body;
            serde_json::to_value(r)
        }
    };
    // Serializing plain strings and numbers cannot fail; the fallback keeps the call answered.
    value.unwrap_or_else(|_| serde_json::json!({"statusCode": 500}))
}

/// The adapter in-process, over every event in `events/` (the same files `sam local invoke`
/// takes): a fast check of event parsing and response shapes, beside the end-to-end tests that
/// run the real binaries.
#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use byoc_store::MemoryStore;
    use serde_json::Value;

    use super::*;
    use crate::Endpoints;
    use byoc_store::CachedStore;

    const TOKEN: &str = "byoc-events-test-token";
    const FLOW: &str = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn app(endpoints: Endpoints) -> App {
        let config = Config::from_lookup(Runtime::Lambda, |name| match name {
            "TWILIO_AUTH_TOKEN" => Some(TOKEN.into()),
            "DEFAULT_ROUTE_URL" => Some("https://example.com/default?a=1&b=2".into()),
            _ => None,
        })
        .unwrap();
        let routes = std::fs::read_to_string(root().join("infra/routes.example.json")).unwrap();
        let store = MemoryStore::from_json(&routes, "example", &config.inbound.plan).unwrap();
        let store = CachedStore::new(Arc::new(store), config.cache);
        App::new(config, Arc::new(store), endpoints)
    }

    fn event(name: &str) -> Value {
        let text = std::fs::read_to_string(root().join("events").join(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Every event read as `lambda_runtime` reads it (through `serde_path_to_error`) into
    /// `GatewayEvent`, and answered exactly as when read as `LambdaRequest`.
    #[tokio::test]
    async fn gateway_events_read_as_lambda_requests_do() {
        let app = app(Endpoints::ALL);
        let mut seen = 0;
        for file in std::fs::read_dir(root().join("events")).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read(&path).unwrap();
            let fast: GatewayEvent =
                serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&text))
                    .unwrap();
            let slow: LambdaRequest = serde_json::from_slice(&text).unwrap();
            assert_eq!(
                handle_event(&app, fast.0).await,
                handle_event(&app, slow).await,
                "{}",
                path.display()
            );
            seen += 1;
        }
        assert!(seen >= 8, "{seen}");
        let bad: Result<GatewayEvent, _> =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(b"[1]"));
        assert!(bad.is_err());
    }

    /// An inbound call's event of either payload version, its form body signed for `signed`.
    fn signed_event(mut event: Value, signed: &str) -> Value {
        let body = "To=%2B13175551234&CallSid=CA9";
        let params = byoc_core::params::Params::from_form(body.as_bytes());
        event["body"] = body.into();
        event["isBase64Encoded"] = false.into();
        let signature = byoc_core::signature::sign(TOKEN, signed, &params);
        for headers in ["headers", "multiValueHeaders"] {
            if let Some(map) = event[headers].as_object_mut() {
                map.retain(|k, _| !k.eq_ignore_ascii_case("x-twilio-signature"));
            }
        }
        event["headers"]["x-twilio-signature"] = signature.clone().into();
        if event["multiValueHeaders"].is_object() {
            event["multiValueHeaders"]["x-twilio-signature"] = serde_json::json!([signature]);
        }
        event
    }

    fn set_header(event: &mut Value, name: &str, value: &str) {
        event["headers"][name] = value.into();
        if event["multiValueHeaders"].is_object() {
            event["multiValueHeaders"][name] = serde_json::json!([value]);
        }
    }

    /// The URL a signature covers comes from API Gateway's request context, for every shape:
    /// HTTP API stages, REST APIs behind a custom domain's base-path mapping; a client's `Host`
    /// or `X-Forwarded-Proto` never chooses it.
    #[tokio::test]
    async fn the_signed_url_is_the_one_api_gateway_was_called_on() {
        let app = app(Endpoints::INBOUND);
        let api = "abc123xyz0.execute-api.us-east-1.amazonaws.com";
        let status = |r: &Value| r["statusCode"].as_i64().unwrap();

        // HTTP API, `$default`: as before.
        let v2 = event("inbound.json");
        let ok = invoke(
            &app,
            signed_event(v2.clone(), &format!("https://{api}/inbound")),
        )
        .await;
        assert_eq!(status(&ok), 200, "{ok}");
        // HTTP API, a named stage in the URL: `rawPath` has it, once.
        let mut staged = v2.clone();
        staged["rawPath"] = "/prod/inbound".into();
        staged["requestContext"]["stage"] = "prod".into();
        let r = invoke(
            &app,
            signed_event(staged, &format!("https://{api}/prod/inbound")),
        )
        .await;
        assert_eq!(status(&r), 200, "{r}");
        // REST API behind a custom domain's base-path mapping: `requestContext.path` holds it.
        let mut rest = event("inbound-rest-v1.json");
        rest["requestContext"]["domainName"] = "voice.example.com".into();
        rest["requestContext"]["path"] = "/router/inbound".into();
        let r = invoke(
            &app,
            signed_event(rest.clone(), "https://voice.example.com/router/inbound"),
        )
        .await;
        assert_eq!(status(&r), 200, "{r}");

        // Forged: a Host, an X-Forwarded-Proto carrying another URL, or `http`: each signature
        // made for what the header claims is refused.
        for (name, value, claimed) in [
            (
                "host",
                "dev-tunnel.example",
                "https://dev-tunnel.example/inbound".to_string(),
            ),
            (
                "x-forwarded-proto",
                "https://dev-tunnel.example/inbound?x=1#",
                "https://dev-tunnel.example/inbound?x=1#://abc/inbound".to_string(),
            ),
            ("x-forwarded-proto", "http", format!("http://{api}/inbound")),
        ] {
            for base in [v2.clone(), event("inbound-rest-v1.json")] {
                let mut forged = signed_event(base, &claimed);
                set_header(&mut forged, name, value);
                let r = invoke(&app, forged).await;
                // Refused: 403 (the signature is not for the URL called), or 400 for a header
                // `http` cannot read at all.
                assert!(matches!(status(&r), 403 | 400), "{name}: {value}: {r}");
            }
        }
        // No request context: the URL cannot be known; refused, not guessed from headers.
        let mut bare = signed_event(v2, &format!("https://{api}/inbound"));
        bare["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("domainName");
        let r = invoke(&app, bare).await;
        assert_eq!(status(&r), 400, "{r}");
    }

    async fn invoke(app: &App, event: Value) -> Value {
        let request: LambdaRequest = serde_json::from_value(event).unwrap();
        handle_event(app, request).await
    }

    /// A header of a v2 (`headers`) or v1 (`multiValueHeaders`) response.
    fn header<'a>(response: &'a Value, name: &str) -> &'a str {
        let value = &response["headers"][name];
        let value = if value.is_null() {
            &response["multiValueHeaders"][name][0]
        } else {
            value
        };
        value.as_str().unwrap_or_default()
    }

    #[tokio::test]
    async fn every_event_file_is_read_and_answered_in_its_own_format() {
        let inbound = app(Endpoints::INBOUND);
        let outbound = app(Endpoints::OUTBOUND);
        // (file, function, status, X-Byoc-Outcome, text the body or Location must hold)
        let cases: &[(&str, &App, i64, &str, &str)] = &[
            ("inbound.json", &inbound, 200, "matched", FLOW),
            (
                "inbound-prefix.json",
                &inbound,
                200,
                "matched",
                "indianapolis?team=support&amp;lang=en",
            ),
            ("inbound-rest-v1.json", &inbound, 200, "matched", FLOW),
            ("inbound-status.json", &inbound, 302, "flow_return", FLOW),
            // Routed like /inbound: Twilio's fallback request still reaches the DID's route.
            ("inbound-fallback.json", &inbound, 200, "matched", FLOW),
            (
                "inbound-next.json",
                &inbound,
                200,
                "chain_next",
                "<Client>alice</Client>",
            ),
            (
                "outbound.json",
                &outbound,
                200,
                "dialed",
                "byoc=\"BY00000000000000000000000000000000\">+13175550199</Number>",
            ),
            (
                "outbound-get.json",
                &outbound,
                200,
                "dialed",
                ">+13175550199</Number>",
            ),
            (
                "outbound-invalid.json",
                &outbound,
                200,
                "refused",
                "<Hangup/>",
            ),
            (
                "outbound-next.json",
                &outbound,
                200,
                "failover",
                "byoc=\"BY11111111111111111111111111111111\">+13175550199</Number>",
            ),
        ];
        let listed: Vec<String> = std::fs::read_dir(root().join("events"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".json"))
            .collect();
        for name in &listed {
            assert!(
                cases.iter().any(|c| c.0 == name),
                "events/{name} has no case here"
            );
        }
        for &(name, app, status, outcome, expected) in cases {
            let response = invoke(app, event(name)).await;
            assert_eq!(response["statusCode"], status, "{name}: {response}");
            assert_eq!(header(&response, "x-byoc-outcome"), outcome, "{name}");
            let shown = if status == 302 {
                header(&response, "location")
            } else {
                assert!(header(&response, "content-type").starts_with("text/xml"));
                response["body"].as_str().unwrap_or_default()
            };
            assert!(shown.contains(expected), "{name}: {response}");
            // REST APIs get v1's `multiValueHeaders`, HTTP APIs v2's `headers`.
            let v1 = name.contains("rest-v1");
            let in_v1 = response["multiValueHeaders"]["x-byoc-outcome"].is_array();
            let in_v2 = response["headers"]["x-byoc-outcome"].is_string();
            assert_eq!((in_v1, in_v2), (v1, !v1), "{name}: {response}");
        }
    }

    #[tokio::test]
    async fn a_forged_signature_or_a_bad_body_is_refused_not_a_crash() {
        let inbound = app(Endpoints::INBOUND);
        let mut forged = event("inbound.json");
        forged["headers"]["x-twilio-signature"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
        let response = invoke(&inbound, forged).await;
        assert_eq!(response["statusCode"], 403, "{response}");
        assert!(!response["body"]
            .as_str()
            .unwrap_or_default()
            .contains("<Redirect"));

        let mut bad = event("inbound.json");
        bad["body"] = "%%% not base64 %%%".into();
        let response = invoke(&inbound, bad).await;
        assert_eq!(response["statusCode"], 400, "{response}");

        // Headers HTTP cannot carry (a control byte, a newline, DEL, a space in a name): dropped
        // while reading the event, never a deserialization error (a 500 from API Gateway);
        // without its signature header the request is refused, 403.
        let mut odd = event("inbound.json");
        odd["headers"]["x-twilio-signature"] = "abc\u{1}def".into();
        odd["headers"]["x-note"] = "line\nbreak".into();
        odd["headers"]["x-del"] = "\u{7f}".into();
        odd["headers"]["bad name"] = "x".into();
        let text = odd.to_string();
        let read: GatewayEvent =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
                .expect("an event with odd headers is still read");
        let response = handle_event(&inbound, read.0).await;
        assert_eq!(response["statusCode"], 403, "{response}");
        // A query string or Host `http` cannot read: 400 before lambda_http could panic.
        for (field, value) in [("rawQueryString", "a=b c"), ("rawPath", "/in bound")] {
            let mut bad = event("inbound.json");
            bad[field] = value.into();
            let response = invoke(&inbound, bad).await;
            assert_eq!(response["statusCode"], 400, "{field}: {response}");
        }
        let mut bad_host = event("inbound.json");
        bad_host["headers"]["host"] = "a b".into();
        let response = invoke(&inbound, bad_host).await;
        assert_eq!(response["statusCode"], 400, "{response}");

        // A path the function does not serve.
        let mut elsewhere = event("outbound.json");
        elsewhere["rawPath"] = "/outbound".into();
        let response = invoke(&inbound, elsewhere).await;
        assert_eq!(response["statusCode"], 404, "{response}");
    }
}
