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
//! | `OUTBOUND_DID` | number(s) to dial; repeat it or separate with commas for up to 10 (simultaneous ring); an extension (`x12`, `ext. 12`, `;ext=12`) is dialled after answer |
//! | `BYOC_TRUNK_SID` | the BYOC trunk (`BY…`), or up to 5 tried in order (`BY…,BY…`, see [`failover`]); default: `OUTBOUND_TRUNK_ROUTES` for the destination, else configuration |
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
//! Every destination is checked before any `<Dial>`:
//! - it must start with an allowed prefix (default: the home country code only);
//! - it must not start with a denied prefix (built in: NANP premium rate, `+1900` and the 976
//!   exchange `+1XXX976`, the area codes of the NANP countries other than the US and Canada,
//!   and the NANP personal numbers, see [`crate::nanp`]; an operator's denials add to these);
//! - outside the NANP, libphonenumber's metadata ([`crate::phone`]) must know its country and
//!   length, must not type it as one of the denied number types (default: premium rate,
//!   personal, pager), and it must not belong to another territory sharing the home country
//!   code (Jersey, Guernsey and the Isle of Man under `+44`) unless that territory is allowed;
//! - emergency numbers (the home country's and the common ones) are refused unless allowed.
//!
//! NANP numbers under a `+1` home are decided by the built-in tables alone, which tests hold
//! equal to the metadata, so the common case never loads it.
//! An optional allow-list restricts caller IDs. A refused call hears a configurable message and
//! hangs up; the reason goes to the log and a response header. Invalid input never dials.

use std::borrow::Cow;

use crate::number::{fold_unicode, is_anonymous, restore_lost_plus, Address, NumberPlan};
use crate::params::Params;
use crate::phone::{self, NumberKind, RegionCode};
use crate::route::check_url;
use crate::sid::Sid;
use crate::twiml::{self, DialOptions, Method, Noun, Verb};

pub mod failover;
pub mod settings;

pub use failover::{AttemptResult, TrunkRoutes, MAX_TRUNKS};
pub use settings::{PolicySettings, SettingError};

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
/// Emergency numbers recognised by default in every home country; the home country's own
/// (from libphonenumber's short number metadata, [`phone::emergency_numbers`]) are added.
pub const DEFAULT_EMERGENCY_NUMBERS: [&str; 8] =
    ["911", "933", "112", "999", "000", "110", "119", "118"];
/// Number types refused by default, everywhere: premium rate (the caller pays a revenue
/// share: the point of international revenue share fraud), personal numbers (follow-me numbers
/// billed above geographic rates; the UK's 070 range is a known fraud range), pager numbers
/// (the UK's 076 range, likewise).
pub const DEFAULT_DENIED_KINDS: [NumberKind; 3] = [
    NumberKind::PremiumRate,
    NumberKind::PersonalNumber,
    NumberKind::Pager,
];
/// The types the built-in NANP tables decide for US and Canadian numbers: premium rate and
/// personal numbers are built-in prefixes; the others have no range there in the metadata.
/// Any other denied type makes a `+1` destination ask the metadata.
const NANP_TABLE_KINDS: [NumberKind; 6] = [
    NumberKind::PremiumRate,
    NumberKind::PersonalNumber,
    NumberKind::SharedCost,
    NumberKind::Pager,
    NumberKind::Uan,
    NumberKind::Voicemail,
];
/// What `sendDigits` plays before an extension: `w` waits half a second, so two seconds after
/// answer, for the far end's attendant to listen.
pub const EXTENSION_PAUSE: &str = "wwww";
/// Longest extension accepted.
pub const EXTENSION_MAX_DIGITS: usize = 10;

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
    /// Number types refused wherever the destination is (see [`DEFAULT_DENIED_KINDS`]).
    pub denied_kinds: Vec<NumberKind>,
    /// The home country code (`44`): its other territories are refused.
    pub home_country_code: String,
    /// The territories of the home country code that are home (`GB`; the US, its territories
    /// and Canada for `+1`).
    pub home_regions: Vec<RegionCode>,
    /// Other territories of the home country code that may be dialled all the same
    /// (`OUTBOUND_ALLOWED_REGIONS`).
    pub allowed_regions: Vec<RegionCode>,
    /// Whether emergency numbers may be dialled over the trunk (the customer's decision).
    pub allow_emergency: bool,
    pub emergency_numbers: Vec<String>,
    /// If set, the only caller IDs that may be presented.
    pub allowed_caller_ids: Option<Vec<String>>,
}

impl Policy {
    /// The safe default for a country: only that country, none of its other territories, no
    /// premium rate, personal or pager numbers, no emergency calls.
    pub fn for_plan(plan: &NumberPlan) -> Self {
        let mut emergency_numbers: Vec<String> = DEFAULT_EMERGENCY_NUMBERS
            .iter()
            .map(|s| s.to_string())
            .collect();
        for n in phone::emergency_numbers(plan.home()) {
            if !emergency_numbers.iter().any(|e| e == n) {
                emergency_numbers.push(n.to_string());
            }
        }
        let home_regions = if plan.is_nanp() {
            crate::nanp::HOME_REGIONS
                .iter()
                .filter_map(|r| RegionCode::parse(r))
                .collect()
        } else {
            vec![plan.home()]
        };
        Self {
            allowed_prefixes: vec![format!("+{}", plan.country_code())],
            denied_prefixes: crate::nanp::default_denied_prefixes(),
            denied_kinds: DEFAULT_DENIED_KINDS.to_vec(),
            home_country_code: plan.country_code().to_string(),
            home_regions,
            allowed_regions: Vec::new(),
            allow_emergency: false,
            emergency_numbers,
            allowed_caller_ids: None,
        }
    }

    /// One line for the start-up log: what this policy refuses and allows.
    pub fn summary(&self) -> String {
        let names =
            |kinds: &[NumberKind]| kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",");
        let regions = |r: &[RegionCode]| {
            r.iter()
                .map(RegionCode::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "allowed prefixes {}; denied types {}; home territories {} (others sharing +{} refused{}); {} denied prefixes; emergency numbers {} ({})",
            self.allowed_prefixes.join(","),
            names(&self.denied_kinds),
            regions(&self.home_regions),
            self.home_country_code,
            if self.allowed_regions.is_empty() {
                String::new()
            } else {
                format!(" except {}", regions(&self.allowed_regions))
            },
            self.denied_prefixes.len(),
            if self.allow_emergency { "allowed" } else { "refused" },
            self.emergency_numbers.join(","),
        )
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
        if number.starts_with("+1") {
            // The built-in NANP tables decided above; the metadata is asked only for what they
            // do not cover: a denied type they do not know, or a NANP country whose denial an
            // operator lifted (its own premium ranges still count).
            // The tables' own types, by prefix: when their built-in prefix was replaced or
            // lifted, a type still denied refuses the number all the same.
            for (kind, listed) in [
                (
                    NumberKind::PremiumRate,
                    crate::nanp::PREMIUM_PREFIXES
                        .iter()
                        .any(|(p, _)| crate::nanp::prefix_matches(number, p)),
                ),
                (NumberKind::PersonalNumber, crate::nanp::is_personal(number)),
            ] {
                if listed && self.denied_kinds.contains(&kind) {
                    return Err(OutboundError::DeniedType {
                        number: number.to_string(),
                        kind,
                        region: None,
                    });
                }
            }
            let lifted_country = crate::nanp::OTHER_COUNTRIES
                .iter()
                .any(|(code, _, _)| number.get(2..5) == Some(code));
            let tables_cover = self
                .denied_kinds
                .iter()
                .all(|k| NANP_TABLE_KINDS.contains(k));
            if tables_cover && !lifted_country {
                return Ok(());
            }
            let c = phone::classify(number);
            return match c {
                Some(c) if self.denied_kinds.contains(&c.kind) => Err(OutboundError::DeniedType {
                    number: number.to_string(),
                    kind: c.kind,
                    region: c.region,
                }),
                _ => Ok(()),
            };
        }
        let Some(c) = phone::classify(number) else {
            return Err(OutboundError::BadDid(format!(
                "`{number}` has no country code that libphonenumber knows"
            )));
        };
        if !c.possible_length {
            return Err(OutboundError::BadDid(format!(
                "`{number}` does not have the length of a full number of its country"
            )));
        }
        if self.denied_kinds.contains(&c.kind) {
            return Err(OutboundError::DeniedType {
                number: number.to_string(),
                kind: c.kind,
                region: c.region,
            });
        }
        let home_cc = number
            .strip_prefix('+')
            .is_some_and(|d| d.starts_with(self.home_country_code.as_str()));
        if let Some(region) = c.region.filter(|_| home_cc) {
            if !self.home_regions.contains(&region) && !self.allowed_regions.contains(&region) {
                return Err(OutboundError::OtherTerritory {
                    number: number.to_string(),
                    region,
                    country_code: self.home_country_code.clone(),
                });
            }
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
    /// Tried in order when the request names no trunk and [`OutboundConfig::trunk_routes`] has
    /// no entry for the destination (env `BYOC_TRUNK_SID`, a list of up to [`MAX_TRUNKS`]).
    pub default_trunks: Vec<Sid>,
    /// Trunk lists by destination prefix (env `OUTBOUND_TRUNK_ROUTES`).
    pub trunk_routes: TrunkRoutes,
    /// A last attempt over Twilio's own network once every trunk failed
    /// (env `OUTBOUND_FALLBACK_PSTN`).
    pub pstn_fallback: bool,
    /// Used when the request names no caller ID (env `OUTBOUND_CALLER_ID`).
    pub default_caller_id: Option<String>,
    pub refusal_message: String,
    pub policy: Policy,
}

impl OutboundConfig {
    /// Whether this deployment is set up for failover: a default list of several trunks, trunk
    /// lists by prefix, or the PSTN fallback. Its calls all report to `/outbound/next`, even
    /// those with a single attempt, so the flow always gets `ByocOutcome`; a deployment with
    /// none of these keeps the single `<Dial>` whose `action` is the flow's own URL.
    pub fn fails_over(&self) -> bool {
        self.pstn_fallback || self.default_trunks.len() > 1 || !self.trunk_routes.is_empty()
    }

    /// One line for the start-up log: the trunks tried, by destination, and the PSTN fallback.
    pub fn trunks_summary(&self) -> String {
        let list = |t: &[Sid]| t.iter().map(Sid::as_str).collect::<Vec<_>>().join(",");
        let mut parts = Vec::new();
        if !self.trunk_routes.is_empty() {
            parts.push(format!("by prefix {}", self.trunk_routes.summary()));
        }
        parts.push(if self.default_trunks.is_empty() {
            "default none (requests name their trunk)".to_string()
        } else {
            format!("default {}", list(&self.default_trunks))
        });
        parts.push(format!(
            "PSTN fallback {}",
            if self.pstn_fallback { "on" } else { "off" }
        ));
        parts.join("; ")
    }
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            plan: NumberPlan::default(),
            default_trunks: Vec::new(),
            trunk_routes: TrunkRoutes::default(),
            pstn_fallback: false,
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
    #[error("no trunk for {number}: BYOC_TRUNK_SID is not given, OUTBOUND_TRUNK_ROUTES has no prefix for it and no default trunk is configured")]
    NoTrunkFor { number: String },
    #[error("{first} and {second} use different trunk lists ({why}): dial them in separate calls, or name BYOC_TRUNK_SID")]
    MixedTrunks {
        first: String,
        second: String,
        why: String,
    },
    #[error("BYOC_TRUNK_SID: {0}")]
    BadTrunk(String),
    #[error("{name}: {reason}")]
    BadOption { name: &'static str, reason: String },
    /// A failover step whose state cannot be read (only Twilio's signed requests reach it).
    #[error("the failover step's state: {0}")]
    BadStep(String),
    #[error("{number} is denied by policy (prefix {prefix})")]
    Denied { number: String, prefix: String },
    #[error("{number} is outside the allowed destinations ({allowed})")]
    NotAllowed { number: String, allowed: String },
    #[error("{number} is {}{} (refused number type {kind}: built in, or OUTBOUND_DENIED_NUMBER_TYPES)", kind.describe(), region.map(|r| format!(" of {r}")).unwrap_or_default())]
    DeniedType {
        number: String,
        kind: NumberKind,
        region: Option<RegionCode>,
    },
    #[error("{number} is a number of {region}, another territory sharing +{country_code}: billed as international (allow it with OUTBOUND_ALLOWED_REGIONS={region})")]
    OtherTerritory {
        number: String,
        region: RegionCode,
        country_code: String,
    },
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
            OutboundError::MissingTrunk
            | OutboundError::BadTrunk(_)
            | OutboundError::NoTrunkFor { .. }
            | OutboundError::MixedTrunks { .. } => "bad_trunk",
            OutboundError::BadOption { .. } => "bad_option",
            OutboundError::BadStep(_) => "bad_step",
            OutboundError::Denied { .. }
            | OutboundError::NotAllowed { .. }
            | OutboundError::DeniedType { .. }
            | OutboundError::OtherTerritory { .. } => "policy_destination",
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
    /// Each destination's extension (digits), in the order of `numbers`.
    pub extensions: Vec<Option<String>>,
    /// The trunks tried in order (1 to [`MAX_TRUNKS`]).
    pub trunks: Vec<Sid>,
    /// A last attempt over Twilio's own network after the trunks.
    pub pstn_fallback: bool,
    /// Whether the attempts report to `/outbound/next`: with more than one attempt, and for
    /// every call of a deployment set up for failover ([`OutboundConfig::fails_over`]), so
    /// that all its calls go back to the flow in the same shape.
    pub stepped: bool,
    /// The `<Dial>` options; `action` / `method` are the flow's `ACTION_URL` / `ACTION_METHOD`.
    pub options: DialOptions,
}

impl Dial {
    /// How many attempts the call may make: the trunks, and Twilio's network last if enabled.
    pub fn attempts(&self) -> usize {
        self.trunks.len() + usize::from(self.pstn_fallback)
    }

    /// The answer to the first request: attempt 1. `next_url` is `/outbound/next` beside the
    /// request's URL, used only when there is more than one attempt.
    pub fn to_twiml(&self, next_url: &str) -> twiml::Response {
        self.attempt_twiml(0, next_url)
    }

    /// The `<Dial>` of attempt `i` (0-based). With a single attempt, the flow's own action;
    /// otherwise the next step, carrying the state.
    pub fn attempt_twiml(&self, i: usize, next_url: &str) -> twiml::Response {
        let byoc = self.trunks.get(i);
        let mut options = self.options.clone();
        if self.stepped {
            options.action = Some(self.step_url(next_url, i + 1));
            options.method = Some(Method::Post);
        }
        twiml::Response::new().verb(Verb::Dial {
            options,
            nouns: self
                .numbers
                .iter()
                .zip(self.extensions.iter().chain(std::iter::repeat(&None)))
                .map(|(n, ext)| Noun::Number {
                    number: n.clone(),
                    byoc: byoc.map(Sid::to_string),
                    send_digits: ext.as_ref().map(|e| format!("{EXTENSION_PAUSE}{e}")),
                })
                .collect(),
        })
    }

    /// `next_url` with the state of this dial, reporting on `attempt` (1-based): the request
    /// written out in its validated form, read back by [`failover::next`] like a first request.
    pub fn step_url(&self, next_url: &str, attempt: usize) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let numbers: Vec<String> = self
            .numbers
            .iter()
            .zip(self.extensions.iter().chain(std::iter::repeat(&None)))
            .map(|(n, ext)| match ext {
                Some(e) => format!("{n};ext={e}"),
                None => n.clone(),
            })
            .collect();
        q.append_pair(PARAM_DID, &numbers.join(","));
        let trunks: Vec<&str> = self.trunks.iter().map(Sid::as_str).collect();
        q.append_pair(PARAM_TRUNK, &trunks.join(","));
        let o = &self.options;
        if let Some(c) = &o.caller_id {
            q.append_pair("CALLER_ID", c);
        }
        if let Some(t) = o.timeout {
            q.append_pair("TIMEOUT", &t.to_string());
        }
        if let Some(t) = o.time_limit {
            q.append_pair("TIME_LIMIT", &t.to_string());
        }
        if let Some(a) = o.answer_on_bridge {
            q.append_pair("ANSWER_ON_BRIDGE", if a { "true" } else { "false" });
        }
        if let Some(r) = &o.record {
            q.append_pair("RECORD", r);
        }
        if let Some(r) = &o.ring_tone {
            q.append_pair("RING_TONE", r);
        }
        if let Some(a) = &o.action {
            q.append_pair("ACTION_URL", a);
        }
        if let Some(m) = o.method {
            q.append_pair("ACTION_METHOD", m.as_str());
        }
        q.append_pair(failover::PARAM_ATTEMPT, &attempt.to_string());
        format!("{next_url}?{}", q.finish())
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

    /// Every non-blank value of `name` from the first place that has one, joined with commas
    /// (borrowed when there is one).
    fn joined(&self, name: &str) -> Option<Cow<'a, str>> {
        let from = |p: &'a Params| -> Option<Cow<'a, str>> {
            let mut values = p
                .iter()
                .filter(|(k, v)| *k == name && !v.trim().is_empty())
                .map(|(_, v)| v);
            let first = values.next()?;
            Some(match values.next() {
                None => Cow::Borrowed(first),
                Some(second) => {
                    let mut all = format!("{first},{second}");
                    for v in values {
                        all.push(',');
                        all.push_str(v);
                    }
                    Cow::Owned(all)
                }
            })
        };
        from(self.query).or_else(|| from(self.body))
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

/// Validates the request and builds the Dial, or the refusal. `next_url` is where a call with
/// several attempts reports each one ([`failover`]).
///
/// A refused call with a valid `ACTION_URL` goes back there, as a finished `<Dial>` would: a
/// `<Redirect>` (with `ACTION_METHOD`) to the URL with `DialCallStatus=failed`,
/// `ByocOutcome=refused` and `ByocRefusal=<kind>` added to its query string, so the flow's
/// return branch runs (voicemail, an agent) and can branch on the reason. Without one, the
/// caller hears the refusal message and the call ends.
pub fn decide(query: &Params, body: &Params, config: &OutboundConfig, next_url: &str) -> Decision {
    decide_with(query, body, config, || next_url.to_string())
}

/// [`decide`], building the step's URL only for a call that uses it (the common single
/// `<Dial>` allocates nothing for it).
pub fn decide_with(
    query: &Params,
    body: &Params,
    config: &OutboundConfig,
    next_url: impl FnOnce() -> String,
) -> Decision {
    match validate(query, body, config) {
        Ok(dial) if dial.stepped => {
            let twiml = dial.to_twiml(&next_url());
            // The state rides in the action URL: one that would not fit is refused before any
            // dial rather than cut.
            let too_long = twiml.verbs().iter().any(|v| {
                matches!(v, Verb::Dial { options, .. }
                    if options.action.as_ref().is_some_and(|a| a.len() > failover::STEP_URL_MAX))
            });
            if too_long {
                let e = bad(
                    "ACTION_URL",
                    format!(
                        "with several attempts, the request (ACTION_URL above all) must fit a step URL of {} characters",
                        failover::STEP_URL_MAX
                    ),
                );
                return refusal(query, body, config, e);
            }
            Decision {
                twiml,
                result: Ok(dial),
            }
        }
        Ok(dial) => Decision {
            twiml: dial.to_twiml(""),
            result: Ok(dial),
        },
        Err(e) => refusal(query, body, config, e),
    }
}

/// Checks a request (or a step's state) and builds its dial, without the TwiML.
pub fn validate(
    query: &Params,
    body: &Params,
    config: &OutboundConfig,
) -> Result<Dial, OutboundError> {
    dial(&Source { query, body }, config)
}

/// The answer to a refused request.
pub(crate) fn refusal(
    query: &Params,
    body: &Params,
    config: &OutboundConfig,
    error: OutboundError,
) -> Decision {
    let source = Source { query, body };
    Decision {
        twiml: match return_to_flow(&source, &error) {
            Some(redirect) => redirect,
            None => twiml::Response::say_and_hang_up(config.refusal_message.clone()),
        },
        result: Err(error),
    }
}

/// The `<Redirect>` back to `ACTION_URL` after a refusal, when the request gave a usable one.
fn return_to_flow(source: &Source, error: &OutboundError) -> Option<twiml::Response> {
    let url = source.get("ACTION_URL")?;
    let url = check_url("ACTION_URL", url).ok()?;
    let method = match source.get("ACTION_METHOD") {
        Some(m) => Method::parse(m)?,
        None => Method::Post,
    };
    let target = failover::with_query(
        &url,
        &[
            ("DialCallStatus", "failed".to_string()),
            ("ByocOutcome", "refused".to_string()),
            ("ByocRefusal", error.kind().to_string()),
        ],
    )?;
    Some(twiml::Response::new().verb(Verb::Redirect {
        url: target,
        method,
    }))
}

/// Normalizes and checks one destination against the number rules and the policy. An
/// extension is refused here: only a `<Dial>` can play it ([`check_destination`]).
pub fn check_number(raw: &str, config: &OutboundConfig) -> Result<String, OutboundError> {
    let (number, extension) = check_destination(raw, config)?;
    match extension {
        None => Ok(number),
        Some(ext) => Err(OutboundError::BadDid(format!(
            "`{}` has an extension ({ext}): place the call through the outbound webhook, which dials it after answer",
            shorten(raw)
        ))),
    }
}

/// Normalizes and checks one destination, with its extension if it has one (`x12`,
/// `ext. 12`, `;ext=12`).
pub fn check_destination(
    raw: &str,
    config: &OutboundConfig,
) -> Result<(String, Option<String>), OutboundError> {
    let folded = fold_unicode(raw);
    let (raw, extension) = split_extension(folded.trim())?;
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if config.policy.emergency_numbers.contains(&digits) {
        return if config.policy.allow_emergency {
            Ok((digits, None))
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
    Ok((number, extension))
}

/// Splits `+44 20 7123 4567 x12` into the number and the extension's digits. Markers: `x`,
/// `ext`, `ext.`, `extension` (any case, spaces allowed) and RFC 3966's `;ext=`. Text that has
/// a marker but no digits behind it is refused with the reason.
fn split_extension(raw: &str) -> Result<(&str, Option<String>), OutboundError> {
    let lower = raw.to_ascii_lowercase();
    let is_uri = ["sip:", "sips:", "tel:"]
        .iter()
        .any(|s| lower.starts_with(s));
    let marker = if let Some(i) = lower.find(";ext=") {
        Some((i, i + 5))
    } else if is_uri {
        None
    } else {
        // The first letter after the digits starts the marker.
        let first_digit = lower.find(|c: char| c.is_ascii_digit());
        first_digit
            .and_then(|d| {
                lower[d..]
                    .find(|c: char| c.is_ascii_alphabetic())
                    .map(|i| d + i)
            })
            .and_then(|i| {
                let rest = &lower[i..];
                ["extension", "ext.", "ext", "x"]
                    .iter()
                    .find(|m| rest.starts_with(*m))
                    .map(|m| (i, i + m.len()))
            })
    };
    let Some((start, end)) = marker else {
        return Ok((raw, None));
    };
    let ext = raw[end..]
        .split(';')
        .next()
        .unwrap_or("")
        .trim_start_matches([' ', ':', '.', '='])
        .trim();
    if ext.is_empty()
        || ext.len() > EXTENSION_MAX_DIGITS
        || !ext.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(OutboundError::BadDid(format!(
            "`{}`: the extension must be 1 to {EXTENSION_MAX_DIGITS} digits",
            shorten(raw)
        )));
    }
    Ok((raw[..start].trim_end(), Some(ext.to_string())))
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
    let mut extensions: Vec<Option<String>> = Vec::with_capacity(raw_numbers.len());
    for raw in &raw_numbers {
        let (number, extension) = check_destination(raw, config)?;
        let seen = numbers
            .iter()
            .zip(&extensions)
            .any(|(n, e)| *n == number && *e == extension);
        if !seen {
            numbers.push(number);
            extensions.push(extension);
        }
    }
    // Repeated (`BYOC_TRUNK_SID=BY…&BYOC_TRUNK_SID=BY…`), the values make one list in order.
    let named = source.joined(PARAM_TRUNK);
    let trunks = trunks_for(named.as_deref(), &numbers, config)?;

    // Caller ID: the request's, else the configured one, else the call's own From (when it is a
    // number: a SIP `From` such as `sip:alice@…` cannot be presented over a carrier). An
    // anonymous caller's placeholder (`+266696687`) is never presented: with nothing
    // configured the attribute is left out.
    let caller_id = match source.number("CALLER_ID").filter(|c| !is_anonymous(c)) {
        Some(c) => Some(match config.plan.normalize(&c) {
            Ok(Address::E164(n)) => n,
            _ => {
                return Err(bad(
                    "CALLER_ID",
                    format!("`{}` is not an E.164 number", shorten(&c)),
                ))
            }
        }),
        // A widget left at GET sends the call's parameters in the query string.
        None => config.default_caller_id.clone().or_else(|| {
            source
                .body
                .get("From")
                .or_else(|| source.query.get("From"))
                .filter(|f| !is_anonymous(f))
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
        .map(|u| {
            check_url("ACTION_URL", u).map_err(|e| {
                let text = e.to_string();
                let reason = text.strip_prefix("`ACTION_URL`: ").unwrap_or(&text);
                bad("ACTION_URL", reason.to_string())
            })
        })
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
        extensions,
        stepped: trunks.len() > 1 || config.fails_over(),
        trunks,
        pstn_fallback: config.pstn_fallback,
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

/// The trunks a call to `numbers` (E.164) tries: the list `named` (a request's
/// `BYOC_TRUNK_SID`); else the `OUTBOUND_TRUNK_ROUTES` entry of its destinations (they must
/// agree); else the default list.
pub fn trunks_for(
    named: Option<&str>,
    numbers: &[String],
    config: &OutboundConfig,
) -> Result<Vec<Sid>, OutboundError> {
    if let Some(s) = named {
        return failover::parse_trunks(s).map_err(OutboundError::BadTrunk);
    }
    if config.trunk_routes.is_empty() {
        return if config.default_trunks.is_empty() {
            Err(OutboundError::MissingTrunk)
        } else {
            Ok(config.default_trunks.clone())
        };
    }
    let mut chosen: Option<(&str, Option<&str>, &[Sid])> = None;
    for n in numbers {
        let (prefix, trunks) = match config.trunk_routes.lookup(n) {
            Some((p, t)) => (Some(p), t),
            None => (None, config.default_trunks.as_slice()),
        };
        if trunks.is_empty() {
            return Err(OutboundError::NoTrunkFor { number: n.clone() });
        }
        match chosen {
            None => chosen = Some((n, prefix, trunks)),
            Some((first, first_prefix, first_trunks)) if first_trunks != trunks => {
                let name = |p: Option<&str>| {
                    p.map_or("BYOC_TRUNK_SID".to_string(), |p| {
                        format!("OUTBOUND_TRUNK_ROUTES {p}")
                    })
                };
                return Err(OutboundError::MixedTrunks {
                    first: first.to_string(),
                    second: n.clone(),
                    why: format!("{} and {}", name(first_prefix), name(prefix)),
                });
            }
            Some(_) => {}
        }
    }
    Ok(chosen.map(|(_, _, t)| t.to_vec()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sid::SidKind;

    const TRUNK: &str = "BY0123456789abcdef0123456789abcdef";
    const OTHER: &str = "BYfedcba9876543210fedcba9876543210";
    const NEXT: &str = "https://h.example.com/Prod/outbound/next";

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().copied().collect()
    }

    fn run(query: &[(&str, &str)], body: &[(&str, &str)], config: &OutboundConfig) -> Decision {
        decide(&p(query), &p(body), config, NEXT)
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
            default_trunks: vec![Sid::parse(SidKind::ByocTrunk, OTHER).unwrap()],
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
        assert_eq!(dial.trunks[0].as_str(), TRUNK);
        // The call's From is the caller ID when nothing else is configured.
        assert_eq!(dial.options.caller_id.as_deref(), Some("+13175550123"));
        let d = run(
            &[],
            &[("OUTBOUND_DID", "+442071234567"), ("From", "sip:alice@pbx")],
            &config,
        );
        let dial = d.result.unwrap();
        assert_eq!(dial.trunks[0].as_str(), OTHER);
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
        let d = decide(&query, &p(&[("BYOC_TRUNK_SID", TRUNK)]), &world, NEXT);
        let dial = d.result.unwrap();
        assert_eq!(dial.numbers, vec!["+6562345678"]);
        assert_eq!(dial.options.caller_id.as_deref(), Some("+442071234567"));
        // A list written with `+` signs, unencoded: each item lost its `+`.
        let query = Params::from_form(b"OUTBOUND_DID=+13175551234,+442071234567");
        let d = decide(&query, &p(&[("BYOC_TRUNK_SID", TRUNK)]), &world, NEXT);
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
            NEXT,
        );
        assert!(matches!(d.result, Err(OutboundError::NotAllowed { .. })));
        // An encoded list with a space after the comma keeps national numbers national.
        let query = Params::from_form(b"OUTBOUND_DID=%2B13175551234%2C%203175550000");
        let d = decide(&query, &p(&[("BYOC_TRUNK_SID", TRUNK)]), &world, NEXT);
        assert_eq!(
            d.result.unwrap().numbers,
            vec!["+13175551234", "+13175550000"]
        );
        // The call's own From, too (a GET webhook carries it in the query string).
        let body = Params::from_form(
            b"From=+442071234567&BYOC_TRUNK_SID=BY0123456789abcdef0123456789abcdef",
        );
        let d = decide(&p(&[("OUTBOUND_DID", "+13175551234")]), &body, &world, NEXT);
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

    fn home(cc: &str) -> OutboundConfig {
        let plan = NumberPlan::new(cc).unwrap();
        OutboundConfig {
            policy: Policy::for_plan(&plan),
            plan,
            ..OutboundConfig::default()
        }
    }

    fn dial_one(did: &str, cfg: &OutboundConfig) -> Result<Dial, OutboundError> {
        run(
            &[("OUTBOUND_DID", did), ("BYOC_TRUNK_SID", TRUNK)],
            &[],
            cfg,
        )
        .result
    }

    #[test]
    fn a_uk_home_refuses_premium_personal_pager_and_other_territories() {
        let uk = home("44");
        for (did, kind) in [
            ("09011234567", NumberKind::PremiumRate),
            ("+44 909 879 0000", NumberKind::PremiumRate),
            ("+44 871 123 4567", NumberKind::PremiumRate),
            ("+44 70 1234 5678", NumberKind::PersonalNumber),
            ("07640 123456", NumberKind::Pager),
        ] {
            match dial_one(did, &uk) {
                Err(OutboundError::DeniedType { kind: k, .. }) => assert_eq!(k, kind, "{did}"),
                other => panic!("{did}: {other:?}"),
            }
        }
        for (did, region) in [
            ("+44 1534 123456", "JE"),
            ("+44 7797 123456", "JE"),
            ("+44 1481 256789", "GG"),
            ("+44 7781 123456", "GG"),
            ("+44 1624 612345", "IM"),
        ] {
            match dial_one(did, &uk) {
                Err(OutboundError::OtherTerritory { region: r, .. }) => {
                    assert_eq!(r.as_str(), region, "{did}")
                }
                other => panic!("{did}: {other:?}"),
            }
        }
        // Ordinary numbers dial; a territory can be allowed.
        for did in [
            "020 7123 4567",
            "+44 121 234 5678",
            "07700 912345",
            "0800 123 4567",
        ] {
            assert!(dial_one(did, &uk).is_ok(), "{did}");
        }
        let jersey = OutboundConfig {
            policy: Policy {
                allowed_regions: vec![RegionCode::parse("JE").unwrap()],
                ..uk.policy.clone()
            },
            ..uk.clone()
        };
        assert!(dial_one("+44 1534 123456", &jersey).is_ok());
        assert!(dial_one("+44 1481 256789", &jersey).is_err());
        // The home country's emergency numbers; a length the country never uses.
        assert_eq!(
            dial_one("999", &uk).unwrap_err(),
            OutboundError::Emergency("999".into())
        );
        assert!(matches!(
            dial_one("+44 (0)7700 900123", &uk),
            Ok(ref d) if d.numbers == ["+447700900123"]
        ));
        assert!(matches!(
            dial_one("+4407700900123", &uk),
            Err(OutboundError::BadDid(_))
        ));
        // Other homes: their premium ranges and emergency numbers.
        let de = home("49");
        assert!(matches!(
            dial_one("0900 1234567", &de),
            Err(OutboundError::DeniedType { .. })
        ));
        assert_eq!(
            dial_one("110", &de).unwrap_err(),
            OutboundError::Emergency("110".into())
        );
        let au = home("61");
        assert!(matches!(
            dial_one("1900 123 456", &au),
            Err(OutboundError::DeniedType { .. })
        ));
        assert_eq!(
            dial_one("000", &au).unwrap_err(),
            OutboundError::Emergency("000".into())
        );
        assert!(matches!(
            dial_one("+61 8 9164 1234", &au),
            Err(OutboundError::OtherTerritory { .. })
        ));
    }

    #[test]
    fn nanp_personal_numbers_are_refused_and_premium_abroad_too() {
        let cfg = OutboundConfig::default();
        assert!(matches!(
            dial_one("+15005551234", &cfg),
            Err(OutboundError::Denied { ref prefix, .. }) if prefix.contains("personal")
        ));
        // An allowed foreign country keeps its premium ranges refused.
        let uk_too = OutboundConfig {
            policy: Policy {
                allowed_prefixes: vec!["+1".into(), "+44".into()],
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        assert!(matches!(
            dial_one("+449011234567", &uk_too),
            Err(OutboundError::DeniedType { .. })
        ));
        assert!(dial_one("+442071234567", &uk_too).is_ok());
        // A denied type the NANP tables do not cover asks the metadata for +1 numbers.
        let no_toll_free = OutboundConfig {
            policy: Policy {
                denied_kinds: vec![NumberKind::TollFree],
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        assert!(matches!(
            dial_one("+18005551234", &no_toll_free),
            Err(OutboundError::DeniedType {
                kind: NumberKind::TollFree,
                ..
            })
        ));
        assert!(dial_one("+13175551234", &no_toll_free).is_ok());
    }

    #[test]
    fn a_type_still_denied_refuses_a_nanp_number_whose_prefix_was_lifted() {
        let lifted = OutboundConfig {
            policy: Policy {
                denied_prefixes: vec![],
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        for did in ["+19005551234", "+12129761234", "+15005551234"] {
            assert!(
                matches!(
                    dial_one(did, &lifted),
                    Err(OutboundError::DeniedType { .. })
                ),
                "{did}"
            );
        }
        let open = OutboundConfig {
            policy: Policy {
                denied_prefixes: vec![],
                denied_kinds: vec![],
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        assert!(dial_one("+19005551234", &open).is_ok());
        // A trunk SID that is not ASCII is refused, never a panic.
        for trunk in ["€", "S€0123", "\u{e9}\u{e9}"] {
            let d = run(
                &[("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", trunk)],
                &[],
                &OutboundConfig::default(),
            );
            assert_eq!(d.result.unwrap_err().kind(), "bad_trunk", "{trunk}");
        }
    }

    #[test]
    fn pasted_numbers_and_extensions() {
        let cfg = OutboundConfig::default();
        for did in [
            "+1\u{a0}317\u{a0}555\u{a0}1234",
            "+1 317\u{2013}555\u{2013}1234",
            "\u{ff0b}\u{ff11}\u{ff13}\u{ff11}\u{ff17}\u{ff15}\u{ff15}\u{ff15}\u{ff11}\u{ff12}\u{ff13}\u{ff14}",
            "\u{200e}+13175551234\u{200f}",
        ] {
            assert_eq!(dial_one(did, &cfg).unwrap().numbers, ["+13175551234"], "{did:?}");
        }
        for did in [
            "+13175551234 x12",
            "+1 317 555 1234 ext. 12",
            "+13175551234 EXT 12",
            "+13175551234;ext=12",
            "tel:+13175551234;ext=12",
            "(317) 555-1234 extension 12",
        ] {
            let d = run(
                &[("OUTBOUND_DID", did), ("BYOC_TRUNK_SID", TRUNK)],
                &[],
                &cfg,
            );
            let dial = d.result.unwrap_or_else(|e| panic!("{did}: {e}"));
            assert_eq!(dial.numbers, ["+13175551234"], "{did}");
            assert_eq!(dial.extensions, [Some("12".to_string())], "{did}");
            assert!(
                d.twiml.to_xml().contains(&format!(
                    r#"<Number byoc="{TRUNK}" sendDigits="wwww12">+13175551234</Number>"#
                )),
                "{did}"
            );
        }
        for did in [
            "+13175551234 x",
            "+13175551234 ext. 12a",
            "+13175551234 x12345678901",
        ] {
            let e = dial_one(did, &cfg).unwrap_err();
            assert!(e.to_string().contains("extension"), "{did}: {e}");
        }
        // check_number (byoc call) cannot play an extension: it says so.
        let e = check_number("+13175551234 x12", &cfg).unwrap_err();
        assert!(e.to_string().contains("extension (12)"), "{e}");
    }

    #[test]
    fn an_anonymous_caller_is_never_the_caller_id() {
        let cfg = OutboundConfig::default();
        for from in ["+266696687", "anonymous", "sip:anonymous@anonymous.invalid"] {
            let d = run(
                &[("OUTBOUND_DID", "+13175551234"), ("BYOC_TRUNK_SID", TRUNK)],
                &[("From", from)],
                &cfg,
            );
            assert_eq!(d.result.unwrap().options.caller_id, None, "{from}");
            let d = run(
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("CALLER_ID", from),
                ],
                &[],
                &OutboundConfig {
                    default_caller_id: Some("+13175550000".into()),
                    ..OutboundConfig::default()
                },
            );
            assert_eq!(
                d.result.unwrap().options.caller_id.as_deref(),
                Some("+13175550000"),
                "{from}"
            );
        }
    }

    #[test]
    fn a_refusal_returns_to_the_flow_when_it_can() {
        const FLOW: &str = "https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return";
        let cfg = OutboundConfig::default();
        for (params, kind) in [
            (vec![("BYOC_TRUNK_SID", TRUNK)], "bad_number"),
            (
                vec![
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", "SD0123456789abcdef0123456789abcdef"),
                ],
                "bad_trunk",
            ),
            (
                vec![
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", "BYxxxxxxxx"),
                ],
                "bad_trunk",
            ),
            (
                vec![
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", TRUNK),
                    ("TIMEOUT", "2"),
                ],
                "bad_option",
            ),
            (
                vec![("OUTBOUND_DID", "+19005551234"), ("BYOC_TRUNK_SID", TRUNK)],
                "policy_destination",
            ),
        ] {
            let mut params = params.clone();
            params.push(("ACTION_URL", FLOW));
            let d = run(&params, &[], &cfg);
            assert_eq!(d.result.as_ref().unwrap_err().kind(), kind, "{params:?}");
            let xml = d.twiml.to_xml();
            assert!(
                xml.ends_with(&format!(
                    "<Response><Redirect method=\"POST\">{}</Redirect></Response>",
                    format!("{FLOW}&DialCallStatus=failed&ByocOutcome=refused&ByocRefusal={kind}")
                        .replace('&', "&amp;")
                )),
                "{params:?}: {xml}"
            );
        }
        // ACTION_METHOD is kept; an unusable ACTION_URL leaves the apology and the hang-up.
        let d = run(&[("ACTION_URL", FLOW), ("ACTION_METHOD", "get")], &[], &cfg);
        assert!(d.twiml.to_xml().contains(r#"<Redirect method="GET">"#));
        let d = run(&[("ACTION_URL", "javascript:x")], &[], &cfg);
        assert!(d.twiml.to_xml().ends_with("</Say><Hangup/></Response>"));
        // The SIP domain SID is named for what it is.
        let e = run(
            &[
                ("OUTBOUND_DID", "+13175551234"),
                ("BYOC_TRUNK_SID", "SD0123456789abcdef0123456789abcdef"),
            ],
            &[],
            &cfg,
        )
        .result
        .unwrap_err();
        assert!(e.to_string().contains("is a SIP domain SID"), "{e}");
    }

    #[test]
    fn an_unencoded_sip_from_dials_its_own_country_and_get_keeps_the_caller_id() {
        let world = OutboundConfig {
            policy: Policy {
                allowed_prefixes: vec!["+".into()],
                ..Policy::default()
            },
            ..OutboundConfig::default()
        };
        // `OUTBOUND_DID={{trigger.call.From}}` without url_encode, by GET (query) or in a body.
        let query = Params::from_form(
            b"OUTBOUND_DID=sip:+6562345678@203.0.113.10&BYOC_TRUNK_SID=BY0123456789abcdef0123456789abcdef",
        );
        let d = decide(&query, &Params::new(), &world, NEXT);
        assert_eq!(d.result.unwrap().numbers, ["+6562345678"]);
        let body = Params::from_form(b"OUTBOUND_DID=sip:+6562345678@203.0.113.10");
        let d = decide(&p(&[("BYOC_TRUNK_SID", TRUNK)]), &body, &world, NEXT);
        assert_eq!(d.result.unwrap().numbers, ["+6562345678"]);
        // A widget left at GET: the call's From is in the query string.
        let query = Params::from_form(
            b"OUTBOUND_DID=%2B13175551234&BYOC_TRUNK_SID=BY0123456789abcdef0123456789abcdef&From=%2B13175550123",
        );
        let d = decide(&query, &Params::new(), &OutboundConfig::default(), NEXT);
        assert_eq!(
            d.result.unwrap().options.caller_id.as_deref(),
            Some("+13175550123")
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
