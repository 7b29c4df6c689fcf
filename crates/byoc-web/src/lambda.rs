//! The adapter between API Gateway events (HTTP API payload 2.0 and REST payload 1.0) and
//! [`App::handle`].
//!
//! `lambda_http::run` would do the conversion itself, but it panics on input a sender controls
//! (a body flagged `isBase64Encoded` that is not base64, a Host or query string `http::Uri`
//! refuses), and a panic becomes a Lambda error, which API Gateway turns into a 502 and Twilio
//! into a failed call. So the event is checked first, the conversion runs under `catch_unwind`
//! as a last guard, and anything unreadable is answered `400` with the reason.

use std::convert::Infallible;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::request::{LambdaRequest, RequestOrigin};
use lambda_http::{lambda_runtime, Body, LambdaEvent};

use crate::app::{bad_event, HttpResponse};
use crate::App;

/// Serves `app` on the Lambda Runtime API until the runtime stops the process.
pub async fn run(app: Arc<App>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<LambdaRequest>| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(handle_event(&app, event.payload).await) }
        },
    ))
    .await
}

/// One API Gateway event through the shared handler, answered in the event's own response
/// format (as `serde_json::Value`, which is what the runtime posts back).
pub async fn handle_event(app: &App, event: LambdaRequest) -> serde_json::Value {
    let origin = event.request_origin();
    let response = match into_request(event) {
        Ok(request) => app.handle(request).await,
        Err(reason) => bad_event(reason),
    };
    to_gateway(&origin, response)
}

/// The event as an `http::Request`, or why it cannot be read as one.
fn into_request(mut event: LambdaRequest) -> Result<http::Request<Bytes>, &'static str> {
    // Decode the body here rather than in `lambda_http`, whose decoder panics on bad base64.
    let body = match &mut event {
        LambdaRequest::ApiGatewayV2(e) => take_body(&mut e.body, &mut e.is_base64_encoded)?,
        LambdaRequest::ApiGatewayV1(e) => take_body(&mut e.body, &mut e.is_base64_encoded)?,
        #[allow(unreachable_patterns)]
        _ => return Err("not an API Gateway proxy event"),
    };
    // The body is out of the event, so the conversion only builds the URI and headers; it may
    // still panic on a URI that `http` refuses (e.g. spaces in the query string).
    let request = catch_unwind(AssertUnwindSafe(|| http::Request::<Body>::from(event)))
        .map_err(|_| "the request line or headers cannot be read as an HTTP request")?;
    let (parts, _) = request.into_parts();
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
