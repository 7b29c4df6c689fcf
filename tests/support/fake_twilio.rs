//! A local fake of the Twilio REST resources `byoc twilio` uses, checking what Twilio checks:
//! HTTP Basic auth (the account SID and auth token, or an API key and secret) for the account in
//! the path, the resource paths, the form field names the API defines (twilio-oai
//! `spec/json/twilio_api_v2010.json` UpdateSipDomain) and their values; it answers with Twilio's
//! JSON shapes, pages and error bodies (401 20003, 404 20404).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{json, Value};

pub const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "fake-twilio-auth-token";
pub const API_KEY: &str = "SK0123456789abcdef0123456789abcdef";
pub const API_SECRET: &str = "fake-api-secret";

/// The fields an update of a SIP domain may set.
const DOMAIN_FIELDS: [&str; 13] = [
    "FriendlyName",
    "VoiceFallbackMethod",
    "VoiceFallbackUrl",
    "VoiceMethod",
    "VoiceStatusCallbackMethod",
    "VoiceStatusCallbackUrl",
    "VoiceUrl",
    "SipRegistration",
    "DomainName",
    "EmergencyCallingEnabled",
    "Secure",
    "ByocTrunkSid",
    "EmergencyCallerSid",
];

/// Pages hold at most this many items whatever PageSize asks, so lists span pages.
const PAGE: usize = 2;

/// A request the fake accepted: method, path, form fields.
pub type Received = (String, String, Vec<(String, String)>);

#[derive(Default)]
struct Inner {
    /// By SID, each as Twilio returns it.
    domains: BTreeMap<String, Value>,
    trunks: Vec<Value>,
    requests: Vec<Received>,
}

#[derive(Clone, Default)]
pub struct FakeTwilio {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

fn sid(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:032x}")
}

fn error(status: StatusCode, code: u32, message: &str) -> (StatusCode, String) {
    (
        status,
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })
        .to_string(),
    )
}

impl FakeTwilio {
    /// Starts it on a loopback port with these SIP domains (by name) and BYOC trunks.
    pub async fn start(domains: &[&str], trunks: &[&str]) -> Self {
        let mut inner = Inner::default();
        for (i, name) in domains.iter().enumerate() {
            let sid = sid("SD", i + 1);
            inner.domains.insert(
                sid.clone(),
                json!({
                    "account_sid": ACCOUNT,
                    "api_version": "2010-04-01",
                    "auth_type": "",
                    "sid": sid,
                    "domain_name": name,
                    "friendly_name": name,
                    "voice_url": "https://old.example.com/voice",
                    "voice_method": "POST",
                    "voice_fallback_url": null,
                    "voice_fallback_method": "POST",
                    "voice_status_callback_url": null,
                    "voice_status_callback_method": "POST",
                    "sip_registration": false,
                    "secure": false,
                    "uri": format!("/2010-04-01/Accounts/{ACCOUNT}/SIP/Domains/{sid}.json"),
                }),
            );
        }
        for (i, name) in trunks.iter().enumerate() {
            inner.trunks.push(json!({
                "account_sid": ACCOUNT,
                "sid": sid("BY", i + 1),
                "friendly_name": name,
                "voice_url": null,
                "voice_method": "POST",
                "url": format!("https://voice.twilio.com/v1/ByocTrunks/{}", sid("BY", i + 1)),
            }));
        }
        let mut fake = FakeTwilio {
            inner: Arc::new(Mutex::new(inner)),
            base_url: String::new(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        fake.base_url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        // Ends with the test's runtime.
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    pub fn requests(&self) -> Vec<Received> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn domain(&self, name: &str) -> Value {
        let inner = self.inner.lock().unwrap();
        inner
            .domains
            .values()
            .find(|d| d["domain_name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Sets a domain field as if someone changed it in the console.
    pub fn set(&self, name: &str, field: &str, value: Value) {
        let mut inner = self.inner.lock().unwrap();
        let domain = inner
            .domains
            .values_mut()
            .find(|d| d["domain_name"] == name)
            .unwrap();
        domain[field] = value;
    }

    /// The environment that points `byoc` at this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("TWILIO_API_BASE_URL".into(), self.base_url.clone()),
            ("TWILIO_VOICE_API_BASE_URL".into(), self.base_url.clone()),
            ("TWILIO_ACCOUNT_SID".into(), ACCOUNT.into()),
        ]
    }
}

fn authorized(headers: &HeaderMap, account: &str) -> bool {
    use base64::Engine as _;
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    account == ACCOUNT && (given == basic(ACCOUNT, TOKEN) || given == basic(API_KEY, API_SECRET))
}

fn query(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Items of one page (`Page` numbers from 0) and whether more follow.
fn page(items: Vec<Value>, uri: &Uri) -> (Vec<Value>, bool) {
    let number: usize = query(uri, "Page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let size = query(uri, "PageSize")
        .and_then(|p| p.parse().ok())
        .unwrap_or(50usize)
        .clamp(1, PAGE);
    let more = items.len() > (number + 1) * size;
    (
        items.into_iter().skip(number * size).take(size).collect(),
        more,
    )
}

async fn handle(
    State(fake): State<FakeTwilio>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let path = uri.path().to_string();
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let account = match parts.as_slice() {
        ["2010-04-01", "Accounts", account, ..] => account.to_string(),
        ["v1", "ByocTrunks"] => ACCOUNT.to_string(),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                20404,
                &format!("The requested resource {path} was not found"),
            )
        }
    };
    if !authorized(&headers, &account) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let mut inner = fake.inner.lock().unwrap();
    inner
        .requests
        .push((method.to_string(), path.clone(), form.clone()));
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["2010-04-01", "Accounts", _, "SIP", "Domains.json"]) => {
            let (items, more) = page(inner.domains.values().cloned().collect(), &uri);
            let number: usize = query(&uri, "Page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let next = more.then(|| {
                format!(
                    "/2010-04-01/Accounts/{ACCOUNT}/SIP/Domains.json?PageSize={PAGE}&Page={}&PageToken=PA{}",
                    number + 1,
                    number + 1
                )
            });
            (
                StatusCode::OK,
                json!({"domains": items, "next_page_uri": next, "page": number, "page_size": PAGE})
                    .to_string(),
            )
        }
        (m @ ("GET" | "POST"), ["2010-04-01", "Accounts", _, "SIP", "Domains", file]) => {
            let sid = file.trim_end_matches(".json").to_string();
            let Some(domain) = inner.domains.get_mut(&sid) else {
                return error(
                    StatusCode::NOT_FOUND,
                    20404,
                    &format!("The requested resource {path} was not found"),
                );
            };
            if m == "GET" {
                return (StatusCode::OK, domain.to_string());
            }
            let name = domain["domain_name"].as_str().unwrap_or("").to_string();
            if name.starts_with("behind-proxy.") {
                return (
                    StatusCode::BAD_GATEWAY,
                    "<html><body>502 Bad Gateway</body></html>".into(),
                );
            }
            if name.starts_with("locked.") {
                return error(
                    StatusCode::BAD_REQUEST,
                    21502,
                    "This SIP domain is managed by another application",
                );
            }
            // Validated as a whole before any field is applied, as Twilio does.
            for (k, v) in &form {
                if !DOMAIN_FIELDS.contains(&k.as_str()) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        20001,
                        &format!("Unknown parameter {k}"),
                    );
                }
                if k.ends_with("Method") && !["GET", "POST"].contains(&v.as_str()) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        20001,
                        &format!("{k} must be GET or POST"),
                    );
                }
                if k.ends_with("Url") && !(v.starts_with("https://") || v.starts_with("http://")) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        21502,
                        &format!("{k} is not a valid URL"),
                    );
                }
            }
            for (k, v) in &form {
                // VoiceStatusCallbackUrl → voice_status_callback_url
                let mut snake = String::new();
                for (i, c) in k.chars().enumerate() {
                    if c.is_ascii_uppercase() && i > 0 {
                        snake.push('_');
                    }
                    snake.push(c.to_ascii_lowercase());
                }
                domain[snake] = Value::String(v.clone());
            }
            (StatusCode::OK, domain.to_string())
        }
        ("GET", ["v1", "ByocTrunks"]) => {
            let (items, more) = page(inner.trunks.clone(), &uri);
            let number: usize = query(&uri, "Page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let next = more.then(|| {
                format!(
                    "https://voice.twilio.com/v1/ByocTrunks?PageSize={PAGE}&Page={}&PageToken=PA{}",
                    number + 1,
                    number + 1
                )
            });
            (
                StatusCode::OK,
                json!({"byoc_trunks": items, "meta": {"key": "byoc_trunks", "next_page_url": next, "page": number, "page_size": PAGE}})
                    .to_string(),
            )
        }
        _ => error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource {path} was not found"),
        ),
    }
}
