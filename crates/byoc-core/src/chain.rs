//! Failover chains: a `dial` route with several `targets` tried in order.
//!
//! The first target is dialled with `<Dial action="…/inbound/next?c=STATE&i=1">`. Twilio posts
//! the outcome there (`DialCallStatus`): `completed` ends the call; `busy`, `no-answer`, `failed`
//! or `canceled` dials target `i`; after the last target the chain's `final` action answers.
//!
//! There is no server-side session: `STATE` is the whole chain (targets, caller ID, final action)
//! as base64url JSON, so a route edited or deleted mid-call does not change a call already in
//! its chain. Twilio signs the action request over the full URL, so the signature check on
//! `/inbound/next` covers the state; it is validated again when read, like a route.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::route::Action;
use crate::sid::Sid;
use crate::twiml::{self, DialOptions, Method, Noun, Verb};

/// Most targets in one chain (each adds to the action URL; Twilio caps URLs at 4 KB).
pub const MAX_TARGETS: usize = 5;

/// Where one step of a chain rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A number over a BYOC trunk (or Twilio's network without one).
    Number {
        number: String,
        byoc: Option<Sid>,
    },
    Sip {
        uri: String,
    },
    Client {
        identity: String,
    },
}

/// One step: where, and how long it rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub endpoint: Endpoint,
    pub timeout: Option<u32>,
}

/// A validated chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub targets: Vec<Target>,
    pub caller_id: Option<String>,
    /// What answers after the last target did not connect; a hang-up if absent.
    pub final_action: Option<Box<Action>>,
}

/// A target as written in route files (and in the state): exactly one of `number`, `sip`,
/// `client`, and an optional `byoc` (numbers only) and `timeout`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byoc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

impl Target {
    pub fn to_spec(&self) -> TargetSpec {
        let mut spec = TargetSpec {
            timeout: self.timeout,
            ..TargetSpec::default()
        };
        match &self.endpoint {
            Endpoint::Number { number, byoc } => {
                spec.number = Some(number.clone());
                spec.byoc = byoc.as_ref().map(|s| s.to_string());
            }
            Endpoint::Sip { uri } => spec.sip = Some(uri.clone()),
            Endpoint::Client { identity } => spec.client = Some(identity.clone()),
        }
        spec
    }

    fn noun(&self) -> Noun {
        match &self.endpoint {
            Endpoint::Number { number, byoc } => Noun::Number {
                number: number.clone(),
                byoc: byoc.as_ref().map(|s| s.to_string()),
            },
            Endpoint::Sip { uri } => Noun::Sip { uri: uri.clone() },
            Endpoint::Client { identity } => Noun::Client {
                identity: identity.clone(),
            },
        }
    }
}

/// API Gateway's limit on a request's line and headers together, in bytes (HTTP API quotas:
/// "Total combined size of request line and header values", 10,240 bytes, not adjustable).
pub const REQUEST_HEAD_MAX: usize = 10_240;
/// The longest chain state accepted: the request limit less room for the rest of the request
/// line (method, scheme-less path with a custom domain's prefix, `&i=N`, `HTTP/1.1`) and the
/// headers Twilio sends (Host, X-Twilio-Signature, I-Twilio-Idempotency-Token, User-Agent,
/// Content-Type, Content-Length, …), about 2 KB.
pub const STATE_MAX_LEN: usize = 8_192;

/// The state carried in the action URL: the chain in its record form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub targets: Vec<TargetSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_action: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Why a `/inbound/next` request could not continue a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("the chain state (`c`) is missing")]
    Missing,
    #[error("the chain state is not valid: {0}")]
    Invalid(String),
    #[error("the step (`i`) is not a target number of this chain")]
    BadStep,
}

/// What `/inbound/next` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub twiml: twiml::Response,
    /// `completed` (the dialled party answered and hung up: end), `next` (dialling target
    /// `index`), `final` (the final action answers), `ended` (no final action).
    pub outcome: &'static str,
    /// The 0-based target dialled, for `next`.
    pub index: Option<usize>,
}

/// `DialCallStatus` values that move the chain on.
fn moves_on(status: &str) -> bool {
    matches!(status, "busy" | "no-answer" | "failed" | "canceled")
}

impl Chain {
    /// `<Dial>` of target `index`, whose action URL carries the chain and the next step.
    pub fn dial(&self, index: usize, next_url: &str, state: &str) -> twiml::Response {
        let target = &self.targets[index];
        let sep = if next_url.contains('?') { '&' } else { '?' };
        twiml::Response::new().verb(Verb::Dial {
            options: DialOptions {
                caller_id: self.caller_id.clone(),
                timeout: target.timeout,
                action: Some(format!("{next_url}{sep}c={state}&i={}", index + 1)),
                method: Some(Method::Post),
                ..DialOptions::default()
            },
            nouns: vec![target.noun()],
        })
    }

    /// The first step, for the route's answer to the call.
    pub fn first(&self, next_url: &str) -> twiml::Response {
        self.dial(0, next_url, &self.encode())
    }

    /// The state text for the action URL (URL-safe as it is).
    pub fn encode(&self) -> String {
        let state = State {
            targets: self.targets.iter().map(Target::to_spec).collect(),
            caller_id: self.caller_id.clone(),
            final_action: self.final_action.as_ref().map(|a| a.to_flat()),
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&state).unwrap_or_default())
    }

    /// The answer to Twilio's post-back after target `i - 1` (query `c`, `i`; body
    /// `DialCallStatus`). `decode` validates the state back into a chain.
    pub fn next(
        query: &Params,
        body: &Params,
        next_url: &str,
        decode: impl Fn(State) -> Result<Chain, String>,
    ) -> Result<Step, ChainError> {
        let text = query.get("c").ok_or(ChainError::Missing)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|e| ChainError::Invalid(format!("not base64url: {e}")))?;
        let state: State =
            serde_json::from_slice(&bytes).map_err(|e| ChainError::Invalid(e.to_string()))?;
        let chain = decode(state).map_err(ChainError::Invalid)?;
        let i: usize = query
            .get("i")
            .and_then(|i| i.parse().ok())
            .filter(|i| (1..=chain.targets.len()).contains(i))
            .ok_or(ChainError::BadStep)?;
        let status = body
            .get("DialCallStatus")
            .or_else(|| query.get("DialCallStatus"))
            .unwrap_or("");
        if !moves_on(status) {
            // `completed` (or anything else, such as `answered`): the call has had its answer.
            return Ok(Step {
                twiml: twiml::Response::new().verb(Verb::Hangup),
                outcome: "chain_completed",
                index: None,
            });
        }
        if i < chain.targets.len() {
            return Ok(Step {
                twiml: chain.dial(i, next_url, text),
                outcome: "chain_next",
                index: Some(i),
            });
        }
        Ok(match &chain.final_action {
            Some(action) => Step {
                twiml: action.to_twiml(),
                outcome: "chain_final",
                index: None,
            },
            None => Step {
                twiml: twiml::Response::new().verb(Verb::Hangup),
                outcome: "chain_ended",
                index: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{chain_from_state, Route, RouteRecord};
    use crate::NumberPlan;

    const NEXT: &str = "https://h.example.com/Prod/inbound/next";

    fn route(json: &str) -> Result<Route, String> {
        let record: RouteRecord = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Route::from_record(record, &NumberPlan::default()).map_err(|e| e.to_string())
    }

    fn chain(json: &str) -> Chain {
        match route(json).unwrap().action {
            Action::Chain(c) => *c,
            other => panic!("not a chain: {other:?}"),
        }
    }

    const ROUTE: &str = r#"{"pattern": "+13175551234", "action": "dial", "byoc": "BY0123456789abcdef0123456789abcdef",
        "timeout": 20, "caller_id": "+13175550000",
        "targets": [{"number": "+13175550001"}, {"sip": "sip:desk@pbx.example.com", "timeout": 10},
                    {"client": "alice"}, {"number": "+442071234567", "byoc": "BYfedcba9876543210fedcba9876543210"}],
        "final": {"action": "redirect", "url": "https://x.example.com/voicemail?a=1&b=2"}}"#;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().copied().collect()
    }

    /// (query of the Dial action URL, the Dial's XML).
    fn action_query(xml: &str) -> String {
        let at = xml.find("action=\"").unwrap() + 8;
        let url = &xml[at..at + xml[at..].find('"').unwrap()];
        let url = url.replace("&amp;", "&");
        assert!(url.starts_with(NEXT), "{url}");
        url.split_once('?').unwrap().1.to_string()
    }

    fn next(query: &str, status: &str) -> Result<Step, ChainError> {
        let q = Params::from_form(query.as_bytes());
        Chain::next(&q, &params(&[("DialCallStatus", status)]), NEXT, |s| {
            chain_from_state(s, &NumberPlan::default())
        })
    }

    #[test]
    fn a_chain_dials_each_target_in_order_then_the_final_action() {
        let c = chain(ROUTE);
        assert_eq!(c.targets.len(), 4);
        // Top-level byoc and timeout are defaults for the targets.
        assert_eq!(
            c.targets[0],
            Target {
                endpoint: Endpoint::Number {
                    number: "+13175550001".into(),
                    byoc: Some(
                        Sid::parse(
                            crate::sid::SidKind::ByocTrunk,
                            "BY0123456789abcdef0123456789abcdef"
                        )
                        .unwrap()
                    ),
                },
                timeout: Some(20),
            }
        );
        assert_eq!(c.targets[1].timeout, Some(10));
        let xml = c.first(NEXT).to_xml();
        assert!(xml.contains(r#"<Dial callerId="+13175550000" timeout="20" action="https://h.example.com/Prod/inbound/next?c="#), "{xml}");
        assert!(
            xml.contains(
                r#"<Number byoc="BY0123456789abcdef0123456789abcdef">+13175550001</Number>"#
            ),
            "{xml}"
        );
        let q1 = action_query(&xml);
        assert!(q1.ends_with("&i=1"), "{q1}");

        let step = next(&q1, "busy").unwrap();
        assert_eq!((step.outcome, step.index), ("chain_next", Some(1)));
        let xml = step.twiml.to_xml();
        assert!(
            xml.contains(r#"timeout="10""#) && xml.contains("<Sip>sip:desk@pbx.example.com</Sip>"),
            "{xml}"
        );
        let q2 = action_query(&xml);
        assert!(q2.ends_with("&i=2"));
        let xml = next(&q2, "no-answer").unwrap().twiml.to_xml();
        assert!(xml.contains("<Client>alice</Client>"), "{xml}");
        let q3 = action_query(&xml);
        let xml = next(&q3, "failed").unwrap().twiml.to_xml();
        assert!(
            xml.contains(
                r#"<Number byoc="BYfedcba9876543210fedcba9876543210">+442071234567</Number>"#
            ),
            "{xml}"
        );
        let q4 = action_query(&xml);
        let step = next(&q4, "canceled").unwrap();
        assert_eq!(step.outcome, "chain_final");
        assert!(step.twiml.to_xml().contains(
            "<Redirect method=\"POST\">https://x.example.com/voicemail?a=1&amp;b=2</Redirect>"
        ));
        // An answered call ends the chain at any step.
        for q in [&q1, &q2, &q4] {
            let step = next(q, "completed").unwrap();
            assert_eq!(step.outcome, "chain_completed");
            assert!(step
                .twiml
                .to_xml()
                .ends_with("<Response><Hangup/></Response>"));
        }
        // Without a final action the call ends after the last target.
        let c = chain(r#"{"pattern": "*", "targets": [{"client": "bob"}], "action": "dial"}"#);
        let q = action_query(&c.first(NEXT).to_xml());
        assert_eq!(next(&q, "busy").unwrap().outcome, "chain_ended");
    }

    #[test]
    fn bad_state_and_steps_are_refused() {
        let q1 = action_query(&chain(ROUTE).first(NEXT).to_xml());
        assert_eq!(next("i=1", "busy").unwrap_err(), ChainError::Missing);
        assert!(matches!(
            next("c=%%%&i=1", "busy"),
            Err(ChainError::Invalid(_))
        ));
        let state = URL_SAFE_NO_PAD.encode(br#"{"targets":[{"number":"12"}]}"#);
        let err = next(&format!("c={state}&i=1"), "busy")
            .unwrap_err()
            .to_string();
        assert!(err.contains("target 1"), "{err}");
        for i in ["0", "5", "x", ""] {
            let q = q1.replace("&i=1", &format!("&i={i}"));
            assert_eq!(next(&q, "busy").unwrap_err(), ChainError::BadStep, "{q}");
        }
    }

    #[test]
    fn chains_validate_and_round_trip() {
        let c = route(ROUTE).unwrap();
        let again = Route::from_record(c.to_record(), &NumberPlan::default()).unwrap();
        assert_eq!(again, c);
        assert_eq!(c.action.kind(), "dial");
        for (json, why) in [
            (
                r#"{"pattern":"*","action":"dial","number":"+13175550001","targets":[{"client":"a"}]}"#,
                "either `number` or `targets`",
            ),
            (
                r#"{"pattern":"*","action":"dial","targets":[]}"#,
                "1 to 5 targets",
            ),
            (
                r#"{"pattern":"*","action":"dial","targets":[{"client":"a"},{"client":"b"},{"client":"c"},{"client":"d"},{"client":"e"},{"client":"f"}]}"#,
                "1 to 5 targets",
            ),
            (
                r#"{"pattern":"*","action":"dial","targets":[{"client":"a","sip":"sip:b@c"}]}"#,
                "exactly one of",
            ),
            (
                r#"{"pattern":"*","action":"dial","targets":[{"sip":"sip:b@c","byoc":"BY0123456789abcdef0123456789abcdef"}]}"#,
                "exactly one of",
            ),
            (
                r#"{"pattern":"*","action":"dial","targets":[{"number":"3175550001"}]}"#,
                "target 1",
            ),
            (
                r#"{"pattern":"*","action":"dial","targets":[{"client":"a","timeout":2}]}"#,
                "outside 5 to 600",
            ),
            (
                r#"{"pattern":"*","action":"dial","targets":[{"client":"a","colour":1}]}"#,
                "unknown field",
            ),
            (
                r#"{"pattern":"*","action":"dial","targets":[{"client":"a"}],"final":{"action":"dial","targets":[{"client":"b"}]}}"#,
                "cannot set `targets`",
            ),
            (
                r#"{"pattern":"*","action":"dial","targets":[{"client":"a"}],"final":{"action":"play"}}"#,
                "`final`",
            ),
            (
                r#"{"pattern":"*","action":"say","text":"x","targets":[{"client":"a"}]}"#,
                "does not apply",
            ),
        ] {
            let err = route(json).unwrap_err();
            assert!(err.contains(why), "{json}: {err}");
        }
    }
}

#[cfg(test)]
mod size {
    use crate::route::{Route, RouteRecord};
    use crate::NumberPlan;

    /// Field finding 11: a chain whose state cannot fit in an API Gateway request is refused
    /// when it is written, not at the first failover.
    #[test]
    fn a_chain_too_big_for_its_action_url_is_refused() {
        let sip = |n: usize| format!("sip:{}@pbx.example.com", "a".repeat(n));
        let targets: Vec<serde_json::Value> = (0..5)
            .map(|_| serde_json::json!({"sip": sip(1_900)}))
            .collect();
        let record = |targets: &[serde_json::Value], final_text: usize| RouteRecord {
            pattern: "*".into(),
            action: Some("dial".into()),
            targets: Some(serde_json::Value::from(targets.to_vec()).to_string()),
            final_action: Some(
                serde_json::json!({"action": "say", "text": "x".repeat(final_text)}).to_string(),
            ),
            ..RouteRecord::default()
        };
        let e = Route::from_record(record(&targets, 4_000), &NumberPlan::default()).unwrap_err();
        assert!(e.to_string().contains("too big to carry"), "{e}");
        assert!(e.to_string().contains("10240"), "{e}");
        // A chain of ordinary size is fine, and its first `<Dial action>` fits.
        let small: Vec<serde_json::Value> = (0..5)
            .map(|_| serde_json::json!({"sip": sip(40)}))
            .collect();
        let route = Route::from_record(record(&small, 200), &NumberPlan::default()).unwrap();
        let xml = route.action.to_twiml().to_xml();
        assert!(xml.len() < super::STATE_MAX_LEN, "{}", xml.len());
    }
}
