//! Bad input at the HTTP edge, table-driven, through `byoc serve` and through the real Lambda
//! binaries: every case states its status, any TwiML must parse with a `<Response>` root, and
//! every refusal carries its reason.

use std::collections::HashMap;

use base64::Engine as _;
use byoc_core::params::Params;
use byoc_core::signature::{body_sha256, sign};
use byoc_e2e::twiml::{find, parse};
use byoc_e2e::{form, http_api_event, Lambda, Serve};

const TOKEN: &str = "hardening-test-token";
const TRUNK: &str = "BY0123456789abcdef0123456789abcdef";
/// The URL base API Gateway events are signed against (the host in `http_api_event`).
const GATEWAY: &str = "https://abc123xyz0.execute-api.us-east-1.amazonaws.com";

/// Routes whose text and URLs carry every XML special character.
const ROUTES: &str = r#"{"routes": [
  {"pattern": "+13175551234", "action": "say", "text": "Hello <caller> & \"friends\" 'ok'\nline\ttwo", "voice": "Polly.Joanna"},
  {"pattern": "+13175551235", "url": "https://x.example.com/a?b=1&c=<2>&d=\"q\"&e='s'"},
  {"pattern": "+13175551236", "action": "dial", "number": "+13175550000", "byoc": "BY0123456789abcdef0123456789abcdef"},
  {"pattern": "*", "url": "https://x.example.com/default?a=1&b=2"}
]}"#;

#[derive(Clone)]
enum Sig {
    /// What Twilio would send for this request.
    Valid,
    Missing,
    Empty,
    Garbled,
    /// Valid for this other body, sent with the case's body.
    ReplayedFrom(Vec<u8>),
}

#[derive(Clone)]
struct Req {
    method: &'static str,
    /// Path and query.
    target: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    sig: Sig,
}

enum Expect {
    /// 200 with TwiML, this outcome header, and a reason containing the text (if any).
    Twiml(&'static str, Option<&'static str>),
    /// This status, a plain-text reason containing the text.
    Refused(u16, &'static str),
}

struct Case {
    name: &'static str,
    req: Req,
    expect: Expect,
}

fn post(target: &str, body: impl Into<Vec<u8>>) -> Req {
    Req {
        method: "POST",
        target: target.to_string(),
        content_type: Some("application/x-www-form-urlencoded"),
        body: body.into(),
        sig: Sig::Valid,
    }
}

fn call(to: &str) -> Vec<u8> {
    form(&[("CallSid", "CA1"), ("To", to), ("From", "+13175550123")]).into_bytes()
}

fn outbound(pairs: &[(&str, &str)]) -> Req {
    let mut all = vec![("CallSid", "CA2"), ("From", "+13175550123")];
    all.extend_from_slice(pairs);
    post("/outbound", form(&all))
}

fn cases() -> Vec<Case> {
    use Expect::*;
    let c = |name, req, expect| Case { name, req, expect };
    let with = |mut req: Req, f: &dyn Fn(&mut Req)| {
        f(&mut req);
        req
    };
    let json_body = b"[\"To\", \"+13175551234\"]".to_vec();
    let json_target = format!("/inbound?bodySHA256={}", body_sha256(&json_body));
    let long_to = format!("sip:{}@example.sip.twilio.com", "1".repeat(10 * 1024));
    let big = format!("To=%2B13175551234&Pad={}", "x".repeat(70 * 1024));
    vec![
        c(
            "empty body",
            post("/inbound", ""),
            Twiml("bad_input", Some("no `To`")),
        ),
        c(
            "no content type",
            with(post("/inbound", call("+13175551235")), &|r| {
                r.content_type = None
            }),
            Twiml("matched", None),
        ),
        c(
            "wrong content type",
            with(post("/inbound", call("+13175551235")), &|r| {
                r.content_type = Some("text/plain")
            }),
            Twiml("matched", None),
        ),
        c(
            "invalid UTF-8",
            post("/inbound", b"CallSid=CA1&To=\xff\xfe%2B1317\xc3".to_vec()),
            Twiml("bad_input", Some("not allowed in a literal")),
        ),
        c(
            "invalid percent-encoding",
            post("/inbound", "CallSid=CA1&To=%ZZ%2&From=%"),
            Twiml("bad_input", Some("not allowed in a literal")),
        ),
        c(
            "duplicated parameters (the first To counts)",
            post(
                "/inbound",
                "To=%2B13175551235&To=%2B13175551234&CallSid=CA1&CallSid=CA2",
            ),
            Twiml("matched", None),
        ),
        c(
            "a 10 KB To",
            post("/inbound", call(&long_to)),
            Twiml("bad_input", Some("longer than 2048")),
        ),
        c(
            "body over 64 KiB",
            post("/inbound", big),
            Refused(413, "over 64 KiB"),
        ),
        c(
            "JSON that is not an object",
            with(post(&json_target, json_body.clone()), &|r| {
                r.content_type = Some("application/json")
            }),
            Refused(400, "not an object"),
        ),
        c(
            "JSON that is not JSON",
            with(
                post(
                    &format!("/inbound?bodySHA256={}", body_sha256(b"{nope")),
                    "{nope",
                ),
                &|r| r.content_type = Some("application/json"),
            ),
            Refused(400, "not valid JSON"),
        ),
        c(
            "unknown path",
            post("/admin", call("+13175551234")),
            Refused(404, "Not found"),
        ),
        c(
            "unknown method",
            with(post("/inbound", call("+13175551234")), &|r| {
                r.method = "PUT"
            }),
            Refused(405, "use POST or GET"),
        ),
        c(
            "DELETE",
            with(post("/outbound", ""), &|r| r.method = "DELETE"),
            Refused(405, "use POST or GET"),
        ),
        c(
            "missing signature",
            with(post("/inbound", call("+13175551234")), &|r| {
                r.sig = Sig::Missing
            }),
            Refused(403, "missing X-Twilio-Signature"),
        ),
        c(
            "empty signature",
            with(post("/inbound", call("+13175551234")), &|r| {
                r.sig = Sig::Empty
            }),
            Refused(403, "missing X-Twilio-Signature"),
        ),
        c(
            "garbled signature",
            with(post("/inbound", call("+13175551234")), &|r| {
                r.sig = Sig::Garbled
            }),
            Refused(403, "not a base64 HMAC-SHA1"),
        ),
        c(
            "replayed with a changed To",
            with(post("/inbound", call("+19005550000")), &|r| {
                r.sig = Sig::ReplayedFrom(call("+13175551234"))
            }),
            Refused(403, "does not match"),
        ),
        c(
            "XML specials and control characters in To",
            post("/inbound", call("sip:<&\"'>\u{1}\u{7f}@h")),
            Twiml("bad_input", Some("not allowed in a literal")),
        ),
        c(
            "XML specials in say text",
            post("/inbound", call("+13175551234")),
            Twiml("matched", None),
        ),
        c(
            "XML specials in a route URL",
            post("/inbound", call("+13175551235")),
            Twiml("matched", None),
        ),
        c(
            "number too long",
            post("/inbound", call("+1317555123456789")),
            Twiml("bad_input", Some("more than 15 digits")),
        ),
        c(
            "number too short",
            post("/inbound", call("+12")),
            Twiml("bad_input", Some("fewer than 3 digits")),
        ),
        c(
            "all zeros",
            post("/inbound", call("+0000000000")),
            Twiml("bad_input", Some("never starts with 0")),
        ),
        c(
            "outbound: XML specials in OUTBOUND_DID",
            outbound(&[
                ("OUTBOUND_DID", "+1317<&>\"'\u{1}"),
                ("BYOC_TRUNK_SID", TRUNK),
            ]),
            Twiml("refused", Some("not a number")),
        ),
        c(
            "outbound: XML specials in CALLER_ID",
            outbound(&[
                ("OUTBOUND_DID", "+13175551234"),
                ("CALLER_ID", "+1<&>\"'"),
                ("BYOC_TRUNK_SID", TRUNK),
            ]),
            Twiml("refused", Some("CALLER_ID")),
        ),
        c(
            "outbound: 16 digits",
            outbound(&[
                ("OUTBOUND_DID", "+1317555123456789"),
                ("BYOC_TRUNK_SID", TRUNK),
            ]),
            Twiml("refused", Some("more than 15 digits")),
        ),
        c(
            "outbound: too short",
            outbound(&[("OUTBOUND_DID", "+12"), ("BYOC_TRUNK_SID", TRUNK)]),
            Twiml("refused", Some("fewer than 3 digits")),
        ),
        c(
            "outbound: all zeros",
            outbound(&[("OUTBOUND_DID", "0000000000"), ("BYOC_TRUNK_SID", TRUNK)]),
            Twiml("refused", Some("never starts with 0")),
        ),
        c(
            "outbound: NANP zeros",
            outbound(&[("OUTBOUND_DID", "+10000000000"), ("BYOC_TRUNK_SID", TRUNK)]),
            Twiml("refused", Some("area code and exchange")),
        ),
        c(
            "outbound: all zeros, E.164",
            outbound(&[("OUTBOUND_DID", "+0000000000"), ("BYOC_TRUNK_SID", TRUNK)]),
            Twiml("refused", Some("never starts with 0")),
        ),
        c(
            "outbound: SID of the wrong prefix",
            outbound(&[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", "AC0123456789abcdef0123456789abcdef"),
            ]),
            Twiml("refused", Some("BYOC_TRUNK_SID")),
        ),
        c(
            "outbound: SID of the wrong length",
            outbound(&[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", "BY0123456789abcdef"),
            ]),
            Twiml("refused", Some("BYOC_TRUNK_SID")),
        ),
        c(
            "outbound: SID of the wrong alphabet",
            outbound(&[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", "BYzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
            ]),
            Twiml("refused", Some("BYOC_TRUNK_SID")),
        ),
        c(
            "outbound: SID with XML specials",
            outbound(&[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", "BY<&>\"'"),
            ]),
            Twiml("refused", Some("BYOC_TRUNK_SID")),
        ),
        c(
            "outbound: empty body",
            post("/outbound", ""),
            Twiml("refused", Some("missing OUTBOUND_DID")),
        ),
        c(
            "chain step without its state",
            post("/inbound/next?i=1", "CallSid=CA1&DialCallStatus=busy"),
            Twiml("bad_input", Some("chain state (`c`) is missing")),
        ),
        c(
            "chain step with a forged state",
            post("/inbound/next?c=e30&i=1", "CallSid=CA1&DialCallStatus=busy"),
            Twiml("bad_input", Some("missing field `targets`")),
        ),
        c(
            "chain step past the last target",
            post(
                "/inbound/next?c=eyJ0YXJnZXRzIjpbeyJjbGllbnQiOiJhIn1dfQ&i=7",
                "CallSid=CA1&DialCallStatus=busy",
            ),
            Twiml("bad_input", Some("not a target number")),
        ),
    ]
}

struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

/// The signature header for `req` sent to `base`.
fn signature(base: &str, req: &Req) -> Option<String> {
    let url = format!("{base}{}", req.target);
    let is_json = req.content_type.is_some_and(|t| t.contains("json"));
    let sign_body = |body: &[u8]| {
        let params = if is_json {
            Params::new()
        } else {
            Params::from_form(body)
        };
        sign(TOKEN, &url, &params)
    };
    match &req.sig {
        Sig::Valid => Some(sign_body(&req.body)),
        Sig::Missing => None,
        Sig::Empty => Some(String::new()),
        Sig::Garbled => Some("not%base64!!".into()),
        Sig::ReplayedFrom(other) => Some(sign_body(other)),
    }
}

fn check(case: &Case, target: &str, resp: &Resp) {
    let name = format!("{target}: {}", case.name);
    let reason = resp
        .headers
        .get("x-byoc-reason")
        .cloned()
        .unwrap_or_default();
    match &case.expect {
        Expect::Twiml(outcome, why) => {
            assert_eq!(resp.status, 200, "{name}: {}", resp.body);
            let twiml = parse(&resp.body);
            assert_eq!(twiml[0].path, "Response", "{name}");
            assert_eq!(
                resp.headers.get("x-byoc-outcome").map(String::as_str),
                Some(*outcome),
                "{name}: {reason}"
            );
            if let Some(why) = why {
                assert!(reason.contains(why), "{name}: reason {reason:?}");
            }
            if *outcome == "refused" {
                assert!(find(&twiml, "Response/Say").text.len() > 1, "{name}");
            }
        }
        Expect::Refused(status, why) => {
            assert_eq!(resp.status, *status, "{name}: {}", resp.body);
            assert!(resp.body.contains(why), "{name}: body {:?}", resp.body);
            assert!(reason.contains(why), "{name}: reason {reason:?}");
        }
    }
}

fn routes_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("routes.json");
    std::fs::write(&path, ROUTES).unwrap();
    path.display().to_string()
}

const ENV: &[(&str, &str)] = &[
    ("TWILIO_AUTH_TOKEN", TOKEN),
    ("OUTBOUND_ALLOWED_PREFIXES", "+1,+44"),
];

/// The special-character routes answer with exactly the text and URLs stored.
fn check_specials(case: &Case, body: &str) {
    match case.name {
        "XML specials in say text" => assert_eq!(
            find(&parse(body), "Response/Say").text,
            "Hello <caller> & \"friends\" 'ok'\nline\ttwo"
        ),
        "XML specials in a route URL" => assert_eq!(
            find(&parse(body), "Response/Redirect").text,
            "https://x.example.com/a?b=1&c=<2>&d=\"q\"&e='s'"
        ),
        _ => {}
    }
}

#[tokio::test]
async fn bad_input_through_byoc_serve() {
    let dir = tempfile::tempdir().unwrap();
    let routes = routes_file(&dir);
    let serve = Serve::start(&["--routes", &routes], ENV).await;
    let client = reqwest::Client::new();
    for case in cases() {
        let req = &case.req;
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut builder = client
            .request(method, serve.url(&req.target))
            .body(req.body.clone());
        if let Some(t) = req.content_type {
            builder = builder.header("content-type", t);
        }
        if let Some(sig) = signature(&serve.base_url, req) {
            builder = builder.header("x-twilio-signature", sig);
        }
        let response = builder.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response.text().await.unwrap();
        let resp = Resp {
            status,
            headers,
            body,
        };
        check(&case, "serve", &resp);
        check_specials(&case, &resp.body);
    }
    assert!(
        !serve.stderr.text().contains("panicked"),
        "{}",
        serve.stderr.text()
    );
}

/// An HTTP API event for `req`, its body base64-encoded as API Gateway sends forms.
fn gateway_event(req: &Req) -> serde_json::Value {
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(t) = req.content_type {
        headers.push(("content-type", t));
    }
    let sig = signature(GATEWAY, req);
    if let Some(sig) = &sig {
        headers.push(("x-twilio-signature", sig));
    }
    let mut event = http_api_event(req.method, path, query, None, &headers);
    event["body"] = base64::engine::general_purpose::STANDARD
        .encode(&req.body)
        .into();
    event["isBase64Encoded"] = true.into();
    event
}

async fn invoke(lambda: &mut Lambda, event: &serde_json::Value) -> Resp {
    let proxy = lambda.invoke(event).await.proxy();
    Resp {
        status: proxy.status,
        headers: proxy.headers,
        body: proxy.body,
    }
}

#[tokio::test]
async fn bad_input_through_the_lambda_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let routes = routes_file(&dir);
    let mut env = ENV.to_vec();
    env.push(("ROUTES_FILE", routes.as_str()));
    let mut inbound = Lambda::start("inbound", &env).await;
    let mut outbound = Lambda::start("outbound", &env).await;
    for case in cases() {
        let event = gateway_event(&case.req);
        let lambda = if case.req.target.starts_with("/outbound") {
            &mut outbound
        } else {
            &mut inbound
        };
        let resp = invoke(lambda, &event).await;
        check(&case, "lambda", &resp);
        check_specials(&case, &resp.body);
    }

    // Events only API Gateway can produce: each is answered 400 with its reason, and the
    // process keeps serving.
    let good = gateway_event(&post("/inbound", call("+13175551235")));
    let mut bad_base64 = good.clone();
    bad_base64["body"] = "Q2FsbFNpZD1DQTEmVG89%%%not base64".into();
    let mut bad_query = good.clone();
    bad_query["rawQueryString"] = "a=1 2&b=\"<>\"".into();
    let mut bad_host = good.clone();
    bad_host["headers"]["host"] = "exa mple.com:99999".into();
    let mut bad_proto = good.clone();
    bad_proto["headers"]["x-forwarded-proto"] = "ht tp".into();
    for (name, event, why) in [
        ("invalid base64", &bad_base64, "not valid base64"),
        ("a query http refuses", &bad_query, "cannot be read"),
        ("a Host url refuses", &bad_host, "cannot be read"),
        (
            "an X-Forwarded-Proto url refuses",
            &bad_proto,
            "cannot be read",
        ),
    ] {
        let resp = invoke(&mut inbound, event).await;
        assert_eq!(resp.status, 400, "{name}: {}", resp.body);
        assert!(resp.body.contains(why), "{name}: {}", resp.body);
        assert!(
            resp.headers
                .get("x-byoc-reason")
                .is_some_and(|r| r.contains(why)),
            "{name}"
        );
        let after = invoke(&mut inbound, &good).await;
        assert_eq!(after.status, 200, "after {name}: {}", after.body);
    }
    // Headers HTTP cannot carry (a control byte or DEL in a value, a space in a name): the event
    // is still read (not a Lambda DeserializeError, which API Gateway answers 500) and the
    // request answered for what it is: without a readable signature, 403.
    let mut odd = good.clone();
    odd["headers"]["x-twilio-signature"] = "abc\u{1}def".into();
    odd["headers"]["x-del"] = "\u{7f}".into();
    odd["headers"]["bad name"] = "x".into();
    let resp = invoke(&mut inbound, &odd).await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    // Refused before lambda_http could panic: no panic message in the log.
    assert!(
        !inbound.stderr.text().contains("panicked"),
        "{}",
        inbound.stderr.text()
    );
    // A REST API (payload 1.0) event with bad base64 gets the REST response format.
    let mut rest = byoc_e2e::event("inbound-rest-v1.json");
    rest["body"] = "%%%".into();
    rest["isBase64Encoded"] = true.into();
    let outcome = inbound.invoke(&rest).await;
    let proxy = outcome.proxy();
    assert_eq!(proxy.status, 400);
    assert!(proxy.body.contains("not valid base64"), "{}", proxy.body);
}
