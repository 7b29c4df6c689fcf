//! Answers: TwiML with its outcome header, refusals with their reason.

use super::*;

pub(crate) fn twiml(xml: String, outcome: &'static str) -> HttpResponse {
    let mut response = http::Response::new(xml);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
        .headers_mut()
        .insert(OUTCOME, HeaderValue::from_static(outcome));
    response
}

pub(crate) fn set_reason(response: &mut HttpResponse, reason: &str) {
    // Header values must be visible ASCII; anything else is replaced rather than dropped.
    let clean: String = reason
        .chars()
        .take(300)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&clean) {
        response.headers_mut().insert(REASON, value);
    }
}

/// A refusal: the reason in the body and in the reason header.
pub(crate) fn plain(status: StatusCode, text: &str) -> HttpResponse {
    let mut response = http::Response::new(format!("{text}\n"));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    set_reason(&mut response, text);
    response
}

/// The answer to a body over [`MAX_BODY_BYTES`] (also sent by `byoc serve`, which stops reading
/// at the cap).
pub fn payload_too_large() -> HttpResponse {
    plain(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Payload too large: the body is over 64 KiB",
    )
}

/// The answer to an event the Lambda adapter could not turn into an HTTP request.
pub fn bad_event(reason: &str) -> HttpResponse {
    tracing::warn!(reason, "bad request: unreadable event");
    plain(StatusCode::BAD_REQUEST, &format!("Bad request: {reason}"))
}
