//! The outbound webhook, table-driven: every input source, every option and every policy outcome,
//! through `byoc serve` and through the real Lambda binary, with TwiML parsed; and `byoc call`
//! against a local fake of Twilio's Calls API.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use byoc_e2e::twiml::{find, has, parse, Element};
use byoc_e2e::{binary, form, http_api_event, Lambda, Serve};

const TRUNK: &str = "BY0123456789abcdef0123456789abcdef";
const DEFAULT_TRUNK: &str = "BYfedcba9876543210fedcba9876543210";

/// Where the parameters are sent.
#[derive(Clone, Copy, Debug)]
enum Via {
    Query,
    Form,
    Json,
    /// Widget style: listed parameters in the query, Twilio's call parameters in a form body.
    Split,
    /// A query string exactly as a widget URL written by hand sends it (an unencoded `+`).
    Raw(&'static str),
}

enum Expect {
    /// Numbers dialled, in order, and Dial attributes expected.
    Dial(
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
    ),
    /// A refusal whose reason contains this text.
    Refused(&'static str),
    /// A refusal sent back to ACTION_URL, with this refusal kind.
    Returned(&'static str),
}

struct Case {
    name: &'static str,
    via: Via,
    params: &'static [(&'static str, &'static str)],
    expect: Expect,
}

const CALL: &[(&str, &str)] = &[("CallSid", "CA42"), ("From", "+13175550123")];
const FLOW_RETURN: &str =
    "https://webhooks.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/Flows/FW0123456789abcdef0123456789abcdef?FlowEvent=return";

fn cases() -> Vec<Case> {
    use Expect::*;
    use Via::*;
    let c = |name, via, params, expect| Case {
        name,
        via,
        params,
        expect,
    };
    vec![
        c("query", Query, &[("OUTBOUND_DID", "3175551234"), ("BYOC_TRUNK_SID", TRUNK)], Dial(&["+13175551234"], &[])),
        c("form", Form, &[("OUTBOUND_DID", "+1 (317) 555-1234"), ("BYOC_TRUNK_SID", TRUNK)], Dial(&["+13175551234"], &[("callerId", "+13175550123")])),
        c("json", Json, &[("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", TRUNK)], Dial(&["+13175551234"], &[])),
        c("widget split, caller ID from the call", Split, &[("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", TRUNK)], Dial(&["+13175551234"], &[("callerId", "+13175550123")])),
        c("default trunk", Query, &[("OUTBOUND_DID", "+13175551234")], Dial(&["+13175551234"], &[])),
        c("every option", Split, &[
            ("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", TRUNK), ("CALLER_ID", "+13175550000"),
            ("TIMEOUT", "20"), ("TIME_LIMIT", "600"), ("ANSWER_ON_BRIDGE", "true"),
            ("RECORD", "record-from-ringing"), ("RING_TONE", "us"),
            ("ACTION_URL", "https://webhooks.twilio.com/v1/Accounts/AC0/Flows/FW0?FlowEvent=return&x=1"),
            ("ACTION_METHOD", "POST"),
        ], Dial(&["+13175551234"], &[
            ("callerId", "+13175550000"), ("timeout", "20"), ("timeLimit", "600"), ("answerOnBridge", "true"),
            ("record", "record-from-ringing"), ("ringTone", "us"),
            ("action", "https://webhooks.twilio.com/v1/Accounts/AC0/Flows/FW0?FlowEvent=return&x=1"), ("method", "POST"),
        ])),
        c("simultaneous ring", Query, &[("OUTBOUND_DID", "+13175551234,+13175550001"), ("OUTBOUND_DID", "+442071234567")], Dial(&["+13175551234", "+13175550001", "+442071234567"], &[])),
        c("premium rate", Query, &[("OUTBOUND_DID", "+19005551234")], Refused("denied by policy (prefix +1900: NANP premium rate")),
        c("premium exchange 976", Query, &[("OUTBOUND_DID", "+12129765555")], Refused("prefix +1XXX976")),
        c("NANP country outside the US and Canada", Query, &[("OUTBOUND_DID", "+18765551234")], Refused("Jamaica, outside the US and Canada")),
        c("unencoded +", Raw("OUTBOUND_DID=+442071234567"), &[], Dial(&["+442071234567"], &[])),
        c("outside the allowed countries", Query, &[("OUTBOUND_DID", "+33123456789")], Refused("outside the allowed destinations (+1,+44)")),
        c("emergency", Query, &[("OUTBOUND_DID", "911")], Refused("emergency number")),
        c("not a number", Query, &[("OUTBOUND_DID", "undefined")], Refused("is not a phone number")),
        c("missing number", Form, &[("BYOC_TRUNK_SID", TRUNK)], Refused("missing OUTBOUND_DID")),
        c("bad trunk", Query, &[("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", "AC0123456789abcdef0123456789abcdef")], Refused("not a BYOC trunk SID")),
        c("too many numbers", Query, &[("OUTBOUND_DID", "+13175550001,+13175550002,+13175550003,+13175550004,+13175550005,+13175550006,+13175550007,+13175550008,+13175550009,+13175550010,+13175550011")], Refused("more than 10 numbers")),
        c("bad option", Query, &[("OUTBOUND_DID", "+13175551234"), ("RECORD", "yes")], Refused("RECORD")),
        c("caller ID not allowed", Query, &[("OUTBOUND_DID", "+13175551234"), ("CALLER_ID", "+13175559999")], Refused("not in OUTBOUND_ALLOWED_CALLER_IDS")),
        // A widget left at GET: Twilio puts the call's own parameters in the query string.
        c("GET widget keeps the caller's From", Query, &[("OUTBOUND_DID", "+13175551234"), ("From", "+13175550123")], Dial(&["+13175551234"], &[("callerId", "+13175550123")])),
        // `OUTBOUND_DID={{trigger.call.From}}` without url_encode: the SIP URI's `+` decodes to a
        // space. Singapore (refused here: only +1 and +44 are allowed), never Tampa's +1 656.
        c("unencoded SIP From in the widget URL", Raw("OUTBOUND_DID=sip:+6562345678@203.0.113.10"), &[], Refused("+6562345678 is outside the allowed destinations")),
        c("unencoded SIP From in a form", Form, &[("OUTBOUND_DID", "sip: 6562345678@203.0.113.10")], Refused("+6562345678 is outside the allowed destinations")),
        // A refusal goes back to the flow when the widget gave ACTION_URL.
        c("refused, back to the flow: no number", Query, &[("ACTION_URL", FLOW_RETURN)], Returned("bad_number")),
        c("refused, back to the flow: a SIP domain SID", Query, &[("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", "SD0123456789abcdef0123456789abcdef"), ("ACTION_URL", FLOW_RETURN)], Returned("bad_trunk")),
        c("refused, back to the flow: premium rate", Query, &[("OUTBOUND_DID", "+19005551234"), ("ACTION_URL", FLOW_RETURN)], Returned("policy_destination")),
    ]
}

const ENV: &[(&str, &str)] = &[
    ("BYOC_TRUNK_SID", DEFAULT_TRUNK),
    ("OUTBOUND_ALLOWED_PREFIXES", "+1,+44"),
    ("OUTBOUND_ALLOWED_CALLER_IDS", "+13175550000,+13175550123"),
    ("OUTBOUND_REFUSAL_MESSAGE", "Not allowed & goodbye"),
];

/// (path with query, body content type and bytes) for a case.
fn request(case: &Case) -> (String, Option<(&'static str, Vec<u8>)>) {
    let all: Vec<(&str, &str)> = case.params.to_vec();
    match case.via {
        Via::Query => (format!("/outbound?{}", form(&all)), None),
        Via::Form => {
            let mut body = all;
            body.extend_from_slice(CALL);
            (
                "/outbound".into(),
                Some((
                    "application/x-www-form-urlencoded",
                    form(&body).into_bytes(),
                )),
            )
        }
        Via::Json => {
            let map: serde_json::Map<String, serde_json::Value> = all
                .iter()
                .map(|(k, v)| (k.to_string(), (*v).into()))
                .collect();
            (
                "/outbound".into(),
                Some(("application/json", serde_json::to_vec(&map).unwrap())),
            )
        }
        Via::Raw(query) => (format!("/outbound?{query}"), None),
        Via::Split => (
            format!("/outbound?{}", form(&all)),
            Some(("application/x-www-form-urlencoded", form(CALL).into_bytes())),
        ),
    }
}

fn check(case: &Case, status: u16, headers: &dyn Fn(&str) -> Option<String>, body: &str) {
    assert_eq!(status, 200, "{}: {body}", case.name);
    let twiml = parse(body);
    match &case.expect {
        Expect::Dial(numbers, attrs) => {
            assert_eq!(
                headers("x-byoc-outcome").as_deref(),
                Some("dialed"),
                "{}",
                case.name
            );
            let dialled: Vec<&Element> = twiml
                .iter()
                .filter(|e| e.path == "Response/Dial/Number")
                .collect();
            let got: Vec<&str> = dialled.iter().map(|e| e.text.as_str()).collect();
            assert_eq!(&got, numbers, "{}", case.name);
            let trunk = if case.params.iter().any(|(k, _)| *k == "BYOC_TRUNK_SID") {
                TRUNK
            } else {
                DEFAULT_TRUNK
            };
            assert!(
                dialled.iter().all(|e| e.attr("byoc") == Some(trunk)),
                "{}",
                case.name
            );
            let dial = find(&twiml, "Response/Dial");
            for (name, value) in *attrs {
                assert_eq!(dial.attr(name), Some(*value), "{}: {name}", case.name);
            }
            if attrs.is_empty() {
                assert!(dial.attrs.is_empty(), "{}: {:?}", case.name, dial.attrs);
            }
        }
        Expect::Refused(reason) => {
            assert_eq!(
                headers("x-byoc-outcome").as_deref(),
                Some("refused"),
                "{}",
                case.name
            );
            let header = headers("x-byoc-reason").unwrap_or_default();
            assert!(header.contains(reason), "{}: {header}", case.name);
            assert!(!has(&twiml, "Response/Dial"), "{}", case.name);
            assert_eq!(find(&twiml, "Response/Say").text, "Not allowed & goodbye");
            assert!(has(&twiml, "Response/Hangup"));
        }
        Expect::Returned(kind) => {
            assert_eq!(
                headers("x-byoc-outcome").as_deref(),
                Some("refused"),
                "{}",
                case.name
            );
            assert!(!has(&twiml, "Response/Dial"), "{}", case.name);
            assert!(!has(&twiml, "Response/Say"), "{}", case.name);
            let redirect = find(&twiml, "Response/Redirect");
            assert_eq!(
                redirect.text,
                format!(
                    "{FLOW_RETURN}&DialCallStatus=failed&ByocOutcome=refused&ByocRefusal={kind}"
                ),
                "{}",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn every_case_through_byoc_serve() {
    let serve = Serve::start(&[], ENV).await;
    let client = reqwest::Client::new();
    for case in cases() {
        let (path, body) = request(&case);
        let mut req = client.post(serve.url(&path));
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        check(
            &case,
            status,
            &|h| headers.get(h).map(|v| v.to_str().unwrap().to_string()),
            &text,
        );
    }
}

#[tokio::test]
async fn every_case_through_the_lambda_binary() {
    let mut env = ENV.to_vec();
    env.push(("ALLOW_UNSIGNED", "true"));
    let mut lambda = Lambda::start("outbound", &env).await;
    for case in cases() {
        let (path, body) = request(&case);
        let (path, query) = path.split_once('?').unwrap_or((&path, ""));
        let event = http_api_event(
            "POST",
            path,
            query,
            body.as_ref().map(|(t, b)| (*t, b.as_slice())),
            &[],
        );
        let response = lambda.invoke(&event).await.proxy();
        check(
            &case,
            response.status,
            &|h| response.headers.get(h).cloned(),
            &response.body,
        );
    }
    // Each refusal is logged with its kind, for the metric and the operator.
    let refusals = lambda
        .stderr
        .lines()
        .into_iter()
        .filter(|l| l.contains("\"outcome\":\"refused\""))
        .count();
    assert_eq!(
        refusals,
        cases()
            .iter()
            .filter(|c| matches!(c.expect, Expect::Refused(_) | Expect::Returned(_)))
            .count()
    );
    assert!(lambda
        .stderr
        .text()
        .contains("\"refusal\":\"policy_emergency\""));
}

/// A fake of Twilio's `POST /2010-04-01/Accounts/{sid}/Calls.json` that checks what it is sent.
/// (account SID from the path, form fields) of each accepted request.
type Received = Vec<(String, Vec<(String, String)>)>;

#[derive(Default, Clone)]
struct Fake {
    requests: Arc<Mutex<Received>>,
    /// Each call placed and how it will end.
    calls: Arc<Mutex<Vec<(String, &'static str)>>>,
    /// The SIDs polled, in order.
    polls: Arc<Mutex<Vec<String>>>,
}

async fn calls(
    State(fake): State<Fake>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    use base64::Engine as _;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{account}:secret-token"))
    );
    let key_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode("SK0123456789abcdef0123456789abcdef:key-secret")
    );
    if auth != expected && auth != key_auth {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"code":20003,"message":"Authenticate","status":401}"#.into(),
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    fake.requests
        .lock()
        .unwrap()
        .push((account.clone(), form.clone()));
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("To").as_deref() == Some("+13175550502") {
        // Not Twilio: a proxy's error page.
        return (
            StatusCode::BAD_GATEWAY,
            "<html><body>502 Bad Gateway</body></html>".into(),
        );
    }
    if get("To").as_deref() == Some("+13175550404") {
        return (StatusCode::BAD_REQUEST, r#"{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}"#.into());
    }
    let ok = get("To").is_some()
        && get("From").is_some()
        && (get("Url").is_some() || get("Twiml").is_some());
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"code":21205,"message":"missing fields","status":400}"#.into(),
        );
    }
    let n = fake.requests.lock().unwrap().len();
    // The first call keeps the SID the single-trunk assertions expect.
    let sid = if n == 1 {
        "CA0123456789abcdef0123456789abcdef".to_string()
    } else {
        format!("CA{n:032x}")
    };
    // What the carrier will have done with it, read by `GET Calls/{sid}.json`.
    let end = match get("Byoc").as_deref() {
        Some(t) if t.ends_with("bad") => "failed",
        Some(BUSY_TRUNK) => "busy",
        None => "in-progress",
        Some(_) => "completed",
    };
    fake.calls.lock().unwrap().push((sid.clone(), end));
    (
        StatusCode::CREATED,
        serde_json::json!({"sid": sid, "status": "queued"}).to_string(),
    )
}

/// A trunk whose calls fail (the carrier is down), and one whose callee is busy.
const FAILING_TRUNK: &str = "BY00000000000000000000000000000bad";
const BUSY_TRUNK: &str = "BY00000000000000000000000000000b5e";

/// `GET /2010-04-01/Accounts/{sid}/Calls/{CallSid}.json`: ringing on the first poll, then the
/// call's end.
async fn call_status(
    State(fake): State<Fake>,
    Path((_, file)): Path<(String, String)>,
) -> (StatusCode, String) {
    let sid = file.trim_end_matches(".json");
    let mut polls = fake.polls.lock().unwrap();
    let seen = polls.iter().filter(|s| *s == sid).count();
    polls.push(sid.to_string());
    let calls = fake.calls.lock().unwrap();
    match calls.iter().find(|(s, _)| s == sid) {
        Some((_, end)) => {
            let status = if seen == 0 { "ringing" } else { end };
            (
                StatusCode::OK,
                serde_json::json!({"sid": sid, "status": status}).to_string(),
            )
        }
        None => (
            StatusCode::NOT_FOUND,
            r#"{"code":20404,"message":"not found","status":404}"#.into(),
        ),
    }
}

#[tokio::test]
async fn byoc_call_places_a_call_through_the_calls_api_after_the_policy() {
    let fake = Fake::default();
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            axum::routing::post(calls),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{file}",
            axum::routing::get(call_status),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let account = "AC0123456789abcdef0123456789abcdef";
    let run = |args: Vec<&str>, env: Vec<(&str, &str)>| {
        let base = base.clone();
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let env: Vec<(String, String)> =
            env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        async move {
            let output = tokio::process::Command::new(binary("byoc"))
                .env_clear()
                .env("TWILIO_API_BASE_URL", base)
                .env("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")
                .envs(env)
                .arg("call")
                .args(args)
                .output()
                .await
                .unwrap();
            (
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stdout).into_owned()
                    + &String::from_utf8_lossy(&output.stderr),
            )
        }
    };

    let (code, out) = run(
        vec![
            "--to",
            "3175551234",
            "--from",
            "+13175550000",
            "--trunk",
            TRUNK,
        ],
        vec![("TWILIO_AUTH_TOKEN", "secret-token")],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "call CA0123456789abcdef0123456789abcdef queued: +13175550000 -> +13175551234"
        ),
        "{out}"
    );
    {
        let requests = fake.requests.lock().unwrap();
        let (acct, form) = &requests[0];
        assert_eq!(acct, account);
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("To"), Some("+13175551234"));
        assert_eq!(get("From"), Some("+13175550000"));
        assert_eq!(get("Byoc"), Some(TRUNK));
        let twiml = parse(get("Twiml").unwrap());
        assert!(find(&twiml, "Response/Say").text.contains("test call"));
    }

    // An API key pair and a TwiML URL.
    let (code, out) = run(
        vec![
            "--to",
            "+13175551234",
            "--from",
            "+13175550000",
            "--trunk",
            TRUNK,
            "--url",
            "https://example.com/twiml?a=1&b=2",
        ],
        vec![
            ("TWILIO_API_KEY", "SK0123456789abcdef0123456789abcdef"),
            ("TWILIO_API_SECRET", "key-secret"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        fake.requests.lock().unwrap()[1]
            .1
            .iter()
            .find(|(k, _)| k == "Url")
            .map(|(_, v)| v.as_str()),
        Some("https://example.com/twiml?a=1&b=2")
    );

    // Refused by policy: Twilio is never asked.
    for to in ["+19005551234", "911", "+33123456789", "nope"] {
        let (code, out) = run(
            vec!["--to", to, "--from", "+13175550000", "--trunk", TRUNK],
            vec![("TWILIO_AUTH_TOKEN", "secret-token")],
        )
        .await;
        assert_eq!(code, 2, "{to}: {out}");
        assert!(
            out.contains("refused by policy before calling Twilio"),
            "{out}"
        );
    }
    assert_eq!(fake.requests.lock().unwrap().len(), 2);

    // Twilio's own errors are shown, with their code.
    let (code, out) = run(
        vec![
            "--to",
            "+13175550404",
            "--from",
            "+13175550000",
            "--trunk",
            TRUNK,
        ],
        vec![("TWILIO_AUTH_TOKEN", "secret-token")],
    )
    .await;
    assert_eq!(code, 5, "{out}");
    assert!(
        out.contains("The 'To' number is not a valid phone number. (Twilio error 21211)"),
        "{out}"
    );
    let (code, out) = run(
        vec![
            "--to",
            "+13175551234",
            "--from",
            "+13175550000",
            "--trunk",
            TRUNK,
        ],
        vec![("TWILIO_AUTH_TOKEN", "wrong")],
    )
    .await;
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("HTTP 401"), "{out}");
    assert!(!out.contains("wrong"), "the token is never printed: {out}");

    // A proxy's 502 is not "Twilio refused"; --twiml is checked and sent as
    // a document.
    let base_args = ["--from", "+13175550000", "--trunk", TRUNK];
    let token = vec![("TWILIO_AUTH_TOKEN", "secret-token")];
    let mut args = vec!["--to", "+13175550502"];
    args.extend(base_args);
    let (code, out) = run(args, token.clone()).await;
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("Twilio was not reached: HTTP 502"), "{out}");
    let mut args = vec!["--to", "+13175551234", "--twiml", "<Say>Hi</Say>"];
    args.extend(base_args);
    let (code, out) = run(args, token.clone()).await;
    assert_eq!(code, 0, "{out}");
    let sent = fake.requests.lock().unwrap().last().unwrap().1.clone();
    let twiml = sent.iter().find(|(k, _)| k == "Twiml").unwrap().1.clone();
    assert!(
        twiml.ends_with("<Response><Say>Hi</Say></Response>"),
        "{twiml}"
    );
    let before = fake.requests.lock().unwrap().len();
    let mut args = vec!["--to", "+13175551234", "--twiml", "<Say>Hi"];
    args.extend(base_args);
    let (code, out) = run(args, token).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--twiml"), "{out}");
    assert_eq!(fake.requests.lock().unwrap().len(), before, "nothing sent");

    // Several trunks: each attempt is watched to its end; a failure moves on, busy does not.
    let token = vec![("TWILIO_AUTH_TOKEN", "secret-token")];
    let list = format!("{FAILING_TRUNK},{TRUNK}");
    let (code, out) = run(
        vec![
            "--to",
            "+13175551234",
            "--from",
            "+13175550000",
            "--trunk",
            &list,
        ],
        token.clone(),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "attempt 1/2: failed over {FAILING_TRUNK} (a technical failure): trying {TRUNK}"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "attempt 2/2: completed over {TRUNK} (answered): done"
        )),
        "{out}"
    );
    let byoc_of = |i: usize| {
        fake.requests.lock().unwrap()[i]
            .1
            .iter()
            .find(|(k, _)| k == "Byoc")
            .map(|(_, v)| v.clone())
    };
    let n = fake.requests.lock().unwrap().len();
    assert_eq!(byoc_of(n - 2).as_deref(), Some(FAILING_TRUNK));
    assert_eq!(byoc_of(n - 1).as_deref(), Some(TRUNK));
    let list = format!("{BUSY_TRUNK},{TRUNK}");
    let (code, out) = run(
        vec![
            "--to",
            "+13175551234",
            "--from",
            "+13175550000",
            "--trunk",
            &list,
        ],
        token.clone(),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("attempt 1/2: busy over") && out.contains("(callee): done"),
        "{out}"
    );
    assert_eq!(
        fake.requests.lock().unwrap().len(),
        n + 1,
        "busy tried no other trunk"
    );
    // Every trunk down, then Twilio's own network (OUTBOUND_FALLBACK_PSTN): no Byoc at all.
    let mut env = token.clone();
    env.push(("OUTBOUND_FALLBACK_PSTN", "true"));
    let (code, out) = run(
        vec![
            "--to",
            "+13175551234",
            "--from",
            "+13175550000",
            "--trunk",
            FAILING_TRUNK,
        ],
        env,
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("over Twilio's network (OUTBOUND_FALLBACK_PSTN)"),
        "{out}"
    );
    assert!(out.contains("attempt 2/2: answered over pstn"), "{out}");
    assert_eq!(byoc_of(n + 2), None);
    let (code, out) = run(
        vec![
            "--to",
            "+13175551234",
            "--from",
            "+13175550000",
            "--trunk",
            FAILING_TRUNK,
        ],
        token.clone(),
    )
    .await;
    assert_eq!(code, 0, "one trunk: placed, not watched: {out}");
    let (code, out) = run(
        vec![
            "--to",
            "+13175551234",
            "--from",
            "+13175550000",
            "--trunk",
            &format!("{FAILING_TRUNK},{FAILING_TRUNK}"),
        ],
        token.clone(),
    )
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("listed twice"), "{out}");
    // The trunks of the destination's OUTBOUND_TRUNK_ROUTES entry when --trunk is not given.
    let mut env = token.clone();
    let routes = format!("+1317={FAILING_TRUNK},{TRUNK}");
    env.push(("OUTBOUND_TRUNK_ROUTES", &routes));
    let (code, out) = run(vec!["--to", "+13175551234", "--from", "+13175550000"], env).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("attempt 2/2: completed over"), "{out}");
    let (code, out) = run(
        vec![
            "--to",
            "+13175551234",
            "--from",
            "+13175550000",
            "--trunk",
            &format!("{FAILING_TRUNK},BY00000000000000000000000000001bad"),
        ],
        token,
    )
    .await;
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("every attempt failed"), "{out}");
    server.abort();
}

/// The number dialled and its `sendDigits`, or the refusal reason's text.
type UkExpect = Result<(&'static str, Option<&'static str>), &'static str>;

/// A UK deployment (`DEFAULT_COUNTRY_CODE=44`), through the Lambda binary and `byoc serve`:
/// premium-rate, personal and pager numbers, the Crown Dependencies and the UK's emergency
/// numbers are refused; national forms, `(0)`, pasted Unicode and extensions dial right; an
/// anonymous caller is never the caller ID; and `byoc call` applies the same policy.
#[tokio::test]
async fn a_uk_home_refuses_what_the_uk_bills_as_premium_or_abroad() {
    const UK: &[(&str, &str)] = &[
        ("BYOC_TRUNK_SID", DEFAULT_TRUNK),
        ("DEFAULT_COUNTRY_CODE", "44"),
        ("OUTBOUND_REFUSAL_MESSAGE", "Not allowed & goodbye"),
    ];
    // (OUTBOUND_DID, From, what must happen: the number dialled and its sendDigits, or the
    // reason's text)
    let cases: &[(&str, &str, UkExpect)] = &[
        ("09011234567", "+442071230000", Err("premium-rate")),
        ("+44 909 879 0000", "+442071230000", Err("premium-rate")),
        ("+44 871 123 4567", "+442071230000", Err("premium-rate")),
        ("+44 70 1234 5678", "+442071230000", Err("personal number")),
        ("07640 123456", "+442071230000", Err("pager")),
        (
            "+44 1534 123456",
            "+442071230000",
            Err("JE, another territory sharing +44"),
        ),
        (
            "+44 1624 612345",
            "+442071230000",
            Err("IM, another territory"),
        ),
        (
            "+44 7781 123456",
            "+442071230000",
            Err("GG, another territory"),
        ),
        ("999", "+442071230000", Err("emergency")),
        (
            "+13175551234",
            "+442071230000",
            Err("outside the allowed destinations"),
        ),
        (
            "020 7123 4567",
            "+442071230000",
            Ok(("+442071234567", None)),
        ),
        ("442071234567", "+442071230000", Ok(("+442071234567", None))),
        (
            "+44 (0)121 234 5678",
            "+442071230000",
            Ok(("+441212345678", None)),
        ),
        (
            "+44\u{a0}20\u{2013}7123\u{2013}4567",
            "+442071230000",
            Ok(("+442071234567", None)),
        ),
        (
            "\u{ff0b}44 20 7123 4567 ext. 12",
            "+442071230000",
            Ok(("+442071234567", Some("wwww12"))),
        ),
        ("020 7123 4567", "+266696687", Ok(("+442071234567", None))),
        // The trunk 0 written after the country code; a space before a national number.
        (
            "+44 020 7123 4567",
            "+442071230000",
            Ok(("+442071234567", None)),
        ),
        (
            " 07700 912345",
            "+442071230000",
            Ok(("+447700912345", None)),
        ),
    ];
    let check = |did: &str,
                 from: &str,
                 expect: &UkExpect,
                 status: u16,
                 header: &dyn Fn(&str) -> Option<String>,
                 body: &str| {
        assert_eq!(status, 200, "{did}: {body}");
        let twiml = parse(body);
        match expect {
            Ok((number, send_digits)) => {
                assert_eq!(
                    header("x-byoc-outcome").as_deref(),
                    Some("dialed"),
                    "{did}: {body}"
                );
                let n = find(&twiml, "Response/Dial/Number");
                assert_eq!(n.text, *number, "{did}");
                assert_eq!(n.attr("sendDigits"), *send_digits, "{did}");
                let caller = find(&twiml, "Response/Dial").attr("callerId");
                if from == "+266696687" {
                    assert_eq!(caller, None, "{did}: an anonymous caller is withheld");
                } else {
                    assert_eq!(caller, Some(from), "{did}");
                }
            }
            Err(reason) => {
                assert_eq!(
                    header("x-byoc-outcome").as_deref(),
                    Some("refused"),
                    "{did}: {body}"
                );
                let why = header("x-byoc-reason").unwrap_or_default();
                assert!(why.contains(reason), "{did}: {why}");
                assert!(!has(&twiml, "Response/Dial"), "{did}");
            }
        }
    };

    let mut env = UK.to_vec();
    env.push(("ALLOW_UNSIGNED", "true"));
    let mut lambda = Lambda::start("outbound", &env).await;
    for (did, from, expect) in cases {
        let body = form(&[("From", from), ("CallSid", "CA42")]);
        let event = http_api_event(
            "POST",
            "/outbound",
            &form(&[("OUTBOUND_DID", did)]),
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
            &[],
        );
        let r = lambda.invoke(&event).await.proxy();
        check(
            did,
            from,
            expect,
            r.status,
            &|h| r.headers.get(h).cloned(),
            &r.body,
        );
    }
    // The start line names the home country and the policy in force.
    let log = lambda.stderr.text();
    assert!(log.contains("\"home\":\"GB (+44)\""), "{log}");
    assert!(
        log.contains("denied types premium_rate,personal_number,pager"),
        "{log}"
    );

    let serve = Serve::start(&[], UK).await;
    let client = reqwest::Client::new();
    for (did, from, expect) in cases {
        let url = serve.url(&format!("/outbound?{}", form(&[("OUTBOUND_DID", did)])));
        let response = client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("From", from), ("CallSid", "CA42")]))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        check(
            did,
            from,
            expect,
            status,
            &|h| headers.get(h).map(|v| v.to_str().unwrap().to_string()),
            &text,
        );
    }

    // `byoc call` refuses before it asks Twilio anything (no Twilio is listening here).
    let out = std::process::Command::new(binary("byoc"))
        .args(["call", "--to", "09011234567", "--from", "+442071230000"])
        .env_clear()
        .envs(UK.iter().copied())
        .env("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")
        .env("TWILIO_AUTH_TOKEN", "secret-token")
        .env("TWILIO_API_BASE_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("premium-rate"), "{stderr}");
}
