//! The webhook handler shared by the Lambda functions and `byoc serve`: one `http::Request` in,
//! one `http::Response` out, so both runtimes behave identically.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`App`]: request checks, the signature, dispatch to an endpoint |
//! | `inbound_endpoints.rs` | the inbound endpoints: routing a call, the fallback, the status callback, a chain's next step |
//! | `outbound_endpoint.rs` | the outbound endpoints: the dial, a failed-over call's next step |
//! | `call_line.rs` | [`CallLine`], the one log line per request |
//! | `endpoint.rs` | the webhooks by path |
//! | `url.rs` | the public URL Twilio signed, and the URLs built from it |
//! | `response.rs` | TwiML answers and refusals |

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};

use byoc_core::params::{Params, ParamsError};
use byoc_core::signature::{self, SignatureError};
use byoc_core::twiml::CONTENT_TYPE;
use byoc_store::CachedStore;

use crate::config::{Auth, Config, SignedBy};

/// Largest body accepted (Twilio's webhook forms are a few kB; 64 KiB leaves room for many
/// `SipHeader_X-…` parameters while bounding the work an anonymous sender can cause).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Response header that states how a request was answered (`matched`, `default`, `refused` …).
pub const OUTCOME_HEADER: &str = "x-byoc-outcome";
/// Response header with a scheduled route's branch: `open`, `closed` or `holiday`.
pub const SCHEDULE_HEADER: &str = "x-byoc-schedule";
/// Response header with the caller condition (`From` prefix) that chose the action.
pub const CALLER_RULE_HEADER: &str = "x-byoc-caller-rule";
/// Response header with a split's share that answered (from 1).
pub const SHARE_HEADER: &str = "x-byoc-share";
/// Response header that states why a call was not routed as asked, for operators.
pub const REASON_HEADER: &str = "x-byoc-reason";
/// Response header of `/inbound/fallback` answers identifying the routes they come from
/// ([`byoc_store::RouteStore::routes_id`]): `byoc twilio connect` and `check` compare two
/// regions' deployments with it. Only on the fallback URL, which calls reach only when the
/// primary failed, so the common call pays nothing for it.
pub const ROUTES_HEADER: &str = "x-byoc-routes";

// The same names as `HeaderName`s, checked once at compile time rather than on every insert.
const OUTCOME: header::HeaderName = header::HeaderName::from_static(OUTCOME_HEADER);
const SCHEDULE: header::HeaderName = header::HeaderName::from_static(SCHEDULE_HEADER);
const CALLER_RULE: header::HeaderName = header::HeaderName::from_static(CALLER_RULE_HEADER);
const REASON: header::HeaderName = header::HeaderName::from_static(REASON_HEADER);
const SHARE: header::HeaderName = header::HeaderName::from_static(SHARE_HEADER);

pub type HttpRequest = http::Request<Bytes>;
pub type HttpResponse = http::Response<String>;

mod call_line;
mod endpoint;
mod inbound_endpoints;
mod outbound_endpoint;
mod response;
mod url;

pub use call_line::CallLine;

pub use endpoint::*;
pub use response::*;
pub use url::*;

/// The application: configuration, the route store (behind its cache) and the endpoints served.
pub struct App {
    config: Config,
    /// `None` for the outbound function, which never reads routes.
    store: Option<Arc<CachedStore>>,
    endpoints: Endpoints,
}

impl App {
    pub fn new(config: Config, store: Arc<CachedStore>, endpoints: Endpoints) -> Self {
        Self {
            config,
            store: Some(store),
            endpoints,
        }
    }

    /// The outbound function's app: `/outbound` alone, and no route store.
    pub fn for_outbound(config: Config) -> Self {
        Self {
            config,
            store: None,
            endpoints: Endpoints::OUTBOUND,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> Option<&Arc<CachedStore>> {
        self.store.as_ref()
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
        // The steps are `<Dial action>`s, which the router always asks Twilio to POST.
        let post_only = matches!(endpoint, Endpoint::InboundNext | Endpoint::OutboundNext);
        if parts.method != Method::POST && (post_only || parts.method != Method::GET) {
            let (text, allow) = if post_only {
                ("Method not allowed: use POST", "POST")
            } else {
                ("Method not allowed: use POST or GET", "GET, POST")
            };
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, text);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
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
        let routes = || self.store.as_deref().map(|store| (store, &request));
        match (endpoint, routes()) {
            (Endpoint::Outbound, _) => self.outbound(&query, &body_params, &request),
            (Endpoint::OutboundNext, _) => self.outbound_next(&query, &body_params, &request),
            (Endpoint::InboundNext, _) => self.next(&query, body_params, &request),
            (Endpoint::Inbound, Some(r)) => self.inbound(&query, body_params, r).await,
            (Endpoint::InboundStatus, Some(r)) => self.status(&query, body_params, r).await,
            (Endpoint::InboundFallback, Some(r)) => self.fallback(&query, body_params, r).await,
            // An app without routes serves no endpoint that needs them (`App::for_outbound`).
            (_, None) => plain(StatusCode::NOT_FOUND, "Not found: no routes here"),
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
        let settings = || {
            headers
                .get(signature::SETTINGS_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let result = tokens.check(url, form, body, is_json, given, settings);
        result.map_err(|e: SignatureError| {
            tracing::warn!(url, reason = %e, "signature refused");
            Some(e)
        })
    }
}

/// What every handler knows of its request besides the parameters.
pub(crate) struct Request<'a> {
    started: Instant,
    /// The public URL Twilio signed.
    url: &'a str,
    signed_by: SignedBy,
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
        let app = app(Auth::Verify(Box::new(Tokens::new(AuthToken::new(TOKEN)))));
        let response = app.handle(form_request("/inbound", &form, Some(sig))).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(response.headers()[OUTCOME_HEADER], "matched");
        assert!(response.body().contains("main?a=1&amp;b=2"));
    }

    #[tokio::test]
    async fn forged_and_missing_signatures_get_403() {
        let form = [("To", "+13175551234")];
        let app = app(Auth::Verify(Box::new(Tokens::new(AuthToken::new(TOKEN)))));
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
        for step in ["/inbound/next", "/outbound/next"] {
            let mut req = form_request(step, &[], None);
            *req.method_mut() = Method::GET;
            let r = app.handle(req).await;
            assert_eq!(r.status(), 405, "{step}");
            assert_eq!(r.headers()[header::ALLOW], "POST");
        }
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
