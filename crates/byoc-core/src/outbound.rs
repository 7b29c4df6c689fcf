//! The outbound decision: a Studio flow's TwiML Redirect widget asks for a call to leave over the
//! customer's BYOC trunk; the answer is `<Dial><Number byoc="BY…">+E164</Number></Dial>`.
//!
//! # Parameters
//! Names are upper snake case, as existing Studio flows use (`OUTBOUND_DID`, `BYOC_TRUNK_SID`).
//! Each is read from the **query string first**, then the body (form or JSON): the widget author
//! writes them into the URL, while the body carries Twilio's call parameters.
//!
//! | parameter | meaning |
//! |---|---|
//! | `OUTBOUND_DID` | number(s) to dial; repeat it or separate with commas for up to 10 (simultaneous ring) |
//! | `BYOC_TRUNK_SID` | the BYOC trunk (`BY…`); default from configuration |
//! | `CALLER_ID` | caller ID (E.164); default from configuration, else the call's `From` |
//! | `TIMEOUT` | seconds to ring, 5–600 |
//! | `TIME_LIMIT` | longest call in seconds, 1–86400 |
//! | `ANSWER_ON_BRIDGE` | `true` / `false` |
//! | `RECORD` | `do-not-record`, `record-from-answer`, `record-from-ringing`, `record-from-answer-dual`, `record-from-ringing-dual` |
//! | `RING_TONE` | ring-back tone country, e.g. `us`, `uk`, `de` |
//! | `ACTION_URL` | where Twilio posts when the dial ends (e.g. the flow's `…?FlowEvent=return`) |
//! | `ACTION_METHOD` | `POST` (default) or `GET` |
//!
//! # Policy (toll-fraud protection)
//! Every destination is checked before any `<Dial>`: it must start with an allowed prefix
//! (default: the default country code only), must not start with a denied prefix (built in:
//! NANP premium rate, `+1900` and the 976 exchange `+1XXX976`, and the area codes of the NANP
//! countries other than the US and Canada, see [`crate::nanp`]; an operator's denials add to
//! these), and emergency numbers are refused unless explicitly allowed.
//! An optional allow-list restricts caller IDs. A refused call hears a configurable message and
//! hangs up; the reason goes to the log and a response header. Invalid input never dials.

use std::borrow::Cow;

use crate::number::{restore_lost_plus, Address, NumberPlan};
use crate::params::Params;
use crate::route::check_url;
use crate::sid::{Sid, SidKind};
use crate::twiml::{self, DialOptions, Method, Noun, Verb};

/// The parameter naming the number(s) to dial.
pub const PARAM_DID: &str = "OUTBOUND_DID";
/// The parameter naming the BYOC trunk.
pub const PARAM_TRUNK: &str = "BYOC_TRUNK_SID";
/// Most numbers one `<Dial>` may ring at once (Twilio's limit).
pub const MAX_NUMBERS: usize = 10;
/// Fewest digits a dialable E.164 number has (the shortest national plans have 4-digit
/// subscriber numbers behind a 3-digit country code).
pub const DIAL_MIN_DIGITS: usize = 7;
/// Twilio's recording modes for `<Dial record>`.
pub const RECORD_MODES: [&str; 5] = [
    "do-not-record",
    "record-from-answer",
    "record-from-ringing",
    "record-from-answer-dual",
    "record-from-ringing-dual",
];
/// Emergency numbers recognised by default.
pub const DEFAULT_EMERGENCY_NUMBERS: [&str; 8] =
    ["911", "933", "112", "999", "000", "110", "119", "118"];

/// What the caller hears when a call is refused, unless configured otherwise.
pub const DEFAULT_REFUSAL_MESSAGE: &str =
    "Sorry, this call cannot be connected. Please check the number and try again. Goodbye.";

/// Which destinations and caller IDs may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// E.164 prefixes a destination must start with (`+1`, `+44`, `+1317`).
    pub allowed_prefixes: Vec<String>,
    /// E.164 prefixes a destination must not start with (`X` stands for any digit); these win
    /// over allowed prefixes.
    pub denied_prefixes: Vec<String>,
    /// Whether emergency numbers may be dialled over the trunk (the customer's decision).
    pub allow_emergency: bool,
    pub emergency_numbers: Vec<String>,
    /// If set, the only caller IDs that may be presented.
    pub allowed_caller_ids: Option<Vec<String>>,
}

impl Policy {
    /// The safe default for a country: only that country, no premium rate, no emergency calls.
    pub fn for_plan(plan: &NumberPlan) -> Self {
        Self {
            allowed_prefixes: vec![format!("+{}", plan.country_code())],
            denied_prefixes: crate::nanp::default_denied_prefixes(),
            allow_emergency: false,
            emergency_numbers: DEFAULT_EMERGENCY_NUMBERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            allowed_caller_ids: None,
        }
    }

    /// Checks an E.164 destination.
    pub fn check_destination(&self, number: &str) -> Result<(), OutboundError> {
        if let Some(p) = self
            .denied_prefixes
            .iter()
            .find(|p| crate::nanp::prefix_matches(number, p))
        {
            return Err(OutboundError::Denied {
                number: number.to_string(),
                prefix: match crate::nanp::describe(p) {
                    Some(what) => format!("{p}: {what}"),
                    None => p.clone(),
                },
            });
        }
        if !self
            .allowed_prefixes
            .iter()
            .any(|p| number.starts_with(p.as_str()))
        {
            return Err(OutboundError::NotAllowed {
                number: number.to_string(),
                allowed: self.allowed_prefixes.join(","),
            });
        }
        Ok(())
    }

    /// Checks a caller ID against the allow-list, if any.
    pub fn check_caller_id(&self, caller_id: &str) -> Result<(), OutboundError> {
        match &self.allowed_caller_ids {
            Some(list) if !list.iter().any(|c| c == caller_id) => {
                Err(OutboundError::CallerIdNotAllowed(caller_id.to_string()))
            }
            _ => Ok(()),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::for_plan(&NumberPlan::default())
    }
}

/// Settings the outbound decision depends on.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    pub plan: NumberPlan,
    /// Used when the request names no trunk (env `BYOC_TRUNK_SID`).
    pub default_trunk: Option<Sid>,
    /// Used when the request names no caller ID (env `OUTBOUND_CALLER_ID`).
    pub default_caller_id: Option<String>,
    pub refusal_message: String,
    pub policy: Policy,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            plan: NumberPlan::default(),
            default_trunk: None,
            default_caller_id: None,
            refusal_message: DEFAULT_REFUSAL_MESSAGE.to_string(),
            policy: Policy::default(),
        }
    }
}

/// Why an outbound call was refused. The messages are for operators (logs, a response header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("missing OUTBOUND_DID")]
    MissingDid,
    #[error("OUTBOUND_DID {0}")]
    BadDid(String),
    #[error("more than {MAX_NUMBERS} numbers in OUTBOUND_DID")]
    TooManyNumbers,
    #[error("missing BYOC_TRUNK_SID and no default trunk configured")]
    MissingTrunk,
    #[error("BYOC_TRUNK_SID: {0}")]
    BadTrunk(String),
    #[error("{name}: {reason}")]
    BadOption { name: &'static str, reason: String },
    #[error("{number} is denied by policy (prefix {prefix})")]
    Denied { number: String, prefix: String },
    #[error("{number} is outside the allowed destinations ({allowed})")]
    NotAllowed { number: String, allowed: String },
    #[error("{0} is an emergency number; emergency calls over the trunk are disabled (OUTBOUND_ALLOW_EMERGENCY)")]
    Emergency(String),
    #[error("caller ID {0} is not in OUTBOUND_ALLOWED_CALLER_IDS")]
    CallerIdNotAllowed(String),
}

impl OutboundError {
    /// A short machine-readable kind, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            OutboundError::MissingDid
            | OutboundError::BadDid(_)
            | OutboundError::TooManyNumbers => "bad_number",
            OutboundError::MissingTrunk | OutboundError::BadTrunk(_) => "bad_trunk",
            OutboundError::BadOption { .. } => "bad_option",
            OutboundError::Denied { .. } | OutboundError::NotAllowed { .. } => "policy_destination",
            OutboundError::Emergency(_) => "policy_emergency",
            OutboundError::CallerIdNotAllowed(_) => "policy_caller_id",
        }
    }
}

/// A validated outbound dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    /// Destinations, E.164 (or an allowed emergency short code).
    pub numbers: Vec<String>,
    pub trunk: Sid,
    pub options: DialOptions,
}

impl Dial {
    pub fn to_twiml(&self) -> twiml::Response {
        twiml::Response::new().verb(Verb::Dial {
            options: self.options.clone(),
            nouns: self
                .numbers
                .iter()
                .map(|n| Noun::Number {
                    number: n.clone(),
                    byoc: Some(self.trunk.to_string()),
                })
                .collect(),
        })
    }
}

/// The answer to one outbound request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub twiml: twiml::Response,
    /// The dial, or why the call was refused.
    pub result: Result<Dial, OutboundError>,
}

/// Parameter lookup with the documented precedence: query string, then body.
struct Source<'a> {
    query: &'a Params,
    body: &'a Params,
}

fn trimmed(value: Cow<'_, str>) -> Cow<'_, str> {
    match value {
        Cow::Borrowed(v) => Cow::Borrowed(v.trim()),
        Cow::Owned(v) => Cow::Owned(v.trim().to_string()),
    }
}

impl<'a> Source<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.query
            .get_nonblank(name)
            .or_else(|| self.body.get_nonblank(name))
    }

    /// A number parameter: the first non-blank value, with a `+` lost to URL decoding restored
    /// (see [`restore_lost_plus`]).
    fn number(&self, name: &str) -> Option<Cow<'a, str>> {
        let first = |p: &'a Params| p.get(name).filter(|v| !v.trim().is_empty());
        first(self.query)
            .or_else(|| first(self.body))
            .map(|v| trimmed(restore_lost_plus(v)))
    }

    /// Every value of the number parameter `name` from the first place that has one, split on
    /// commas. When a value begins with a lost `+` (it was written unencoded), so did each item
    /// of its list (`+1…,+44…` arrives as ` 1…, 44…`); in a list written with real `+` signs, a
    /// space after a comma is only a space.
    fn all(&self, name: &str) -> Vec<Cow<'a, str>> {
        let from = |p: &'a Params| -> Vec<Cow<'a, str>> {
            p.iter()
                .filter(|(k, _)| *k == name)
                .flat_map(|(_, v)| {
                    let lost = matches!(restore_lost_plus(v), Cow::Owned(_));
                    v.split(',').map(move |item| {
                        if lost {
                            trimmed(restore_lost_plus(item))
                        } else {
                            Cow::Borrowed(item.trim())
                        }
                    })
                })
                .filter(|v| !v.is_empty())
                .collect()
        };
        let in_query = from(self.query);
        if in_query.is_empty() {
            from(self.body)
        } else {
            in_query
        }
    }
}

/// Validates the request and builds the Dial, or the refusal.
pub fn decide(query: &Params, body: &Params, config: &OutboundConfig) -> Decision {
    match dial(&Source { query, body }, config) {
        Ok(dial) => Decision {
            twiml: dial.to_twiml(),
            result: Ok(dial),
        },
        Err(e) => Decision {
            twiml: twiml::Response::say_and_hang_up(config.refusal_message.clone()),
            result: Err(e),
        },
    }
}

/// Normalizes and checks one destination against the number rules and the policy.
pub fn check_number(raw: &str, config: &OutboundConfig) -> Result<String, OutboundError> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if config.policy.emergency_numbers.contains(&digits) {
        return if config.policy.allow_emergency {
            Ok(digits)
        } else {
            Err(OutboundError::Emergency(digits))
        };
    }
    let number = match config.plan.normalize(raw) {
        Ok(Address::E164(n)) => n,
        Ok(Address::Literal(_)) => {
            return Err(OutboundError::BadDid(format!(
                "`{}` is not a phone number",
                shorten(raw)
            )))
        }
        Err(e) => return Err(OutboundError::BadDid(e.to_string())),
    };
    let digits = number.len() - 1;
    if digits < DIAL_MIN_DIGITS {
        return Err(OutboundError::BadDid(format!(
            "`{number}` is too short to dial"
        )));
    }
    if number.starts_with("+1") && digits != 11 {
        return Err(OutboundError::BadDid(format!(
            "`{number}` is not a NANP number (+1 and 10 digits)"
        )));
    }
    // NANP area codes and exchanges start with 2-9: `+10000000000` or `+11234567890` is a typo
    // or a probe, never a line.
    let nanp_ok = |b: u8| (b'2'..=b'9').contains(&b);
    if number.starts_with("+1") && !(nanp_ok(number.as_bytes()[2]) && nanp_ok(number.as_bytes()[5]))
    {
        return Err(OutboundError::BadDid(format!(
            "`{number}` is not a NANP number (area code and exchange start with 2 to 9)"
        )));
    }
    config.policy.check_destination(&number)?;
    Ok(number)
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

fn bad(name: &'static str, reason: impl Into<String>) -> OutboundError {
    OutboundError::BadOption {
        name,
        reason: reason.into(),
    }
}

fn number_option(
    source: &Source,
    name: &'static str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<Option<u32>, OutboundError> {
    source
        .get(name)
        .map(|v| {
            v.parse::<u32>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    bad(
                        name,
                        format!(
                            "`{}` is not a whole number from {} to {}",
                            shorten(v),
                            range.start(),
                            range.end()
                        ),
                    )
                })
        })
        .transpose()
}

fn dial(source: &Source, config: &OutboundConfig) -> Result<Dial, OutboundError> {
    let raw_numbers = source.all(PARAM_DID);
    if raw_numbers.is_empty() {
        return Err(OutboundError::MissingDid);
    }
    if raw_numbers.len() > MAX_NUMBERS {
        return Err(OutboundError::TooManyNumbers);
    }
    let mut numbers: Vec<String> = Vec::with_capacity(raw_numbers.len());
    for raw in &raw_numbers {
        let number = check_number(raw, config)?;
        if !numbers.contains(&number) {
            numbers.push(number);
        }
    }
    let trunk = match source.get(PARAM_TRUNK) {
        Some(s) => {
            Sid::parse(SidKind::ByocTrunk, s).map_err(|e| OutboundError::BadTrunk(e.to_string()))?
        }
        None => config
            .default_trunk
            .clone()
            .ok_or(OutboundError::MissingTrunk)?,
    };

    // Caller ID: the request's, else the configured one, else the call's own From (when it is a
    // number: a SIP `From` such as `sip:alice@…` cannot be presented over a carrier).
    let caller_id = match source.number("CALLER_ID") {
        Some(c) => Some(match config.plan.normalize(&c) {
            Ok(Address::E164(n)) => n,
            _ => {
                return Err(bad(
                    "CALLER_ID",
                    format!("`{}` is not an E.164 number", shorten(&c)),
                ))
            }
        }),
        None => config.default_caller_id.clone().or_else(|| {
            source
                .body
                .get("From")
                .filter(|f| !f.trim().is_empty())
                .and_then(|f| config.plan.normalize(&restore_lost_plus(f)).ok())
                .filter(Address::is_e164)
                .map(|a| a.to_string())
        }),
    };
    if let Some(c) = &caller_id {
        config.policy.check_caller_id(c)?;
    }

    let answer_on_bridge = source
        .get("ANSWER_ON_BRIDGE")
        .map(|v| match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad(
                "ANSWER_ON_BRIDGE",
                format!("`{}` is not true or false", shorten(v)),
            )),
        })
        .transpose()?;
    let record = source
        .get("RECORD")
        .map(|v| {
            let v = v.to_ascii_lowercase();
            if RECORD_MODES.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(bad(
                    "RECORD",
                    format!(
                        "`{}` is not one of {}",
                        shorten(&v),
                        RECORD_MODES.join(", ")
                    ),
                ))
            }
        })
        .transpose()?;
    let ring_tone = source
        .get("RING_TONE")
        .map(|v| {
            let v = v.to_ascii_lowercase();
            if (2..=6).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            {
                Ok(v)
            } else {
                Err(bad(
                    "RING_TONE",
                    format!("`{}` is not a ring tone country such as us", shorten(&v)),
                ))
            }
        })
        .transpose()?;
    let action = source
        .get("ACTION_URL")
        .map(|u| check_url("ACTION_URL", u).map_err(|e| bad("ACTION_URL", e.to_string())))
        .transpose()?;
    let method = source
        .get("ACTION_METHOD")
        .map(|m| {
            Method::parse(m).ok_or_else(|| {
                bad(
                    "ACTION_METHOD",
                    format!("`{}` is not GET or POST", shorten(m)),
                )
            })
        })
        .transpose()?;

    Ok(Dial {
        numbers,
        trunk,
        options: DialOptions {
            caller_id,
            timeout: number_option(source, "TIMEOUT", 5..=600)?,
            time_limit: number_option(source, "TIME_LIMIT", 1..=86_400)?,
            action,
            method,
            answer_on_bridge,
            record,
            ring_tone,
            hangup_on_star: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUNK: &str = "BY0123456789abcdef0123456789abcdef";
    const OTHER: &str = "BYfedcba9876543210fedcba9876543210";

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().copied().collect()
    }

    fn run(query: &[(&str, &str)], body: &[(&str, &str)], config: &OutboundConfig) -> Decision {
        decide(&p(query), &p(body), config)
    }

    #[test]
    fn a_valid_request_dials_over_the_trunk() {
        let d = run(
            &[("OUTBOUND_DID", "3175551234"), ("BYOC_TRUNK_SID", TRUNK)],
            &[],
            &OutboundConfig::default(),
        );
        assert_eq!(d.result.as_ref().unwrap().numbers, vec!["+13175551234"]);
        assert!(d.twiml.to_xml().ends_with(&format!(
            r#"<Response><Dial><Number byoc="{TRUNK}">+13175551234</Number></Dial></Response>"#
        )));
    }

    #[test]
    fn the_query_string_wins_over_the_body_and_defaults_fill_in() {
        let config = OutboundConfig {
            default_trunk: Some(Sid::parse(SidKind::ByocTrunk, OTHER).unwrap()),
            policy: Policy {
                allowed_prefixes: vec!["+1".into(), "+44".into()],
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        let d = run(
            &[("OUTBOUND_DID", "+13175551234")],
            &[
                ("OUTBOUND_DID", "+13175550000"),
                ("BYOC_TRUNK_SID", TRUNK),
                ("From", "+13175550123"),
            ],
            &config,
        );
        let dial = d.result.unwrap();
        assert_eq!(dial.numbers, vec!["+13175551234"]);
        assert_eq!(dial.trunk.as_str(), TRUNK);
        // The call's From is the caller ID when nothing else is configured.
        assert_eq!(dial.options.caller_id.as_deref(), Some("+13175550123"));
        let d = run(
            &[],
            &[("OUTBOUND_DID", "+442071234567"), ("From", "sip:alice@pbx")],
            &config,
        );
        let dial = d.result.unwrap();
        assert_eq!(dial.trunk.as_str(), OTHER);
        assert_eq!(
            dial.options.caller_id, None,
            "a SIP From is not a caller ID"
        );
        let configured = OutboundConfig {
            default_caller_id: Some("+13175559999".into()),
            ..config
        };
        let d = run(
            &[("OUTBOUND_DID", "+13175551234")],
            &[("From", "+13175550123")],
            &configured,
        );
        assert_eq!(
            d.result.unwrap().options.caller_id.as_deref(),
            Some("+13175559999")
        );
    }

    #[test]
    fn every_option_reaches_the_dial() {
        let d = run(
            &[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", TRUNK),
                ("CALLER_ID", "(317) 555-0000"),
                ("TIMEOUT", "25"),
                ("TIME_LIMIT", "3600"),
                ("ANSWER_ON_BRIDGE", "TRUE"),
                ("RECORD", "record-from-answer-dual"),
                ("RING_TONE", "UK"),
                (
                    "ACTION_URL",
                    "https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return",
                ),
                ("ACTION_METHOD", "get"),
            ],
            &[],
            &OutboundConfig::default(),
        );
        let xml = d.twiml.to_xml();
        assert!(xml.contains(r#"<Dial callerId="+13175550000" timeout="25" timeLimit="3600" action="https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return" method="GET" answerOnBridge="true" record="record-from-answer-dual" ringTone="uk">"#), "{xml}");
    }

    #[test]
    fn a_plus_lost_to_url_decoding_is_restored_for_every_number_parameter() {
        let world = OutboundConfig {
            policy: Policy {
                allowed_prefixes: vec!["+".into()],
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        // `?OUTBOUND_DID=+6562345678` written unencoded arrives as ` 6562345678`: Singapore,
        // not +1 656 (Tampa).
        let query = Params::from_form(b"OUTBOUND_DID=+6562345678&CALLER_ID=+442071234567");
        let d = decide(&query, &p(&[("BYOC_TRUNK_SID", TRUNK)]), &world);
        let dial = d.result.unwrap();
        assert_eq!(dial.numbers, vec!["+6562345678"]);
        assert_eq!(dial.options.caller_id.as_deref(), Some("+442071234567"));
        // A list written with `+` signs, unencoded: each item lost its `+`.
        let query = Params::from_form(b"OUTBOUND_DID=+13175551234,+442071234567");
        let d = decide(&query, &p(&[("BYOC_TRUNK_SID", TRUNK)]), &world);
        assert_eq!(
            d.result.unwrap().numbers,
            vec!["+13175551234", "+442071234567"]
        );
        // With the default policy the UK number is refused, not dialled as a NANP number.
        let query = Params::from_form(b"OUTBOUND_DID=+442071234567");
        let d = decide(
            &query,
            &p(&[("BYOC_TRUNK_SID", TRUNK)]),
            &OutboundConfig::default(),
        );
        assert!(matches!(d.result, Err(OutboundError::NotAllowed { .. })));
        // An encoded list with a space after the comma keeps national numbers national.
        let query = Params::from_form(b"OUTBOUND_DID=%2B13175551234%2C%203175550000");
        let d = decide(&query, &p(&[("BYOC_TRUNK_SID", TRUNK)]), &world);
        assert_eq!(
            d.result.unwrap().numbers,
            vec!["+13175551234", "+13175550000"]
        );
        // The call's own From, too (a GET webhook carries it in the query string).
        let body = Params::from_form(
            b"From=+442071234567&BYOC_TRUNK_SID=BY0123456789abcdef0123456789abcdef",
        );
        let d = decide(&p(&[("OUTBOUND_DID", "+13175551234")]), &body, &world);
        assert_eq!(
            d.result.unwrap().options.caller_id.as_deref(),
            Some("+442071234567")
        );
    }

    #[test]
    fn several_numbers_ring_at_once_up_to_ten() {
        let d = run(
            &[
                ("OUTBOUND_DID", "+13175551234, 3175550000"),
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", TRUNK),
            ],
            &[],
            &OutboundConfig::default(),
        );
        assert_eq!(
            d.result.unwrap().numbers,
            vec!["+13175551234", "+13175550000"]
        );
        let many = (0..11)
            .map(|i| format!("+1317555{i:04}"))
            .collect::<Vec<_>>()
            .join(",");
        let d = run(
            &[("OUTBOUND_DID", &many), ("BYOC_TRUNK_SID", TRUNK)],
            &[],
            &OutboundConfig::default(),
        );
        assert_eq!(d.result.unwrap_err(), OutboundError::TooManyNumbers);
    }

    #[test]
    fn policy_outcomes() {
        let cfg = OutboundConfig::default();
        let refused = |did: &str, cfg: &OutboundConfig| {
            run(
                &[("OUTBOUND_DID", did), ("BYOC_TRUNK_SID", TRUNK)],
                &[],
                cfg,
            )
            .result
            .unwrap_err()
        };
        assert!(
            matches!(refused("+19005551234", &cfg), OutboundError::Denied { ref prefix, .. } if prefix.starts_with("+1900"))
        );
        // The 976 exchange in any area code; the NANP countries outside the US and Canada.
        assert!(matches!(
            refused("2129765551", &cfg),
            OutboundError::Denied { ref prefix, .. } if prefix.starts_with("+1XXX976")
        ));
        for (did, country) in [
            ("+18765551234", "Jamaica"),
            ("+12845551234", "British Virgin Islands"),
            ("+16495551234", "Turks and Caicos"),
            ("8095551234", "Dominican Republic"),
        ] {
            let e = refused(did, &cfg);
            assert!(e.to_string().contains(country), "{did}: {e}");
            assert_eq!(e.kind(), "policy_destination");
        }
        // The US (territories included) and Canada are allowed.
        for did in [
            "+17875551234",
            "+16715551234",
            "+14165551234",
            "+18005551234",
        ] {
            assert!(
                run(
                    &[("OUTBOUND_DID", did), ("BYOC_TRUNK_SID", TRUNK)],
                    &[],
                    &cfg
                )
                .result
                .is_ok(),
                "{did}"
            );
        }
        assert!(matches!(
            refused("+442071234567", &cfg),
            OutboundError::NotAllowed { .. }
        ));
        assert_eq!(refused("911", &cfg), OutboundError::Emergency("911".into()));
        assert_eq!(
            refused("1-1-2", &cfg),
            OutboundError::Emergency("112".into())
        );
        let emergency = OutboundConfig {
            policy: Policy {
                allow_emergency: true,
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        let d = run(
            &[("OUTBOUND_DID", "911"), ("BYOC_TRUNK_SID", TRUNK)],
            &[],
            &emergency,
        );
        assert_eq!(d.result.unwrap().numbers, vec!["911"]);
        // A denied prefix wins over an allowed one.
        let wide = OutboundConfig {
            policy: Policy {
                allowed_prefixes: vec!["+".into()],
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        assert!(matches!(
            refused("+19005551234", &wide),
            OutboundError::Denied { .. }
        ));
        assert!(matches!(
            refused("+18765551234", &wide),
            OutboundError::Denied { .. }
        ));
        assert!(run(
            &[("OUTBOUND_DID", "+442071234567"), ("BYOC_TRUNK_SID", TRUNK)],
            &[],
            &wide
        )
        .result
        .is_ok());
        let callers = OutboundConfig {
            policy: Policy {
                allowed_caller_ids: Some(vec!["+13175550000".into()]),
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        let ok = run(
            &[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", TRUNK),
                ("CALLER_ID", "+13175550000"),
            ],
            &[],
            &callers,
        );
        assert!(ok.result.is_ok());
        let no = run(
            &[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", TRUNK),
                ("CALLER_ID", "+13175550001"),
            ],
            &[],
            &callers,
        );
        assert_eq!(
            no.result.unwrap_err(),
            OutboundError::CallerIdNotAllowed("+13175550001".into())
        );
    }

    #[test]
    fn invalid_input_never_dials() {
        let cfg = OutboundConfig::default();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("BYOC_TRUNK_SID", TRUNK)], "missing OUTBOUND_DID"),
            (
                &[("OUTBOUND_DID", "undefined"), ("BYOC_TRUNK_SID", TRUNK)],
                "OUTBOUND_DID `undefined` is not a phone number",
            ),
            (
                &[("OUTBOUND_DID", "+1317555"), ("BYOC_TRUNK_SID", TRUNK)],
                "is not a NANP number",
            ),
            (
                &[("OUTBOUND_DID", "+44123"), ("BYOC_TRUNK_SID", TRUNK)],
                "too short to dial",
            ),
            (
                &[("OUTBOUND_DID", "+13175551234")],
                "missing BYOC_TRUNK_SID",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", "undefined"),
                ],
                "is not a BYOC trunk SID",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+1<3175551234>"),
                    ("BYOC_TRUNK_SID", TRUNK),
                ],
                "starts with `+` but is not a number",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("TIMEOUT", "2"),
                ],
                "TIMEOUT: `2` is not a whole number from 5 to 600",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("TIME_LIMIT", "x"),
                ],
                "TIME_LIMIT",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("RECORD", "always"),
                ],
                "RECORD: `always` is not one of",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("ANSWER_ON_BRIDGE", "yes"),
                ],
                "ANSWER_ON_BRIDGE",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("RING_TONE", "<us>"),
                ],
                "RING_TONE",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("ACTION_URL", "javascript:x"),
                ],
                "ACTION_URL",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("ACTION_METHOD", "PUT"),
                ],
                "ACTION_METHOD",
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("CALLER_ID", "alice"),
                ],
                "CALLER_ID",
            ),
        ];
        for (params, expected) in cases {
            let d = run(params, &[], &cfg);
            let err = d.result.as_ref().unwrap_err().to_string();
            assert!(err.contains(expected), "{params:?}: {err}");
            let xml = d.twiml.to_xml();
            assert!(!xml.contains("<Dial"), "{xml}");
            assert!(xml.ends_with("</Say><Hangup/></Response>"), "{xml}");
        }
    }
}
