//! The inbound decision: from the "A call comes in" webhook parameters and the matched route to
//! the TwiML that answers the call.
//!
//! A call must never go unanswered: a missing or garbled `To`, or no route at all, still yields
//! valid TwiML (the configured default, else `<Reject reason="rejected"/>`).

use crate::number::{Address, NumberError, NumberPlan};
use crate::params::Params;
use jiff::Timestamp;

use crate::route::{Action, Match, Pattern};
use crate::schedule::Evaluation;
use crate::twiml::{self, RejectReason};

/// Settings the inbound decision depends on.
#[derive(Debug, Clone, Default)]
pub struct InboundConfig {
    pub plan: NumberPlan,
    /// What to do when no route matches (`DEFAULT_ROUTE_URL`); `None` rejects.
    pub default_action: Option<Action>,
}

/// Why the called address could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("the request has no `To` (or `Called`) parameter")]
    MissingTo,
    #[error("`To` is not a usable address: {0}")]
    BadTo(#[from] NumberError),
}

/// How the call was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A route matched.
    Matched,
    /// No route matched; the configured default answered.
    Default,
    /// The called address was unusable; the configured default answered.
    BadInput,
    /// No route and no default: the call was rejected.
    Rejected,
    /// The route store failed or was too slow; the fallback answered.
    Degraded,
    /// Twilio's fallback URL was called (the primary handler failed): the default answered.
    Fallback,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Matched => "matched",
            Outcome::Default => "default",
            Outcome::BadInput => "bad_input",
            Outcome::Rejected => "rejected",
            Outcome::Degraded => "degraded",
            Outcome::Fallback => "fallback",
        }
    }
}

/// The answer to one inbound call, with what operators need to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub twiml: twiml::Response,
    pub outcome: Outcome,
    /// The matched pattern, if any.
    pub pattern: Option<String>,
    /// The action that answered (`redirect`, `dial`, … or `reject` for the last resort).
    pub action: &'static str,
    /// Why the default answered, for the log line.
    pub reason: Option<String>,
    /// The schedule's verdict (`open` / `closed` / `holiday` and why), for scheduled routes.
    pub schedule: Option<Evaluation>,
    /// The caller condition (`From` prefix) that chose the action, if one did.
    pub caller_rule: Option<String>,
}

/// What a decision needs to know about the call besides its called address.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// When the call arrived, for schedules.
    pub at: Timestamp,
    /// The absolute URL of `/inbound/next`, for failover chains.
    pub next_url: &'a str,
    /// The caller (`From`), normalized, for caller conditions.
    pub from: Option<&'a Address>,
}

impl Call<'_> {
    /// A call at `at` from an unknown caller, with the relative `/inbound/next`.
    pub fn at(at: Timestamp) -> Call<'static> {
        Call {
            at,
            next_url: crate::route::DEFAULT_NEXT_URL,
            from: None,
        }
    }
}

/// The called address: `To` (the SIP Request-URI on a BYOC / SIP-domain call), else `Called`.
pub fn called_address(params: &Params, plan: &NumberPlan) -> Result<Address, InboundError> {
    let to = params
        .get_nonblank("To")
        .or_else(|| params.get_nonblank("Called"))
        .ok_or(InboundError::MissingTo)?;
    Ok(plan.normalize(to)?)
}

/// Decides the answer given the called address and the route the store found for it.
pub fn decide(
    address: &Result<Address, InboundError>,
    matched: Option<&Match>,
    config: &InboundConfig,
    call: &Call,
) -> Decision {
    if let (Ok(_), Some(m)) = (address, matched) {
        let (answer, schedule) = m.route.answer(call.at, call.from);
        return Decision {
            twiml: answer.action.to_twiml_for(call.next_url),
            outcome: Outcome::Matched,
            pattern: Some(m.route.key()),
            action: answer.action.kind(),
            reason: None,
            schedule,
            caller_rule: answer.caller_rule.map(str::to_string),
        };
    }
    if let (Err(e), Some(m)) = (address, matched) {
        // Only the catch-all may answer a call whose address could not be read.
        if m.route.pattern == Pattern::CatchAll {
            let (answer, schedule) = m.route.answer(call.at, call.from);
            return Decision {
                twiml: answer.action.to_twiml_for(call.next_url),
                outcome: Outcome::BadInput,
                pattern: Some(m.route.key()),
                action: answer.action.kind(),
                reason: Some(format!("{e}; answered by the * route")),
                schedule,
                caller_rule: answer.caller_rule.map(str::to_string),
            };
        }
    }
    let (outcome, reason) = match address {
        Err(e) => (Outcome::BadInput, e.to_string()),
        Ok(a) => (Outcome::Default, format!("no route matches {a}")),
    };
    fallback(config, outcome, reason)
}

/// The configured default, else a rejection; used whenever no route can answer.
pub fn fallback(config: &InboundConfig, outcome: Outcome, reason: String) -> Decision {
    match &config.default_action {
        Some(action) => Decision {
            twiml: action.to_twiml(),
            outcome,
            pattern: None,
            action: action.kind(),
            reason: Some(reason),
            schedule: None,
            caller_rule: None,
        },
        None => Decision {
            twiml: twiml::Response::reject(RejectReason::Rejected),
            outcome: if outcome == Outcome::Default {
                Outcome::Rejected
            } else {
                outcome
            },
            pattern: None,
            action: "reject",
            reason: Some(format!("{reason}; no DEFAULT_ROUTE_URL configured")),
            schedule: None,
            caller_rule: None,
        },
    }
}

/// The Studio flow webhook a decision redirects into, if any: a call status callback for such a
/// call must hand Studio the end of the call (a `302` to this URL), or the execution stays open.
pub fn studio_flow_url(decision: &Decision) -> Option<&str> {
    match decision.twiml.verbs().first() {
        Some(twiml::Verb::Redirect { url, .. }) if is_studio_flow_url(url) => Some(url),
        _ => None,
    }
}

/// `https://webhooks.twilio.com/v1/Accounts/AC…/Flows/FW…` (any query string).
pub fn is_studio_flow_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://webhooks.twilio.com/v1/Accounts/") else {
        return false;
    };
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(parts.as_slice(), [account, "Flows", flow]
        if crate::sid::Sid::parse(crate::sid::SidKind::Account, account).is_ok()
            && crate::sid::Sid::parse(crate::sid::SidKind::Flow, flow).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{parse_route_file, RouteTable};
    use crate::twiml::Method;

    fn routes() -> RouteTable {
        parse_route_file(
            r#"{"routes":[
                {"pattern":"+13175551234","url":"https://example.com/main?x=1&y=2"},
                {"pattern":"+1317555*","action":"say","text":"Indy"}
            ]}"#,
            &NumberPlan::default(),
        )
        .unwrap()
    }

    fn run(params: &[(&str, &str)], config: &InboundConfig) -> Decision {
        let params: Params = params.iter().copied().collect();
        let address = called_address(&params, &config.plan);
        let table = routes();
        let matched = address.as_ref().ok().and_then(|a| table.lookup(a));
        decide(
            &address,
            matched.as_ref(),
            config,
            &Call::at(jiff::Timestamp::UNIX_EPOCH),
        )
    }

    fn with_default() -> InboundConfig {
        InboundConfig {
            plan: NumberPlan::default(),
            default_action: Some(
                Action::redirect_to("https://example.com/default", Method::Post).unwrap(),
            ),
        }
    }

    #[test]
    fn a_sip_uri_to_gets_its_route() {
        let d = run(
            &[
                ("To", "sip:+13175551234@example.sip.twilio.com"),
                ("CallSid", "CA1"),
            ],
            &with_default(),
        );
        assert_eq!(d.outcome, Outcome::Matched);
        assert_eq!(d.pattern.as_deref(), Some("+13175551234"));
        assert_eq!(d.action, "redirect");
        assert!(d.twiml.to_xml().contains("main?x=1&amp;y=2"));
        let d = run(&[("To", "sip:3175559999@h")], &with_default());
        assert_eq!(d.pattern.as_deref(), Some("+1317555*"));
        assert_eq!(d.action, "say");
    }

    #[test]
    fn called_is_used_when_to_is_absent() {
        let d = run(&[("Called", "+13175551234")], &with_default());
        assert_eq!(d.outcome, Outcome::Matched);
    }

    #[test]
    fn unmatched_garbled_or_missing_to_gets_the_default() {
        let d = run(&[("To", "+12125551234")], &with_default());
        assert_eq!(d.outcome, Outcome::Default);
        assert_eq!(d.action, "redirect");
        assert!(d.twiml.to_xml().contains("https://example.com/default"));
        let d = run(&[("To", "+1abc")], &with_default());
        assert_eq!(d.outcome, Outcome::BadInput);
        assert!(d.twiml.to_xml().contains("https://example.com/default"));
        let d = run(&[("From", "+1")], &with_default());
        assert_eq!(d.outcome, Outcome::BadInput);
        assert_eq!(
            d.reason.as_deref(),
            Some("the request has no `To` (or `Called`) parameter")
        );
    }

    #[test]
    fn studio_flow_urls_are_recognised() {
        let flow = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";
        assert!(is_studio_flow_url(flow));
        assert!(is_studio_flow_url(&format!("{flow}?FlowEvent=return")));
        assert!(!is_studio_flow_url(
            "https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1"
        ));
        assert!(!is_studio_flow_url("https://example.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000"));
        assert!(!is_studio_flow_url(&format!("{flow}/Executions")));
        let d = fallback(
            &InboundConfig {
                default_action: Some(Action::redirect_to(flow, Method::Post).unwrap()),
                ..InboundConfig::default()
            },
            Outcome::Default,
            String::new(),
        );
        assert_eq!(studio_flow_url(&d), Some(flow));
        let d = run(&[("To", "+13175551234")], &with_default());
        assert_eq!(studio_flow_url(&d), None);
    }

    #[test]
    fn without_a_default_the_call_is_rejected_not_left_unanswered() {
        let none = InboundConfig::default();
        let d = run(&[("To", "+12125551234")], &none);
        assert_eq!(d.outcome, Outcome::Rejected);
        assert_eq!(d.action, "reject");
        assert!(d
            .twiml
            .to_xml()
            .ends_with(r#"<Response><Reject reason="rejected"/></Response>"#));
        let d = run(&[], &none);
        assert_eq!(d.outcome, Outcome::BadInput);
        assert_eq!(d.action, "reject");
    }
}
