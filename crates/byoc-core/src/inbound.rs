//! The inbound decision: from the "A call comes in" webhook parameters and the matched route to
//! the TwiML that answers the call.
//!
//! A call must never go unanswered: a missing or garbled `To`, or no route at all, still yields
//! valid TwiML (the configured default, else `<Reject reason="rejected"/>`).

use crate::number::{restore_lost_plus, Address, NumberError, NumberPlan};
use crate::params::Params;
use jiff::Timestamp;

pub use crate::route::Caller;
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
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Matched => "matched",
            Outcome::Default => "default",
            Outcome::BadInput => "bad_input",
            Outcome::Rejected => "rejected",
            Outcome::Degraded => "degraded",
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
    /// A split's share that answered (0-based).
    pub share: Option<usize>,
}

/// What a decision needs to know about the call besides its called address.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// When the call arrived, for schedules.
    pub at: Timestamp,
    /// The absolute URL of `/inbound/next`, for failover chains.
    pub next_url: &'a str,
    /// Who is calling, for caller conditions ([`Caller::new`]) and splits.
    pub caller: &'a Caller,
    /// Twilio's `CallSid`: what places an anonymous caller in a split.
    pub call_sid: &'a str,
}

/// The action a call gets from `action` of the route keyed `route`: its share of a split
/// (keyed on the caller's number, else the call), else the action itself.
pub fn share_of<'a>(action: &'a Action, route: &str, call: &Call) -> (&'a Action, Option<usize>) {
    match action {
        Action::Split(split) => {
            let key = call.caller.digits.as_deref().unwrap_or(call.call_sid);
            let (i, share) = split.choose(route, key);
            (share, Some(i))
        }
        other => (other, None),
    }
}

/// A caller nothing is known of.
pub static UNKNOWN_CALLER: Caller = Caller {
    digits: None,
    anonymous: false,
    verstat: None,
};

impl Call<'_> {
    /// A call at `at` from an unknown caller, with the relative `/inbound/next`.
    pub fn at(at: Timestamp) -> Call<'static> {
        Call {
            at,
            next_url: crate::route::DEFAULT_NEXT_URL,
            caller: &UNKNOWN_CALLER,
            call_sid: "",
        }
    }
}

/// The called address: `To` (the SIP Request-URI on a BYOC / SIP-domain call), else `Called`.
pub fn called_address(params: &Params, plan: &NumberPlan) -> Result<Address, InboundError> {
    let raw = |name| params.get(name).filter(|v| !v.trim().is_empty());
    let to = raw("To")
        .or_else(|| raw("Called"))
        .ok_or(InboundError::MissingTo)?;
    // A GET webhook or a hand-made query string may carry an unencoded `+`.
    Ok(plan.normalize(&restore_lost_plus(to))?)
}

/// The key to look up for a call: its address, or `*` when the address is unusable (only the
/// catch-all may answer such a call, and it is looked up like any key so caches apply).
pub fn lookup_key(address: &Result<Address, InboundError>) -> Address {
    match address {
        Ok(a) => a.clone(),
        Err(_) => Address::Literal("*".to_string()),
    }
}

/// Decides the answer given the called address and the route the store found for it.
pub fn decide(
    address: &Result<Address, InboundError>,
    matched: Option<&Match>,
    config: &InboundConfig,
    call: &Call,
) -> Decision {
    if let (Ok(_), Some(m)) = (address, matched) {
        let (answer, schedule) = m.route.answer(call.at, call.caller);
        let key = m.route.key();
        let (action, share) = share_of(answer.action, &key, call);
        return Decision {
            twiml: action.to_twiml_for(call.next_url),
            outcome: Outcome::Matched,
            pattern: Some(key),
            action: action.kind(),
            reason: None,
            schedule,
            caller_rule: answer.caller_rule_text(),
            share,
        };
    }
    if let (Err(e), Some(m)) = (address, matched) {
        // Only the catch-all may answer a call whose address could not be read.
        if m.route.pattern == Pattern::CatchAll {
            let (answer, schedule) = m.route.answer(call.at, call.caller);
            let key = m.route.key();
            let (action, share) = share_of(answer.action, &key, call);
            return Decision {
                twiml: action.to_twiml_for(call.next_url),
                outcome: Outcome::BadInput,
                pattern: Some(key),
                action: action.kind(),
                reason: Some(format!("{e}; answered by the * route")),
                schedule,
                caller_rule: answer.caller_rule_text(),
                share,
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
            share: None,
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
            share: None,
        },
    }
}

/// The status callback's `Timestamp` (RFC 2822): `None` when there is none, an error when it
/// cannot be read (the caller says so in its log: the call is then dated "now").
pub fn callback_time(params: &Params) -> Option<Result<Timestamp, String>> {
    static RFC2822: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    params.get_nonblank("Timestamp").map(|t| {
        RFC2822.parse_timestamp(t).map_err(|e| {
            format!(
                "Timestamp `{}` is not an RFC 2822 time: {e}",
                t.chars().take(60).collect::<String>()
            )
        })
    })
}

/// When the call started, for a status callback: Twilio's `Timestamp` (RFC 2822, the time of
/// the callback) minus `CallDuration` (seconds), else `now` minus `CallDuration`. A call's
/// route is decided as of its start: a call that entered a flow at 16:59 must be handed back
/// to that flow when it ends after a 17:00 closing time.
pub fn call_started(params: &Params, now: Timestamp) -> Timestamp {
    let at = callback_time(params).and_then(Result::ok).unwrap_or(now);
    let duration = params
        .get_nonblank("CallDuration")
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|d| (0..=86_400 * 7).contains(d))
        .unwrap_or(0);
    at.checked_sub(jiff::SignedDuration::from_secs(duration))
        .unwrap_or(at)
}

/// The Studio flow webhook the call can have been handed to, for its status callback (a `302`
/// there lets Studio end the execution). Decided like [`decide`], as of `call.at`, and looked
/// for on every path the answering action can take: its own `<Redirect>`, a failover chain's
/// `final` action (reached when no target answered), the first `<Redirect>` of a `twiml`
/// fragment. The schedule's `closed` / `holiday` branches and caller conditions are covered by
/// deciding the action as of the call's start for its caller.
pub fn studio_flow(
    address: &Result<Address, InboundError>,
    matched: Option<&Match>,
    config: &InboundConfig,
    call: &Call,
) -> Option<String> {
    let action = match (address, matched) {
        (Ok(_), Some(m)) => Some(
            share_of(
                m.route.answer(call.at, call.caller).0.action,
                &m.route.key(),
                call,
            )
            .0,
        ),
        (Err(_), Some(m)) if m.route.pattern == Pattern::CatchAll => Some(
            share_of(
                m.route.answer(call.at, call.caller).0.action,
                &m.route.key(),
                call,
            )
            .0,
        ),
        _ => config.default_action.as_ref(),
    };
    action.and_then(flow_of)
}

fn flow_of(action: &Action) -> Option<String> {
    match action {
        Action::Redirect { url, .. } if is_studio_flow_url(url) => Some(url.clone()),
        Action::Chain(chain) => chain.final_action.as_deref().and_then(flow_of),
        Action::Twiml { twiml } => twiml::first_redirect(twiml).filter(|u| is_studio_flow_url(u)),
        _ => None,
    }
}

/// Whether a status callback may be sent to `flow`: as flex-inbound-sip-router does, only for
/// an inbound call (`Direction=inbound`) of the account the flow belongs to (`AccountSid`). A
/// `302` to another account's flow, or for an `outbound-dial` leg, would feed a stranger's or
/// the wrong execution.
pub fn status_may_return_to(flow: &str, params: &Params) -> bool {
    let account = params.get_nonblank("AccountSid").unwrap_or("");
    params.get("Direction") == Some("inbound")
        && !account.is_empty()
        && flow
            .strip_prefix("https://webhooks.twilio.com/v1/Accounts/")
            .and_then(|rest| rest.strip_prefix(account))
            .is_some_and(|rest| rest.starts_with("/Flows/"))
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
    use crate::route::RouteTable;
    use crate::route_file::parse_route_file;
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
    }

    #[test]
    fn the_status_callback_finds_the_flow_on_every_path_as_of_the_call_start() {
        let flow = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW00000000000000000000000000000000";
        let other = "https://webhooks.twilio.com/v1/Accounts/AC00000000000000000000000000000000/Flows/FW11111111111111111111111111111111";
        let plan = NumberPlan::default();
        let table = parse_route_file(
            &format!(
                r#"{{"routes":[
                {{"pattern":"+13175550001","url":"{flow}",
                  "schedule":{{"timezone":"UTC","hours":["daily 09:00-17:00"],
                               "closed":{{"url":"{other}"}}}}}},
                {{"pattern":"+13175550002","action":"dial",
                  "targets":[{{"number":"+13175559999"}}],"final":{{"url":"{flow}"}}}},
                {{"pattern":"+13175550003","action":"twiml",
                  "twiml":"<Say>One moment</Say><Redirect method=\"POST\">{}</Redirect>"}},
                {{"pattern":"+13175550004","action":"say","text":"hi",
                  "callers":[{{"from":"+1900","url":"{flow}"}}]}},
                {{"pattern":"+13175550005","action":"hangup"}}
            ]}}"#,
                flow.replace('&', "&amp;")
            ),
            &plan,
        )
        .unwrap();
        let config = InboundConfig::default();
        let find = |to: &str, at: &str, from: Option<&str>| {
            let address = plan.normalize(to).map_err(InboundError::from);
            let matched = table.lookup(address.as_ref().unwrap());
            let caller = Caller::from_digits(from);
            let call = Call {
                at: at.parse().unwrap(),
                next_url: "/inbound/next",
                caller: &caller,
                call_sid: "CA1",
            };
            studio_flow(&address, matched.as_ref(), &config, &call)
        };
        // Entered the flow at 16:59, ended after closing time: still that flow.
        let mut params = Params::new();
        params.push("Timestamp", "Sat, 28 Nov 2026 17:04:00 +0000");
        params.push("CallDuration", "300");
        let start = call_started(&params, jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(start.to_string(), "2026-11-28T16:59:00Z");
        assert_eq!(
            find("+13175550001", &start.to_string(), None).as_deref(),
            Some(flow)
        );
        assert_eq!(
            find("+13175550001", "2026-11-28T18:00:00Z", None).as_deref(),
            Some(other),
            "the closed branch's flow"
        );
        assert_eq!(
            find("+13175550002", "2026-11-28T12:00:00Z", None).as_deref(),
            Some(flow)
        );
        assert_eq!(
            find("+13175550003", "2026-11-28T12:00:00Z", None).as_deref(),
            Some(flow)
        );
        assert_eq!(
            find("+13175550004", "2026-11-28T12:00:00Z", Some("19005551234")).as_deref(),
            Some(flow)
        );
        assert_eq!(find("+13175550004", "2026-11-28T12:00:00Z", None), None);
        assert_eq!(find("+13175550005", "2026-11-28T12:00:00Z", None), None);
        // The default route, when nothing matched.
        let with_flow = InboundConfig {
            default_action: Some(Action::redirect_to(flow, Method::Post).unwrap()),
            ..InboundConfig::default()
        };
        let call = Call::at(jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(
            studio_flow(
                &Ok(plan.normalize("+12125551234").unwrap()),
                None,
                &with_flow,
                &call
            )
            .as_deref(),
            Some(flow)
        );
        // Without Timestamp: now minus the duration; a garbled duration counts as 0.
        let mut params = Params::new();
        params.push("CallDuration", "60");
        let now: jiff::Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        assert_eq!(
            call_started(&params, now).to_string(),
            "2026-11-28T11:59:00Z"
        );
        let mut params = Params::new();
        params.push("Timestamp", "garbage");
        params.push("CallDuration", "-5");
        assert_eq!(call_started(&params, now), now);
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

    #[test]
    fn a_status_callback_returns_only_to_the_callers_own_flow() {
        let flow = "https://webhooks.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/Flows/FW0123456789abcdef0123456789abcdef";
        let params = |account: &str, direction: &str| -> Params {
            [("AccountSid", account), ("Direction", direction)]
                .into_iter()
                .collect()
        };
        assert!(status_may_return_to(
            flow,
            &params("AC0123456789abcdef0123456789abcdef", "inbound")
        ));
        assert!(!status_may_return_to(
            flow,
            &params("AC11111111111111111111111111111111", "inbound")
        ));
        assert!(!status_may_return_to(
            flow,
            &params("AC0123456789abcdef0123456789abcdef", "outbound-dial")
        ));
        assert!(!status_may_return_to(flow, &params("", "inbound")));
        assert!(!status_may_return_to(flow, &Params::new()));
        // A prefix of the account is not the account.
        assert!(!status_may_return_to(flow, &params("AC0123", "inbound")));
    }
}
