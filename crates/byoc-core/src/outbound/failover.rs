//! Carrier failover: several BYOC trunks tried in order, moving on only when the carrier or the
//! route failed, never on the callee's own answer.
//!
//! With more than one attempt (a trunk list, or [`OutboundConfig::pstn_fallback`]), the first
//! `<Dial>` gets `action="…/outbound/next?<state>&BYOC_ATTEMPT=1"`. The state is the validated
//! request itself (`OUTBOUND_DID`, `BYOC_TRUNK_SID` as the list chosen, `CALLER_ID`, the
//! options, the flow's `ACTION_URL`), so a step is decided exactly like the first request:
//! every number goes through the policy again, and there is no server-side session. Twilio
//! signs the action request over the full URL, so the signature check covers the state.
//!
//! Twilio posts the attempt's `DialCallStatus` (and, when the carrier answered the INVITE with
//! an error, `DialSipResponseCode`) to the step, which dials the next attempt on a technical
//! failure ([`AttemptResult::of`]) and otherwise goes back to the flow's `ACTION_URL` (a
//! `<Redirect>` carrying the final attempt's status, SIP code and trunk) or hangs up.
//!
//! One trunk without the PSTN fallback keeps the plain `<Dial>` of a single attempt, whose
//! `action` is the flow's own URL: the common call costs no extra request.

use crate::outbound::{OutboundConfig, OutboundError, SettingError};
use crate::params::Params;
use crate::route::check_url;
use crate::sid::{Sid, SidKind};
use crate::twiml::{self, Method, Verb};

/// Most trunks one call may try (`BYOC_TRUNK_SID` list, an `OUTBOUND_TRUNK_ROUTES` entry).
pub const MAX_TRUNKS: usize = 5;
/// The step's query parameter: the attempt Twilio reports on (1-based).
pub const PARAM_ATTEMPT: &str = "BYOC_ATTEMPT";
/// How the log, metrics and the flow name the last attempt over Twilio's own network.
pub const PSTN: &str = "pstn";
/// SIP answers that are the callee's own, never a carrier's failure: busy here, busy
/// everywhere, decline, unwanted.
pub const CALLEE_CODES: [u16; 4] = [486, 600, 603, 607];
/// The longest step URL written into a `<Dial action>`: a request whose state (its
/// `ACTION_URL` above all) would not fit is refused at `/outbound`, before any dial.
pub const STEP_URL_MAX: usize = 4096;
/// Twilio's `<Dial action>` parameters passed on to the flow with the final attempt's outcome,
/// as Twilio would have posted them to it after a single `<Dial>`.
const PASSED_ON: [&str; 6] = [
    "DialCallSid",
    "DialCallDuration",
    "DialBridged",
    "RecordingUrl",
    "RecordingSid",
    "RecordingDuration",
];
/// The setting mapping destination prefixes to trunk lists.
pub const TRUNK_ROUTES_SETTING: &str = "OUTBOUND_TRUNK_ROUTES";

/// A list of BYOC trunk SIDs, as a request or a setting writes it: `BY…,BY…` (commas, spaces
/// around them allowed), 1 to [`MAX_TRUNKS`], each once. The error says what is wrong.
pub fn parse_trunks(text: &str) -> Result<Vec<Sid>, String> {
    // On every outbound request: no list of the items is built, and one trunk is one
    // allocation for the list.
    let count = text.split(',').count();
    if count > MAX_TRUNKS {
        return Err(format!(
            "{count} trunks: at most {MAX_TRUNKS} may be tried in one call"
        ));
    }
    let mut trunks: Vec<Sid> = Vec::with_capacity(count);
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!(
                "`{}` is not a list of trunk SIDs such as BYaaa...,BYbbb... (an empty item)",
                super::shorten(text)
            ));
        }
        if item.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("SD")) {
            return Err(format!(
                "`{}` is a SIP domain SID (SD...), not a BYOC trunk SID (BY...): copy the trunk's SID from Voice > BYOC Trunks",
                super::shorten(item)
            ));
        }
        let sid = Sid::parse(SidKind::ByocTrunk, item).map_err(|e| e.to_string())?;
        if trunks.contains(&sid) {
            return Err(format!("{sid} is listed twice: each trunk is tried once"));
        }
        trunks.push(sid);
    }
    Ok(trunks)
}

/// `OUTBOUND_TRUNK_ROUTES`: destination prefixes and the trunks their calls try, for requests
/// that name no trunk. Written `+44=BYaaa…,BYbbb…; +1=BYccc…`: entries separated by `;` (or
/// new lines), each an E.164 prefix, `=`, and a trunk list. The longest matching prefix wins;
/// a destination no entry matches uses `BYOC_TRUNK_SID`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrunkRoutes {
    /// Longest prefix first, so the first match is the one used.
    entries: Vec<(String, Vec<Sid>)>,
}

impl TrunkRoutes {
    pub fn parse(text: &str) -> Result<Self, SettingError> {
        let bad = |reason: String| SettingError {
            setting: TRUNK_ROUTES_SETTING,
            reason,
        };
        let mut entries: Vec<(String, Vec<Sid>)> = Vec::new();
        for entry in text
            .split([';', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let Some((prefix, trunks)) = entry.split_once('=') else {
                return Err(bad(format!(
                    "`{}` is not PREFIX=TRUNKS (such as +44=BYaaa...,BYbbb...)",
                    super::shorten(entry)
                )));
            };
            let prefix = prefix.trim();
            let digits = prefix.strip_prefix('+').unwrap_or("");
            if !prefix.starts_with('+')
                || !(1..=15).contains(&digits.len())
                || digits.starts_with('0')
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad(format!(
                    "`{}` is not an E.164 prefix such as +44 or +1212",
                    super::shorten(prefix)
                )));
            }
            if !country_code_fits(digits) {
                return Err(bad(format!(
                    "`{prefix}` starts with no country code that exists: no call would ever use this entry"
                )));
            }
            if entries.iter().any(|(p, _)| p == prefix) {
                return Err(bad(format!("`{prefix}` has two entries")));
            }
            let trunks = parse_trunks(trunks).map_err(|e| {
                if trunks.contains('=') {
                    bad(format!(
                        "{prefix}: entries are separated by `;`, not `,` ({e})"
                    ))
                } else {
                    bad(format!("{prefix}: {e}"))
                }
            })?;
            entries.push((prefix.to_string(), trunks));
        }
        entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for an E.164 destination: its prefix and trunks.
    pub fn lookup(&self, number: &str) -> Option<(&str, &[Sid])> {
        self.entries
            .iter()
            .find(|(p, _)| number.starts_with(p.as_str()))
            .map(|(p, t)| (p.as_str(), t.as_slice()))
    }

    /// The prefixes of entries the policy never lets a call reach: under no allowed prefix,
    /// or wholly under a denied one (`+1900`, `+1876`). Configured, but never used. (A range
    /// refused by its number type or territory is not seen here.)
    pub fn unused_prefixes(&self, policy: &crate::outbound::Policy) -> Vec<String> {
        self.entries
            .iter()
            .map(|(p, _)| p)
            .filter(|p| {
                let allowed = policy
                    .allowed_prefixes
                    .iter()
                    .any(|a| p.starts_with(a.as_str()) || a.starts_with(p.as_str()));
                let denied = policy
                    .denied_prefixes
                    .iter()
                    .any(|d| crate::nanp::prefix_matches(p, d));
                !allowed || denied
            })
            .cloned()
            .collect()
    }

    /// One line for the start-up log.
    pub fn summary(&self) -> String {
        self.entries
            .iter()
            .map(|(p, t)| {
                let list: Vec<&str> = t.iter().map(Sid::as_str).collect();
                format!("{p}={}", list.join(","))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Whether some country code begins these digits, or begins with them (`+3` covers Europe's
/// codes; `+999` no country).
fn country_code_fits(digits: &str) -> bool {
    (1..=digits.len().min(3)).any(|n| {
        digits[..n]
            .parse::<u16>()
            .is_ok_and(crate::phone::country_code_known)
    }) || (digits.len() < 3
        && (1..=999u16)
            .filter(|cc| crate::phone::country_code_known(*cc))
            .any(|cc| cc.to_string().starts_with(digits)))
}

/// How one attempt ended, from Twilio's `DialCallStatus` and `DialSipResponseCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// Someone answered (`completed`, `answered`).
    Answered,
    /// The callee's own answer: `busy`, `no-answer`, SIP 486 (busy here), 600 (busy
    /// everywhere), 603 (decline) or 607 (unwanted: RFC 8197, the callee marked the call as
    /// unwanted; sending it over another carrier is what robocallers do).
    /// Another carrier would reach the same phone: never moves on.
    Callee,
    /// The caller hung up while it rang.
    Canceled,
    /// The carrier or the route failed: `failed`, or SIP 408, 5xx, 6xx other than 603.
    Technical,
    /// No status Twilio defines.
    Unknown,
}

impl AttemptResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Answered => "answered",
            AttemptResult::Callee => "callee",
            AttemptResult::Canceled => "canceled",
            AttemptResult::Technical => "technical",
            AttemptResult::Unknown => "unknown",
        }
    }

    /// The callee's statuses decide first (a `no-answer` reported with 408 stays the callee's),
    /// then the callee's codes (a `failed` with 486, 600, 603 or 607 is still the callee's
    /// answer), then `failed` with any other code or none, then a technical code with no
    /// status.
    pub fn of(status: &str, sip_code: Option<u16>) -> Self {
        match status {
            "completed" | "answered" => return AttemptResult::Answered,
            "busy" | "no-answer" => return AttemptResult::Callee,
            "canceled" => return AttemptResult::Canceled,
            _ => {}
        }
        if sip_code.is_some_and(|c| CALLEE_CODES.contains(&c)) {
            return AttemptResult::Callee;
        }
        if status == "failed" || matches!(sip_code, Some(408 | 500..=699)) {
            return AttemptResult::Technical;
        }
        AttemptResult::Unknown
    }
}

/// The answer of `/outbound/next`, and what its log line says.
#[derive(Debug, Clone)]
pub struct Step {
    pub twiml: twiml::Response,
    /// `failover` (the next attempt is dialled), `returned` (back to `ACTION_URL`), `ended`
    /// (no `ACTION_URL`: hang up), `refused` (the state no longer passes the checks).
    pub outcome: &'static str,
    /// The attempt reported on (1-based) and its trunk (`pstn` for Twilio's network).
    pub attempt: Option<usize>,
    pub trunk: Option<String>,
    pub result: Option<AttemptResult>,
    /// The trunk of the attempt now dialled (`failover`).
    pub next_trunk: Option<String>,
    /// The numbers dialled, comma-separated.
    pub numbers: String,
    /// Why the step refused: the state did not pass the checks again.
    pub error: Option<OutboundError>,
}

/// The trunk of attempt `i` (0-based): a `BY…` SID, or [`PSTN`] past the list.
pub fn trunk_name(trunks: &[Sid], i: usize) -> &str {
    trunks.get(i).map_or(PSTN, Sid::as_str)
}

/// Answers Twilio's post-back after an attempt: `query` is the state the first answer wrote,
/// `body` Twilio's action parameters.
///
/// Only a technical failure with an attempt left dials again, and only after the whole state
/// passed the checks of a first request (the policy may have changed since, and the state is
/// only as trustworthy as the signature on it). Any other outcome goes back to the flow as it
/// happened: a call already answered or declined is never reported as refused.
pub fn next(query: &Params, body: &Params, config: &OutboundConfig, next_url: &str) -> Step {
    let status = body.get("DialCallStatus").unwrap_or("").trim();
    let sip_code = body
        .get("DialSipResponseCode")
        .and_then(|c| c.trim().parse::<u16>().ok());
    let result = AttemptResult::of(status, sip_code);
    let numbers = query.get(super::PARAM_DID).unwrap_or("").to_string();
    let refused = |error: OutboundError, attempt: Option<(usize, String)>, numbers: String| {
        let decision = super::refusal(query, body, config, error);
        let (attempt, trunk) = attempt.unzip();
        Step {
            twiml: decision.twiml,
            outcome: "refused",
            attempt,
            // A step whose trunk cannot be read reports no result: the metrics by trunk must
            // not count a failure against a trunk called "unknown".
            result: trunk.as_ref().map(|_| result),
            trunk,
            next_trunk: None,
            numbers,
            error: decision.result.err(),
        }
    };
    let trunks = match query.get(super::PARAM_TRUNK).map(parse_trunks) {
        Some(Ok(trunks)) => trunks,
        Some(Err(e)) => {
            return refused(
                OutboundError::BadStep(format!("BYOC_TRUNK_SID: {e}")),
                None,
                numbers,
            )
        }
        None => {
            return refused(
                OutboundError::BadStep("no BYOC_TRUNK_SID".into()),
                None,
                numbers,
            )
        }
    };
    let attempts = trunks.len() + usize::from(config.pstn_fallback);
    // Reported on: any attempt the call can have made, the PSTN one included even if the
    // fallback was switched off since (that call's outcome still goes back to the flow).
    let Some(attempt) = query
        .get(PARAM_ATTEMPT)
        .and_then(|a| a.trim().parse::<usize>().ok())
        .filter(|a| (1..=trunks.len() + 1).contains(a))
    else {
        return refused(
            OutboundError::BadStep(format!(
                "{PARAM_ATTEMPT} is not an attempt of this call (1 to {attempts})"
            )),
            None,
            numbers,
        );
    };
    let trunk = trunk_name(&trunks, attempt - 1).to_string();
    // The caller still there: Twilio's `CallStatus` of the parent call is `in-progress` while
    // it waits; once the caller hung up, nothing is dialled again.
    let caller_gone = matches!(
        body.get("CallStatus").map(str::trim),
        Some("completed" | "canceled" | "failed" | "busy" | "no-answer")
    );
    if result == AttemptResult::Technical && attempt < attempts && !caller_gone {
        return match super::validate(query, body, config) {
            Ok(dial) => Step {
                twiml: dial.attempt_twiml(attempt, next_url),
                outcome: "failover",
                attempt: Some(attempt),
                next_trunk: Some(trunk_name(&dial.trunks, attempt).to_string()),
                trunk: Some(trunk),
                result: Some(result),
                numbers: dial.numbers.join(","),
                error: None,
            },
            Err(e) => refused(e, Some((attempt, trunk)), numbers),
        };
    }
    let action = query
        .get("ACTION_URL")
        .and_then(|u| check_url("ACTION_URL", u).ok());
    let method = query
        .get("ACTION_METHOD")
        .and_then(Method::parse)
        .unwrap_or(Method::Post);
    let mut extra: Vec<(&str, String)> = vec![("DialCallStatus", status.to_string())];
    if let Some(code) = sip_code {
        extra.push(("DialSipResponseCode", code.to_string()));
    }
    for name in PASSED_ON {
        if let Some(v) = body.get_nonblank(name) {
            extra.push((name, v.to_string()));
        }
    }
    extra.push(("ByocTrunk", trunk.clone()));
    extra.push(("ByocAttempts", attempt.to_string()));
    extra.push(("ByocOutcome", result.as_str().to_string()));
    let (twiml, outcome) = match action.and_then(|url| with_query(&url, &extra)) {
        Some(target) => (
            twiml::Response::new().verb(Verb::Redirect {
                url: target,
                method,
            }),
            "returned",
        ),
        None => (twiml::Response::new().verb(Verb::Hangup), "ended"),
    };
    Step {
        twiml,
        outcome,
        attempt: Some(attempt),
        trunk: Some(trunk),
        result: Some(result),
        next_trunk: None,
        numbers,
        error: None,
    }
}

/// `url` with these parameters in its query string, replacing any of the same names it had
/// (an `ACTION_URL` written with `ByocOutcome=x` must not carry two values).
pub(super) fn with_query(url: &str, pairs: &[(&str, String)]) -> Option<String> {
    let mut target = url::Url::parse(url).ok()?;
    let kept: Vec<(String, String)> = target
        .query_pairs()
        .filter(|(k, _)| !pairs.iter().any(|(name, _)| k == name))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = target.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Some(target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::{decide, Dial};
    use crate::sid::SidKind;

    const A: &str = "BY0123456789abcdef0123456789abcdef";
    const B: &str = "BYfedcba9876543210fedcba9876543210";
    const NEXT: &str = "https://h.example.com/Prod/outbound/next";
    const FLOW: &str = "https://webhooks.twilio.com/v1/Accounts/AC0/Flows/FW0?FlowEvent=return";

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().copied().collect()
    }

    fn first(query: &[(&str, &str)], config: &OutboundConfig) -> (Dial, String) {
        let d = decide(&p(query), &p(&[("From", "+13175550123")]), config, NEXT);
        let xml = d.twiml.to_xml();
        (d.result.expect("dials"), xml)
    }

    /// The state Twilio would post back to: the query of the `<Dial action>` of `xml`.
    fn state_of(xml: &str) -> Params {
        let action = xml
            .split("action=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("an action")
            .replace("&amp;", "&");
        let (url, query) = action.split_once('?').expect("a query");
        assert_eq!(url, NEXT);
        Params::from_form(query.as_bytes())
    }

    fn report(status: &str, code: Option<&str>) -> Params {
        let mut body = p(&[("From", "+13175550123"), ("DialCallStatus", status)]);
        if let Some(c) = code {
            body.push("DialSipResponseCode", c);
        }
        body
    }

    #[test]
    fn one_trunk_keeps_the_plain_dial_and_two_carry_the_state() {
        let config = OutboundConfig::default();
        let (_, xml) = first(
            &[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", A),
                ("ACTION_URL", FLOW),
            ],
            &config,
        );
        assert!(
            xml.contains("action=\"https://webhooks.twilio.com/"),
            "{xml}"
        );
        let (dial, xml) = first(
            &[
                ("OUTBOUND_DID", "+13175551234 x12"),
                ("BYOC_TRUNK_SID", &format!("{A},{B}")),
                ("ACTION_URL", FLOW),
                ("TIMEOUT", "20"),
            ],
            &config,
        );
        assert_eq!(dial.attempts(), 2);
        assert!(xml.contains(&format!("byoc=\"{A}\"")), "{xml}");
        assert!(xml.contains("method=\"POST\""), "{xml}");
        let state = state_of(&xml);
        assert_eq!(state.get(PARAM_ATTEMPT), Some("1"));
        assert_eq!(state.get("ACTION_URL"), Some(FLOW));
        assert_eq!(state.get("CALLER_ID"), Some("+13175550123"));
        assert_eq!(state.get("OUTBOUND_DID"), Some("+13175551234;ext=12"));
        // Read back, the state is the same dial.
        let again = crate::outbound::validate(&state, &Params::new(), &config).unwrap();
        assert_eq!(again, dial);
    }

    #[test]
    fn a_technical_failure_moves_on_and_the_callee_ends_it() {
        let config = OutboundConfig::default();
        let trunks = format!("{A},{B}");
        let query = [
            ("OUTBOUND_DID", "+13175551234"),
            ("BYOC_TRUNK_SID", trunks.as_str()),
            ("ACTION_URL", FLOW),
        ];
        let (_, xml) = first(&query, &config);
        let state = state_of(&xml);
        let step = next(&state, &report("failed", Some("503")), &config, NEXT);
        assert_eq!(step.outcome, "failover");
        assert_eq!(step.trunk.as_deref(), Some(A));
        assert_eq!(step.next_trunk.as_deref(), Some(B));
        let xml2 = step.twiml.to_xml();
        assert!(xml2.contains(&format!("byoc=\"{B}\"")), "{xml2}");
        let state2 = state_of(&xml2);
        assert_eq!(state2.get(PARAM_ATTEMPT), Some("2"));
        // The last trunk's failure goes back to the flow with what happened.
        let step = next(&state2, &report("failed", Some("503")), &config, NEXT);
        assert_eq!(step.outcome, "returned");
        let xml3 = step.twiml.to_xml();
        for part in [
            "FlowEvent=return",
            "DialCallStatus=failed",
            "DialSipResponseCode=503",
            &format!("ByocTrunk={B}"),
            "ByocAttempts=2",
            "ByocOutcome=technical",
        ] {
            assert!(xml3.contains(part), "{part}: {xml3}");
        }
        // Busy on the first trunk ends the attempts.
        for (status, code) in [
            ("busy", Some("486")),
            ("failed", Some("603")),
            ("no-answer", None),
            ("completed", None),
        ] {
            let step = next(&state, &report(status, code), &config, NEXT);
            assert_eq!(step.outcome, "returned", "{status}");
            assert!(step.twiml.to_xml().contains(&format!("ByocTrunk={A}")));
        }
        // Without ACTION_URL, the call ends.
        let (_, xml) = first(&query[..2], &config);
        let step = next(&state_of(&xml), &report("busy", None), &config, NEXT);
        assert_eq!(step.outcome, "ended");
        assert!(step.twiml.to_xml().contains("<Hangup/>"));
    }

    #[test]
    fn twilio_s_network_comes_last_when_enabled() {
        let config = OutboundConfig {
            pstn_fallback: true,
            ..OutboundConfig::default()
        };
        let (dial, xml) = first(
            &[("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", A)],
            &config,
        );
        assert_eq!(dial.attempts(), 2);
        let step = next(&state_of(&xml), &report("failed", None), &config, NEXT);
        assert_eq!(step.next_trunk.as_deref(), Some(PSTN));
        let xml = step.twiml.to_xml();
        assert!(!xml.contains("byoc="), "{xml}");
        assert!(xml.contains(">+13175551234</Number>"), "{xml}");
        let step = next(&state_of(&xml), &report("failed", None), &config, NEXT);
        assert_eq!((step.outcome, step.trunk.as_deref()), ("ended", Some(PSTN)));
    }

    #[test]
    fn an_edited_state_meets_the_policy_again() {
        let config = OutboundConfig::default();
        let (_, xml) = first(
            &[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", &format!("{A},{B}")),
                ("ACTION_URL", FLOW),
            ],
            &config,
        );
        let mut edited = Params::new();
        for (k, v) in state_of(&xml).iter() {
            edited.push(
                k,
                if k == "OUTBOUND_DID" {
                    "+19005551234"
                } else {
                    v
                },
            );
        }
        let step = next(&edited, &report("failed", Some("503")), &config, NEXT);
        assert_eq!(step.outcome, "refused");
        assert_eq!(
            step.error.as_ref().map(|e| e.kind()),
            Some("policy_destination")
        );
        let xml = step.twiml.to_xml();
        assert!(!xml.contains("<Dial"), "{xml}");
        assert!(xml.contains("ByocOutcome=refused"), "{xml}");
        // An attempt the state does not have.
        let mut edited = Params::new();
        for (k, v) in state_of(&xml_of_two(&config)).iter() {
            edited.push(k, if k == PARAM_ATTEMPT { "7" } else { v });
        }
        let step = next(&edited, &report("failed", None), &config, NEXT);
        assert_eq!(step.outcome, "refused");
        assert_eq!(step.error.as_ref().map(|e| e.kind()), Some("bad_step"));
        assert_eq!((step.trunk.as_deref(), step.result), (None, None));
    }

    #[test]
    fn a_call_already_answered_goes_back_as_it_happened_whatever_the_policy_now_says() {
        let (_, xml) = first(
            &[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", &format!("{A},{B}")),
                ("ACTION_URL", FLOW),
            ],
            &OutboundConfig::default(),
        );
        // The operator denies +1317 while the call is up.
        let now = OutboundConfig {
            policy: crate::outbound::Policy {
                denied_prefixes: vec!["+1317".into()],
                ..crate::outbound::Policy::default()
            },
            ..OutboundConfig::default()
        };
        let state = state_of(&xml);
        for (status, outcome) in [("completed", "answered"), ("busy", "callee")] {
            let step = next(&state, &report(status, None), &now, NEXT);
            assert_eq!(step.outcome, "returned", "{status}");
            assert!(step
                .twiml
                .to_xml()
                .contains(&format!("ByocOutcome={outcome}")));
        }
        // But no further trunk is dialled for it: the failure is reported with its trunk.
        let step = next(&state, &report("failed", Some("503")), &now, NEXT);
        assert_eq!(step.outcome, "refused");
        assert_eq!((step.trunk.as_deref(), step.attempt), (Some(A), Some(1)));
        assert_eq!(step.result, Some(AttemptResult::Technical));
    }

    #[test]
    fn a_deployment_set_up_for_failover_steps_every_call() {
        let config = OutboundConfig {
            policy: crate::outbound::Policy {
                allowed_prefixes: vec!["+1".into(), "+44".into()],
                ..crate::outbound::Policy::default()
            },
            trunk_routes: TrunkRoutes::parse(&format!("+44={B},{A}")).unwrap(),
            default_trunks: vec![Sid::parse(SidKind::ByocTrunk, A).unwrap()],
            ..OutboundConfig::default()
        };
        // One trunk for +1, yet the flow gets the same return as a +44 call.
        let (dial, xml) = first(
            &[("OUTBOUND_DID", "+13175551234"), ("ACTION_URL", FLOW)],
            &config,
        );
        assert_eq!(dial.attempts(), 1);
        let step = next(&state_of(&xml), &report("completed", None), &config, NEXT);
        assert_eq!(step.outcome, "returned");
        assert!(step.twiml.to_xml().contains("ByocOutcome=answered"));
    }

    #[test]
    fn twilio_s_dial_results_reach_the_flow_and_a_gone_caller_is_not_dialled_again() {
        let config = OutboundConfig {
            pstn_fallback: true,
            ..OutboundConfig::default()
        };
        let (_, xml) = first(
            &[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", A),
                ("ACTION_URL", FLOW),
                ("RECORD", "record-from-answer"),
            ],
            &config,
        );
        let state = state_of(&xml);
        let mut body = report("completed", None);
        for (k, v) in [
            ("DialCallSid", "CA5"),
            ("DialCallDuration", "42"),
            ("DialBridged", "true"),
            ("RecordingUrl", "https://api.twilio.com/rec/RE1"),
        ] {
            body.push(k, v);
        }
        let xml = next(&state, &body, &config, NEXT).twiml.to_xml();
        for part in [
            "DialCallSid=CA5",
            "DialCallDuration=42",
            "DialBridged=true",
            "RecordingUrl=https",
        ] {
            assert!(xml.contains(part), "{part}: {xml}");
        }
        // The caller hung up while the first trunk failed: nothing more is dialled.
        let mut body = report("failed", Some("503"));
        body.push("CallStatus", "completed");
        let step = next(&state, &body, &config, NEXT);
        assert_eq!(step.outcome, "returned");
        assert_eq!(step.result, Some(AttemptResult::Technical));
        // The PSTN fallback switched off while a call was on it: its outcome still goes back.
        let pstn_state = state_of(
            &next(&state, &report("failed", None), &config, NEXT)
                .twiml
                .to_xml(),
        );
        let step = next(
            &pstn_state,
            &report("completed", None),
            &OutboundConfig::default(),
            NEXT,
        );
        assert_eq!(
            (step.outcome, step.trunk.as_deref()),
            ("returned", Some(PSTN))
        );
    }

    #[test]
    fn a_state_too_long_for_a_step_url_is_refused_before_any_dial() {
        // 2,002 characters, under ACTION_URL's 2,048; each `=` and `&` triples when encoded.
        let long = format!("https://example.com/r?{}", "a=b&".repeat(495));
        let q = p(&[
            ("OUTBOUND_DID", "+13175551234,+13175551235,+13175551236"),
            ("BYOC_TRUNK_SID", &format!("{A},{B}")),
            ("ACTION_URL", &long),
        ]);
        let d = decide(&q, &Params::new(), &OutboundConfig::default(), NEXT);
        let e = d.result.unwrap_err();
        assert_eq!(e.kind(), "bad_option");
        assert!(e.to_string().contains("4096"), "{e}");
        // One trunk, no step: the same request dials.
        let q = p(&[
            ("OUTBOUND_DID", "+13175551234"),
            ("BYOC_TRUNK_SID", A),
            ("ACTION_URL", &long),
        ]);
        assert!(decide(&q, &Params::new(), &OutboundConfig::default(), NEXT)
            .result
            .is_ok());
    }

    #[test]
    fn the_return_replaces_parameters_the_action_url_already_had() {
        let url = with_query(
            "https://example.com/r?a=1&ByocOutcome=x&DialCallStatus=y",
            &[
                ("DialCallStatus", "busy".into()),
                ("ByocOutcome", "callee".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            url,
            "https://example.com/r?a=1&DialCallStatus=busy&ByocOutcome=callee"
        );
    }

    fn xml_of_two(config: &OutboundConfig) -> String {
        first(
            &[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", &format!("{A},{B}")),
            ],
            config,
        )
        .1
    }

    #[test]
    fn destinations_choose_their_trunks_by_prefix() {
        let config = OutboundConfig {
            policy: crate::outbound::Policy {
                allowed_prefixes: vec!["+1".into(), "+44".into()],
                ..crate::outbound::Policy::default()
            },
            trunk_routes: TrunkRoutes::parse(&format!("+44={B},{A}")).unwrap(),
            default_trunks: vec![Sid::parse(SidKind::ByocTrunk, A).unwrap()],
            ..OutboundConfig::default()
        };
        let (dial, _) = first(&[("OUTBOUND_DID", "+442071234567")], &config);
        assert_eq!(
            dial.trunks.iter().map(Sid::as_str).collect::<Vec<_>>(),
            [B, A]
        );
        let (dial, _) = first(&[("OUTBOUND_DID", "+13175551234")], &config);
        assert_eq!(dial.trunks.len(), 1);
        // The request's own list wins.
        let (dial, _) = first(
            &[("OUTBOUND_DID", "+442071234567"), ("BYOC_TRUNK_SID", A)],
            &config,
        );
        assert_eq!(dial.trunks.len(), 1);
        let d = decide(
            &p(&[("OUTBOUND_DID", "+442071234567,+13175551234")]),
            &Params::new(),
            &config,
            NEXT,
        );
        let e = d.result.unwrap_err();
        assert!(
            e.to_string()
                .contains("different trunk lists (OUTBOUND_TRUNK_ROUTES +44 and BYOC_TRUNK_SID)"),
            "{e}"
        );
        let no_default = OutboundConfig {
            default_trunks: vec![],
            ..config
        };
        let d = decide(
            &p(&[("OUTBOUND_DID", "+13175551234")]),
            &Params::new(),
            &no_default,
            NEXT,
        );
        assert!(
            matches!(d.result, Err(OutboundError::NoTrunkFor { .. })),
            "{:?}",
            d.result
        );
    }

    #[test]
    fn bad_trunk_lists_are_refused_with_the_reason() {
        let six: Vec<String> = (0..6).map(|i| format!("BY{i:032x}")).collect();
        for (list, why) in [
            (format!("{A},{A}"), "listed twice"),
            (six.join(","), "at most 5"),
            (format!("{A},nope"), "BYOC_TRUNK_SID"),
            (format!("{A};{B}"), "BYOC_TRUNK_SID"),
        ] {
            let d = decide(
                &p(&[("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", &list)]),
                &Params::new(),
                &OutboundConfig::default(),
                NEXT,
            );
            let e = d.result.unwrap_err();
            assert_eq!(e.kind(), "bad_trunk");
            assert!(e.to_string().contains(why), "{list}: {e}");
            assert!(d.twiml.to_xml().contains("<Say"));
        }
    }

    #[test]
    fn trunk_lists_are_checked() {
        let two = parse_trunks(&format!(" {A} , BY{}", B[2..].to_uppercase())).unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].as_str(), B);
        for (text, why) in [
            (format!("{A},,{B}"), "empty item"),
            (format!("{A},"), "empty item"),
            (format!("{A},{A}"), "listed twice"),
            (format!("{A},BY{}", A[2..].to_uppercase()), "listed twice"),
            (format!("{A};{B}"), "BY"),
            (
                "SD0123456789abcdef0123456789abcdef".to_string(),
                "SIP domain",
            ),
            ("BY123".to_string(), "BY"),
        ] {
            let e = parse_trunks(&text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        let six: Vec<String> = (0..6).map(|i| format!("BY{i:032x}")).collect();
        assert!(parse_trunks(&six.join(","))
            .unwrap_err()
            .contains("at most 5"));
        assert_eq!(parse_trunks(&six[..5].join(",")).unwrap().len(), 5);
    }

    #[test]
    fn trunk_routes_take_the_longest_prefix() {
        let routes = TrunkRoutes::parse(&format!("+44={A},{B};\n +4420 = {B} ; +1={A}")).unwrap();
        assert_eq!(routes.lookup("+442071234567").unwrap().0, "+4420");
        assert_eq!(routes.lookup("+447700900123").unwrap().1.len(), 2);
        assert_eq!(routes.lookup("+13175551234").unwrap().0, "+1");
        assert!(routes.lookup("+33123456789").is_none());
        let policy = |allowed: &[&str]| crate::outbound::Policy {
            allowed_prefixes: allowed.iter().map(|a| a.to_string()).collect(),
            ..crate::outbound::Policy::default()
        };
        assert!(routes.unused_prefixes(&policy(&["+1", "+442"])).is_empty());
        assert_eq!(routes.unused_prefixes(&policy(&["+1"])), ["+4420", "+44"]);
        // Under a built-in denial: premium rate, a NANP country outside the US and Canada.
        let denied = TrunkRoutes::parse(&format!("+1900={A};+1876={A};+1317={A}")).unwrap();
        assert_eq!(denied.unused_prefixes(&policy(&["+1"])), ["+1876", "+1900"]);
        assert!(TrunkRoutes::parse("  ").unwrap().is_empty());
        assert!(
            TrunkRoutes::parse(&format!("+3={A}")).is_ok(),
            "Europe's codes"
        );
        for (text, why) in [
            (format!("+44 {A}"), "PREFIX=TRUNKS"),
            (format!("44={A}"), "E.164 prefix"),
            (format!("+44x={A}"), "E.164 prefix"),
            (format!("+999={A}"), "no country code"),
            (format!("+44={A};+44={B}"), "two entries"),
            (format!("+44={A},{A}"), "+44: "),
            ("+44=".to_string(), "empty item"),
        ] {
            let e = TrunkRoutes::parse(&text).unwrap_err();
            assert_eq!(e.setting, TRUNK_ROUTES_SETTING);
            assert!(e.reason.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn only_technical_failures_move_on() {
        use AttemptResult::*;
        for (status, code, want) in [
            ("failed", Some(503), Technical),
            ("failed", None, Technical),
            ("failed", Some(404), Technical),
            ("failed", Some(408), Technical),
            ("failed", Some(600), Callee),
            ("failed", Some(607), Callee),
            ("failed", Some(604), Technical),
            ("failed", Some(608), Technical),
            ("failed", Some(486), Callee),
            ("failed", Some(603), Callee),
            ("", Some(502), Technical),
            ("", Some(408), Technical),
            ("", Some(486), Callee),
            ("busy", Some(486), Callee),
            ("busy", None, Callee),
            ("no-answer", Some(408), Callee),
            ("completed", None, Answered),
            ("answered", Some(200), Answered),
            ("canceled", Some(487), Canceled),
            ("", None, Unknown),
            ("", Some(404), Unknown),
            ("weird", None, Unknown),
        ] {
            assert_eq!(AttemptResult::of(status, code), want, "{status} {code:?}");
        }
    }
}
