//! Failover chains: a `dial` route with several `targets` tried in order.
//!
//! The first target is dialled with `<Dial action="…/inbound/next?c=STATE&i=1">`. Twilio posts
//! the outcome there (`DialCallStatus`): `busy`, `no-answer`, `failed` or `canceled` dials target
//! `i` (log outcome `chain_next`); after the last target the chain's `final` action answers
//! (`chain_final`), or a hang-up when it has none (`chain_ended`); any other status
//! (`completed`, `answered`) means someone answered and the call hangs up (`chain_completed`).
//!
//! There is no server-side session: `STATE` is the whole chain (targets, caller ID, final action)
//! as base64url JSON, so a route edited or deleted mid-call does not change a call already in
//! its chain. Twilio signs the action request over the full URL, so the signature check on
//! `/inbound/next` covers the state; it is validated again when read, like a route.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::number::NumberPlan;
use crate::params::Params;
use crate::route::{Action, Route, RouteRecord};
use crate::twiml::{self, Verb};

// The chain itself is part of the route model; this module is the protocol around it.
pub use crate::route::{
    Callee, Chain, State, Target, TargetSpec, DEFAULT_NEXT_URL, MAX_TARGETS, REQUEST_HEAD_MAX,
    STATE_MAX_LEN,
};

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

/// A chain read back from the state of a `/inbound/next` request, validated like a route.
pub fn chain_from_state(state: State, plan: &NumberPlan) -> Result<Chain, String> {
    let record = RouteRecord {
        pattern: "*".into(),
        action: Some("dial".into()),
        targets: Some(serde_json::to_string(&state.targets).map_err(|e| e.to_string())?),
        caller_id: state.caller_id,
        final_action: state
            .final_action
            .map(|m| serde_json::Value::Object(m).to_string()),
        ..RouteRecord::default()
    };
    match Route::from_record(record, plan)
        .map_err(|e| e.kind.to_string())?
        .action
    {
        Action::Chain(chain) => Ok(*chain),
        _ => Err("not a chain".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Route, RouteRecord};
    use crate::sid::Sid;
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
                callee: Callee::Number {
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

    /// A chain whose state cannot fit in an API Gateway request is refused
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
