//! The console's security rules, as middleware layers: every answer's headers, the `Host`
//! check, and for the API the token, the methods, and same-origin JSON for changes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

use super::{refuse, Console};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Every answer: a strict CSP (no inline script or style), no framing, no referrer, no
/// sniffing, no caching.
pub(super) async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `Host` must be the address the server is bound to: a DNS-rebinding guard.
pub(super) async fn host(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !console.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            &format!("unexpected Host `{host}`: open the console at the address it printed"),
        );
    }
    next.run(request).await
}

/// The API: the per-launch token (never in a URL), GET to read and POST to change, and a
/// change only as JSON from the console's own page.
pub(super) async fn api(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    if !authorized(&console, request.headers()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: open the console with the URL `byoc console` printed",
        );
    }
    match *request.method() {
        Method::GET => {}
        Method::POST => {
            if let Err(reason) = same_origin_json(&console, request.headers()) {
                return refuse(StatusCode::FORBIDDEN, &reason);
            }
        }
        _ => {
            return refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "the API takes GET (reads) and POST (changes)",
            )
        }
    }
    next.run(request).await
}

/// The token of `Authorization: Bearer …`, compared in constant time.
fn authorized(console: &Console, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| constant_time_eq(token.trim().as_bytes(), console.token.as_bytes()))
}

/// A change must come from the console's own page: JSON (which a cross-site form cannot send
/// without a CORS preflight this server never answers) and the console's own `Origin`.
fn same_origin_json(console: &Console, headers: &HeaderMap) -> Result<(), String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    {
        return Err(format!(
            "changes must be sent as application/json, not `{content_type}`"
        ));
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !console.origins.iter().any(|o| o == origin) {
        return Err(format!("cross-origin change refused (Origin `{origin}`)"));
    }
    Ok(())
}

/// Equal in time independent of where `a` and `b` differ.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
