//! The webhook handler shared by the Lambda functions and `byoc serve`: one `http::Request` in,
//! one `http::Response` out, so both runtimes behave identically.
//!
//! `mod.rs` holds [`App`]: request checks, the signature, and the handlers of each endpoint;
//! `endpoint.rs` the webhooks by path; `url.rs` the public URL Twilio signed and the URLs built
//! from it; `response.rs` TwiML answers and refusals.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};

use byoc_core::chain::{chain_from_state, Chain};
use byoc_core::inbound::{self, Decision, InboundError, Outcome};
use byoc_core::outbound;
use byoc_core::params::{Params, ParamsError};
use byoc_core::route::call_scope;
use byoc_core::signature::{self, SignatureError};
use byoc_core::twiml::CONTENT_TYPE;
use byoc_core::Address;
use byoc_store::CachedStore;

use crate::config::{Auth, Config, SignedBy};

/// The one line per request. Its message is what the metrics key on
/// ([`crate::logging::CALL_MESSAGE`]), so it is written here once.
macro_rules! call_answered {
    ($level:ident, $($field:tt)*) => {
        tracing::$level!($($field)*, "call answered")
    };
}

/// Largest body accepted (Twilio's webhook forms are a few kB; 64 KiB leaves room for many
/// `SipHeader_X-…` parameters while bounding the work an anonymous sender can cause).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Response header that states how a request was answered (`matched`, `default`, `refused` …).
pub const OUTCOME_HEADER: &str = "x-byoc-outcome";
/// Response header with a scheduled route's branch: `open`, `closed` or `holiday`.
pub const SCHEDULE_HEADER: &str = "x-byoc-schedule";
/// Response header with the caller condition (`From` prefix) that chose the action.
pub const CALLER_RULE_HEADER: &str = "x-byoc-caller-rule";
/// Response header that states why a call was not routed as asked, for operators.
pub const REASON_HEADER: &str = "x-byoc-reason";

// The same names as `HeaderName`s, checked once at compile time rather than on every insert.
const OUTCOME: header::HeaderName = header::HeaderName::from_static(OUTCOME_HEADER);
const SCHEDULE: header::HeaderName = header::HeaderName::from_static(SCHEDULE_HEADER);
const CALLER_RULE: header::HeaderName = header::HeaderName::from_static(CALLER_RULE_HEADER);
const REASON: header::HeaderName = header::HeaderName::from_static(REASON_HEADER);

pub type HttpRequest = http::Request<Bytes>;
pub type HttpResponse = http::Response<String>;

mod endpoint;
mod response;
mod url;

pub use endpoint::*;
pub use response::*;
pub use url::*;

/// The application: configuration, the route store (behind its cache) and the endpoints served.
pub struct App {
    config: Config,
    store: Arc<CachedStore>,
    endpoints: Endpoints,
}

impl App {
    pub fn new(config: Config, store: Arc<CachedStore>, endpoints: Endpoints) -> Self {
        Self {
            config,
            store,
            endpoints,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Arc<CachedStore> {
        &self.store
    }

    /// Answers one request. Never panics on input; every outcome is logged in one line.
    pub async fn handle(&self, request: HttpRequest) -> HttpResponse {
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let Some(endpoint) =
            Endpoint::from_path(parts.uri.path()).filter(|e| self.endpoints.serves(*e))
        else {
            return plain(
                StatusCode::NOT_FOUND,
                "Not found: this server answers /inbound and /outbound webhooks",
            );
        };
        if parts.method != Method::POST && parts.method != Method::GET {
            let mut response = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed: use POST or GET",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            return response;
        }
        if body.len() > MAX_BODY_BYTES {
            return payload_too_large();
        }

        let query = Params::from_form(parts.uri.query().unwrap_or("").as_bytes());
        let is_post = parts.method == Method::POST;
        let is_json = is_post
            && parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.as_bytes()
                        .windows(4)
                        .any(|w| w.eq_ignore_ascii_case(b"json"))
                });
        let form = if is_post && !is_json {
            Params::from_form(&body)
        } else {
            Params::new()
        };

        let url = public_url(&parts, self.config.public_base_url.as_deref());
        let signed_by = match self.authenticate(&parts.headers, &url, &form, &body, is_json) {
            Ok(signed_by) => signed_by,
            Err(None) => {
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Server misconfigured: no Twilio auth token",
                )
            }
            Err(Some(e)) => return plain(StatusCode::FORBIDDEN, &format!("Forbidden: {e}")),
        };
        let body_params = if is_json {
            match Params::from_json(&body) {
                Ok(p) => p,
                Err(e @ (ParamsError::Json(_) | ParamsError::JsonNotObject)) => {
                    tracing::warn!(endpoint = endpoint.as_str(), reason = %e, "bad request");
                    return plain(StatusCode::BAD_REQUEST, &format!("Bad request: {e}"));
                }
            }
        } else {
            form
        };

        let request = Request {
            started,
            url: &url,
            signed_by,
        };
        match endpoint {
            Endpoint::Inbound => self.inbound(&query, body_params, &request).await,
            Endpoint::InboundStatus => self.status(&query, body_params, &request).await,
            Endpoint::InboundNext => self.next(&query, body_params, &request),
            Endpoint::InboundFallback => self.fallback(&query, body_params, &request).await,
            Endpoint::Outbound => self.outbound(&query, &body_params, &request),
        }
    }

    /// Checks the signature: which token signed, or why the request is refused (`None`: no
    /// token is configured).
    fn authenticate(
        &self,
        headers: &http::HeaderMap,
        url: &str,
        form: &Params,
        body: &[u8],
        is_json: bool,
    ) -> Result<SignedBy, Option<SignatureError>> {
        let tokens = match &self.config.auth {
            Auth::Unsigned => return Ok(SignedBy::Unchecked),
            Auth::Misconfigured => {
                tracing::error!(
                    "TWILIO_AUTH_TOKEN is not set: refusing the request (set the token, or ALLOW_UNSIGNED=true for testing only)"
                );
                return Err(None);
            }
            Auth::Verify(tokens) => tokens,
        };
        let given = headers
            .get(signature::HEADER)
            .map(|v| v.to_str().unwrap_or("\u{0}invalid"));
        let result = if is_json {
            tokens.verify_body(url, body, given)
        } else {
            tokens.verify(url, form, given)
        };
        result.map_err(|e: SignatureError| {
            tracing::warn!(url, reason = %e, "signature refused");
            Some(e)
        })
    }

    /// The inbound decision for a call: route lookup through the cache, with every fallback.
    async fn route(&self, params: &Params, url: &str, at: jiff::Timestamp) -> Routed {
        let config = &self.config.inbound;
        let address = inbound::called_address(params, &config.plan);
        // An unusable `To` is still a call: the `*` route answers it (looked up like any key,
        // so the cache and its fallbacks apply), then the configured default.
        let key = inbound::lookup_key(&address);
        // Routes scoped to the call's SIP domain win over unscoped ones of the same pattern.
        let scope = call_scope(params.get("SipDomain"));
        let lookup = self.store.lookup(&key, scope.as_deref()).await;
        let source = lookup.source.as_str();
        let next = next_url(url);
        // The caller matters only to a route with caller conditions: most calls skip the work.
        let has_callers = lookup
            .matched
            .as_ref()
            .is_some_and(|m| !m.route.callers.is_empty());
        let from = params
            .get("From")
            .filter(|_| has_callers)
            .and_then(|f| config.plan.caller_digits(f));
        let call = inbound::Call {
            at,
            next_url: &next,
            from: from.as_deref(),
        };
        let decision = match lookup.degraded_reason() {
            None => inbound::decide(&address, lookup.matched.as_ref(), config, &call),
            // The store failed: a cached route if there is one, else the default.
            Some(reason) => match &lookup.matched {
                Some(m) => Decision {
                    outcome: Outcome::Degraded,
                    reason: Some(reason),
                    ..inbound::decide(&address, Some(m), config, &call)
                },
                None => inbound::fallback(config, Outcome::Degraded, reason),
            },
        };
        Routed {
            address,
            decision,
            source,
            matched: lookup.matched,
            from,
        }
    }

    async fn inbound(&self, query: &Params, body: Params, request: &Request<'_>) -> HttpResponse {
        let params = merged(query, body);
        let Routed {
            address,
            decision,
            source,
            ..
        } = self
            .route(&params, request.url, jiff::Timestamp::now())
            .await;
        log_call(&params, &address, &decision, source, request);
        routed_response(&decision)
    }

    /// Twilio's fallback URL, called when the primary handler failed (an error, a timeout, a
    /// throttled function, or the whole other region down when the domain's fallback URL points
    /// here from there). The call is routed exactly as `/inbound` would route it, through the
    /// same cache and its degraded answers, so a broken store still answers at once.
    async fn fallback(&self, query: &Params, body: Params, request: &Request<'_>) -> HttpResponse {
        let params = merged(query, body);
        let Routed {
            address,
            decision,
            source,
            ..
        } = self
            .route(&params, request.url, jiff::Timestamp::now())
            .await;
        call_answered!(
            warn,
            endpoint = Endpoint::InboundFallback.as_str(),
            call_sid = params.get("CallSid").unwrap_or(""),
            did = address.as_ref().map(|a| a.as_str()).unwrap_or(""),
            pattern = decision.pattern.as_deref().unwrap_or(""),
            action = decision.action,
            outcome = decision.outcome.as_str(),
            reason = decision.reason.as_deref().unwrap_or(""),
            schedule = decision.schedule.as_ref().map_or("", |e| e.why.as_str()),
            caller_rule = decision.caller_rule.as_deref().unwrap_or(""),
            error_code = params.get("ErrorCode").unwrap_or(""),
            error_url = params.get("ErrorUrl").unwrap_or(""),
            source,
            signed_by = request.signed_by.as_str(),
            latency_us = request.started.elapsed().as_micros() as u64
        );
        routed_response(&decision)
    }

    /// The call status callback: a call routed into a Studio flow is handed back to the flow
    /// (`302` to its webhook) so Studio ends the execution; any other call gets `204`.
    async fn status(&self, query: &Params, body: Params, request: &Request<'_>) -> HttpResponse {
        let url = request.url;
        let params = merged(query, body);
        // Decided as of the call's start, so the flow is the one the call entered.
        if let Some(Err(reason)) = inbound::callback_time(&params) {
            tracing::warn!(
                endpoint = Endpoint::InboundStatus.as_str(),
                call_sid = params.get("CallSid").unwrap_or(""),
                reason = reason.as_str(),
                "status callback time unreadable: the call is dated now"
            );
        }
        let at = inbound::call_started(&params, jiff::Timestamp::now());
        let routed = self.route(&params, url, at).await;
        let next = next_url(url);
        let call = inbound::Call {
            at,
            next_url: &next,
            from: routed.from.as_deref(),
        };
        let flow = inbound::studio_flow(
            &routed.address,
            routed.matched.as_ref(),
            &self.config.inbound,
            &call,
        )
        .filter(|flow| inbound::status_may_return_to(flow, &params));
        let (address, decision, source) = (routed.address, routed.decision, routed.source);
        let mut response = http::Response::new(String::new());
        let outcome = match flow.as_deref().map(HeaderValue::from_str) {
            Some(Ok(location)) => {
                *response.status_mut() = StatusCode::FOUND;
                response.headers_mut().insert(header::LOCATION, location);
                "flow_return"
            }
            _ => {
                *response.status_mut() = StatusCode::NO_CONTENT;
                "ignored"
            }
        };
        call_answered!(
            info,
            endpoint = Endpoint::InboundStatus.as_str(),
            call_sid = params.get("CallSid").unwrap_or(""),
            did = address.as_ref().map(|a| a.as_str()).unwrap_or(""),
            call_status = params.get("CallStatus").unwrap_or(""),
            pattern = decision.pattern.as_deref().unwrap_or(""),
            outcome,
            source,
            signed_by = request.signed_by.as_str(),
            latency_us = request.started.elapsed().as_micros() as u64
        );
        response
            .headers_mut()
            .insert(OUTCOME, HeaderValue::from_static(outcome));
        response
    }

    /// A failover chain's post-back: the next target, the final action, or the end of the call.
    /// A state that cannot be read still gets an answer: the configured default.
    fn next(&self, query: &Params, body: Params, request: &Request<'_>) -> HttpResponse {
        let (started, url) = (request.started, request.url);
        let plan = &self.config.inbound.plan;
        let call_sid = body.get("CallSid").unwrap_or("").to_string();
        let status = body.get("DialCallStatus").unwrap_or("").to_string();
        match Chain::next(query, &body, &next_url(url), |state| {
            chain_from_state(state, plan)
        }) {
            Ok(step) => {
                call_answered!(
                    info,
                    endpoint = Endpoint::InboundNext.as_str(),
                    call_sid,
                    dial_call_status = status,
                    step = step.index.map_or(-1, |i| i as i64),
                    outcome = step.outcome,
                    signed_by = request.signed_by.as_str(),
                    latency_us = started.elapsed().as_micros() as u64
                );
                twiml(step.twiml.to_xml(), step.outcome)
            }
            Err(e) => {
                let decision =
                    inbound::fallback(&self.config.inbound, Outcome::BadInput, e.to_string());
                call_answered!(warn, endpoint = Endpoint::InboundNext.as_str(),
                    call_sid,
                    dial_call_status = status,
                    action = decision.action,
                    outcome = decision.outcome.as_str(),
                    reason = %e,
                    signed_by = request.signed_by.as_str(),
                    latency_us = started.elapsed().as_micros() as u64);
                let mut response = twiml(decision.twiml.to_xml(), decision.outcome.as_str());
                set_reason(&mut response, &e.to_string());
                response
            }
        }
    }

    fn outbound(&self, query: &Params, body: &Params, request: &Request<'_>) -> HttpResponse {
        let started = request.started;
        let decision = outbound::decide(query, body, &self.config.outbound);
        let call_sid = body
            .get("CallSid")
            .or_else(|| query.get("CallSid"))
            .unwrap_or("");
        match &decision.result {
            Ok(dial) => call_answered!(
                info,
                endpoint = "outbound",
                call_sid,
                did = dial.numbers.join(",").as_str(),
                action = "dial",
                outcome = "dialed",
                signed_by = request.signed_by.as_str(),
                latency_us = started.elapsed().as_micros() as u64
            ),
            Err(e) => call_answered!(warn, endpoint = "outbound",
                call_sid,
                action = "say",
                outcome = "refused",
                refusal = e.kind(),
                reason = %e,
                signed_by = request.signed_by.as_str(),
                latency_us = started.elapsed().as_micros() as u64),
        }
        let outcome = if decision.result.is_ok() {
            "dialed"
        } else {
            "refused"
        };
        let mut response = twiml(decision.twiml.to_xml(), outcome);
        if let Err(e) = &decision.result {
            set_reason(&mut response, &e.to_string());
        }
        response
    }
}

/// What every handler knows of its request besides the parameters.
struct Request<'a> {
    started: Instant,
    /// The public URL Twilio signed.
    url: &'a str,
    signed_by: SignedBy,
}

/// The TwiML answer to a routed call, with the headers that say how it was routed.
fn routed_response(decision: &Decision) -> HttpResponse {
    let mut response = twiml(decision.twiml.to_xml(), decision.outcome.as_str());
    if let Some(reason) = &decision.reason {
        set_reason(&mut response, reason);
    }
    if let Some(e) = &decision.schedule {
        response
            .headers_mut()
            .insert(SCHEDULE, HeaderValue::from_static(e.branch.as_str()));
    }
    if let Some(Ok(prefix)) = decision.caller_rule.as_deref().map(HeaderValue::from_str) {
        response.headers_mut().insert(CALLER_RULE, prefix);
    }
    response
}

/// What the route lookup for one call found and decided.
struct Routed {
    address: Result<Address, InboundError>,
    decision: Decision,
    source: &'static str,
    matched: Option<byoc_core::Match>,
    /// The caller's digits, when the matched route has caller conditions.
    from: Option<String>,
}

/// Twilio's call parameters are in the body of a POST; a GET webhook carries them in the query
/// string. The body wins when both name a parameter.
fn merged(query: &Params, body: Params) -> Params {
    let mut params = body;
    for (k, v) in query.iter() {
        params.push(k, v);
    }
    params
}

/// The one log line per inbound call.
fn log_call(
    params: &Params,
    address: &Result<Address, InboundError>,
    decision: &Decision,
    source: &str,
    request: &Request<'_>,
) {
    call_answered!(
        info,
        endpoint = Endpoint::Inbound.as_str(),
        call_sid = params.get("CallSid").unwrap_or(""),
        did = address.as_ref().map(|a| a.as_str()).unwrap_or(""),
        pattern = decision.pattern.as_deref().unwrap_or(""),
        action = decision.action,
        outcome = decision.outcome.as_str(),
        reason = decision.reason.as_deref().unwrap_or(""),
        schedule = decision.schedule.as_ref().map_or("", |e| e.why.as_str()),
        caller_rule = decision.caller_rule.as_deref().unwrap_or(""),
        source,
        signed_by = request.signed_by.as_str(),
        latency_us = request.started.elapsed().as_micros() as u64
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthToken, Tokens};
    use byoc_core::signature::sign;
    use byoc_store::{CacheConfig, MemoryStore};

    const TOKEN: &str = "test-token";

    fn app(auth: Auth) -> App {
        let store = MemoryStore::from_json(
            r#"{"routes":[{"pattern":"+13175551234","url":"https://example.com/main?a=1&b=2"}]}"#,
            "test",
            &Default::default(),
        )
        .unwrap();
        let mut config = Config::from_lookup(crate::config::Runtime::Local, |_| None).unwrap();
        config.auth = auth;
        let store = CachedStore::new(Arc::new(store), CacheConfig::default());
        App::new(config, Arc::new(store), Endpoints::ALL)
    }

    fn form_request(uri: &str, form: &[(&str, &str)], sig: Option<String>) -> HttpRequest {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut b = http::Request::builder()
            .method("POST")
            .uri(uri)
            .header("host", "router.example.com")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(sig) = sig {
            b = b.header(signature::HEADER, sig);
        }
        b.body(Bytes::from(body)).unwrap()
    }

    fn params(form: &[(&str, &str)]) -> Params {
        form.iter().copied().collect()
    }

    #[tokio::test]
    async fn signed_inbound_request_is_routed() {
        let form = [
            ("To", "sip:+13175551234@x.sip.twilio.com"),
            ("CallSid", "CA1"),
        ];
        let sig = sign(TOKEN, "http://router.example.com/inbound", &params(&form));
        let app = app(Auth::Verify(Tokens::new(AuthToken::new(TOKEN))));
        let response = app.handle(form_request("/inbound", &form, Some(sig))).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(response.headers()[OUTCOME_HEADER], "matched");
        assert!(response.body().contains("main?a=1&amp;b=2"));
    }

    #[tokio::test]
    async fn forged_and_missing_signatures_get_403() {
        let form = [("To", "+13175551234")];
        let app = app(Auth::Verify(Tokens::new(AuthToken::new(TOKEN))));
        let forged = sign("other", "http://router.example.com/inbound", &params(&form));
        let response = app
            .handle(form_request("/inbound", &form, Some(forged)))
            .await;
        assert_eq!(response.status(), 403);
        assert!(response.body().contains("does not match"));
        let response = app.handle(form_request("/inbound", &form, None)).await;
        assert_eq!(response.status(), 403);
        assert!(response.body().contains("missing X-Twilio-Signature"));
    }

    #[tokio::test]
    async fn misconfigured_auth_refuses_with_500() {
        let response = app(Auth::Misconfigured)
            .handle(form_request("/inbound", &[("To", "+13175551234")], None))
            .await;
        assert_eq!(response.status(), 500);
    }

    #[tokio::test]
    async fn paths_methods_and_sizes_are_checked() {
        let app = app(Auth::Unsigned);
        let r = app.handle(form_request("/nope", &[], None)).await;
        assert_eq!(r.status(), 404);
        let mut req = form_request("/inbound", &[], None);
        *req.method_mut() = Method::PUT;
        let r = app.handle(req).await;
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()[header::ALLOW], "GET, POST");
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        let r = app
            .handle(form_request("/inbound", &[("To", &big)], None))
            .await;
        assert_eq!(r.status(), 413);
        let r = app
            .handle(form_request(
                "/Prod/inbound/",
                &[("To", "+13175551234")],
                None,
            ))
            .await;
        assert_eq!(r.status(), 200);
    }

    #[test]
    fn public_url_prefers_configuration_then_absolute_uri_then_headers() {
        let req = http::Request::builder()
            .uri("/inbound?x=%2B1&y=a+b")
            .header("host", "abc.ngrok.app")
            .header("x-forwarded-proto", "https")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        assert_eq!(
            public_url(&parts, None),
            "https://abc.ngrok.app/inbound?x=%2B1&y=a+b"
        );
        assert_eq!(
            public_url(&parts, Some("https://voice.example.com/router")),
            "https://voice.example.com/router/inbound?x=%2B1&y=a+b"
        );
        // The API mapping key already in the path is not doubled.
        for (uri, public) in [
            (
                "/router/inbound?q=1",
                "https://voice.example.com/router/inbound?q=1",
            ),
            ("/router?q=1", "https://voice.example.com/router?q=1"),
            (
                "/routerx/inbound",
                "https://voice.example.com/router/routerx/inbound",
            ),
        ] {
            let (parts, _) = http::Request::builder()
                .uri(uri)
                .body(())
                .unwrap()
                .into_parts();
            assert_eq!(
                public_url(&parts, Some("https://voice.example.com/router")),
                public,
                "{uri}"
            );
        }
        let req = http::Request::builder()
            .uri("https://api.example.com/inbound?q=1")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        assert_eq!(
            public_url(&parts, None),
            "https://api.example.com/inbound?q=1"
        );
    }

    #[test]
    fn the_call_line_has_the_message_the_metrics_key_on() {
        // `call_answered!` writes the literal; the EMF formatter matches the constant.
        assert_eq!(crate::logging::CALL_MESSAGE, "call answered");
    }
}
