//! Routes: the model, its validation, and the matcher.
//!
//! A route is a **pattern** and an **action**:
//! - `+13175551234`: exactly that E.164 number;
//! - `support`, `4321`: exactly that literal address (extensions, SIP user names);
//! - `+1317555*`: every number starting with `+1317555` (`+` and 1 to 15 digits, then `*`);
//! - `*`: the catch-all.
//!
//! Precedence is exact/literal, then the longest matching prefix, then `*`. A number has at most
//! 15 digits, so a lookup tries at most 17 keys whatever the number of routes: the cost is the
//! same for 10 routes or 1,000,000, and the same key list fits one DynamoDB `BatchGetItem`.
//!
//! Routes are exchanged as flat records ([`RouteRecord`]): JSON objects in a route file, CSV rows,
//! DynamoDB items. A record is validated when it is loaded or written and a bad URL, SID or number
//! is refused with a message that names the pattern and the field.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::chain::{self, Chain, TargetSpec};
use crate::number::{Address, NumberPlan, E164_MAX_DIGITS};
use crate::schedule::{Branch, Evaluation, Schedule};
use crate::sid::{Sid, SidKind};
use crate::twiml::{self, DialOptions, Method, Noun, RejectReason, Verb};

pub use crate::route_file::{
    load_route_file, parse_route_file, records_to_route_file, to_route_file, LoadedFile,
    RecordMeta, RouteFile, RouteFileError,
};

/// Longest URL accepted in a route (Twilio's own limit for webhook URLs is 4,000 characters, but
/// nothing legitimate comes close; a short bound keeps TwiML small).
pub const URL_MAX_LEN: usize = 2048;
/// Longest text a `say` route may speak.
pub const SAY_MAX_CHARS: usize = 4096;
/// Longest description kept with a route.
pub const DESCRIPTION_MAX_CHARS: usize = 1024;

/// A route key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// An E.164 number, `+13175551234`.
    Exact(String),
    /// A literal address, `support`.
    Literal(String),
    /// A number prefix without its `*`: `+1317` for the pattern `+1317*`.
    Prefix(String),
    /// `*`.
    CatchAll,
}

impl Pattern {
    /// Parses a pattern. Number patterns must be written canonically (E.164), so that the stored
    /// key is exactly the key a lookup computes; a national form is refused with the canonical
    /// form in the message.
    pub fn parse(s: &str, plan: &NumberPlan) -> Result<Self, RouteErrorKind> {
        let s = s.trim();
        if s.is_empty() {
            return Err(RouteErrorKind::EmptyPattern);
        }
        if s == "*" {
            return Ok(Pattern::CatchAll);
        }
        if let Some(prefix) = s.strip_suffix('*') {
            let digits = prefix.strip_prefix('+').unwrap_or("");
            let ok = prefix.starts_with('+')
                && (1..=E164_MAX_DIGITS).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0');
            return if ok {
                Ok(Pattern::Prefix(prefix.to_string()))
            } else {
                Err(RouteErrorKind::BadPrefix(s.to_string()))
            };
        }
        if looks_scientific(s) {
            return Err(RouteErrorKind::BadPattern(format!(
                "`{s}` looks like a number a spreadsheet turned into scientific notation: format the column as text and export again"
            )));
        }
        if looks_decimal(s) {
            return Err(RouteErrorKind::BadPattern(format!(
                "`{s}` looks like a number a spreadsheet wrote with a decimal part: format the column as text and export again"
            )));
        }
        match plan.normalize(s) {
            Ok(Address::E164(n)) if n == s => {
                check_nanp_length(&n).map_err(RouteErrorKind::BadPattern)?;
                Ok(Pattern::Exact(n))
            }
            Ok(Address::Literal(l)) if l == s => Ok(Pattern::Literal(l)),
            Ok(canonical) => Err(RouteErrorKind::NotCanonical {
                given: s.to_string(),
                canonical: canonical.to_string(),
            }),
            Err(e) => Err(RouteErrorKind::BadPattern(e.to_string())),
        }
    }

    /// The key under which the route is stored and looked up (`+1317*` for a prefix).
    pub fn key(&self) -> String {
        // Built directly: this runs for every route of a route file at a cold start.
        match self {
            Pattern::Exact(s) | Pattern::Literal(s) => s.clone(),
            Pattern::Prefix(p) => {
                let mut key = String::with_capacity(p.len() + 1);
                key.push_str(p);
                key.push('*');
                key
            }
            Pattern::CatchAll => "*".to_string(),
        }
    }
}

/// `13175550804.0`, `3175550805.00`: digits, a point, digits.
fn looks_decimal(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    s.split_once('.')
        .is_some_and(|(whole, fraction)| digits(whole) && digits(fraction))
}

/// `1.31756E+10`, `1E10`: digits, an optional fraction, `E`, an exponent.
fn looks_scientific(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(mantissa),
    };
    mantissa_ok && digits(exponent)
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(s) | Pattern::Literal(s) => f.write_str(s),
            Pattern::Prefix(p) => write!(f, "{p}*"),
            Pattern::CatchAll => f.write_str("*"),
        }
    }
}

/// What a route does with the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `<Redirect>` to a Studio flow webhook, a Function, a TwiML Bin or any URL.
    Redirect { url: String, method: Method },
    /// `<Dial><Number>` a number, optionally over a BYOC trunk.
    Dial {
        number: String,
        byoc: Option<Sid>,
        caller_id: Option<String>,
        timeout: Option<u32>,
    },
    /// `<Dial><Sip>` a SIP URI.
    Sip {
        uri: String,
        caller_id: Option<String>,
        timeout: Option<u32>,
    },
    /// `<Say>` a message, then hang up.
    Say {
        text: String,
        voice: Option<String>,
        language: Option<String>,
    },
    /// `<Reject>` the call (the caller hears busy or a rejection, and is not billed).
    Reject { reason: RejectReason },
    /// `<Hangup>`.
    Hangup,
    /// `<Dial><Client>` a Voice SDK client identity.
    Client {
        identity: String,
        caller_id: Option<String>,
        timeout: Option<u32>,
    },
    /// `<Dial><Application>` a TwiML App, with custom parameters.
    Application {
        sid: Sid,
        parameters: Vec<(String, String)>,
        caller_id: Option<String>,
        timeout: Option<u32>,
    },
    /// `<Enqueue workflowSid="WW…">` into TaskRouter, with optional task attributes (JSON).
    Enqueue {
        workflow: Sid,
        task_attributes: Option<String>,
    },
    /// `<Play>` an audio URL, then hang up.
    Play { url: String },
    /// `<Refer>` the call back to the SIP peer, to this URI.
    Refer { uri: String },
    /// `<Dial><Conference>` a named conference room.
    Conference { name: String },
    /// A TwiML fragment of allowed verbs, checked when written and sent as given.
    Twiml { twiml: String },
    /// `dial` with `targets`: tried in order, then a final action (see `chain`).
    Chain(Box<Chain>),
}

impl Action {
    /// The action's name as written in route files.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Redirect { .. } => "redirect",
            Action::Dial { .. } => "dial",
            Action::Sip { .. } => "sip",
            Action::Say { .. } => "say",
            Action::Reject { .. } => "reject",
            Action::Hangup => "hangup",
            Action::Client { .. } => "client",
            Action::Application { .. } => "application",
            Action::Enqueue { .. } => "enqueue",
            Action::Play { .. } => "play",
            Action::Refer { .. } => "refer",
            Action::Conference { .. } => "conference",
            Action::Twiml { .. } => "twiml",
            Action::Chain(_) => "dial",
        }
    }

    /// The TwiML that carries out this action. A failover chain's action URL is the relative
    /// `/inbound/next`; the webhook handler uses [`Action::to_twiml_for`] with its own URL.
    pub fn to_twiml(&self) -> twiml::Response {
        self.to_twiml_for(DEFAULT_NEXT_URL)
    }

    /// The TwiML for this action, with `next_url` as a failover chain's action URL.
    pub fn to_twiml_for(&self, next_url: &str) -> twiml::Response {
        match self {
            Action::Redirect { url, method } => twiml::Response::redirect(url.clone(), *method),
            Action::Dial {
                number,
                byoc,
                caller_id,
                timeout,
            } => twiml::Response::new().verb(Verb::Dial {
                options: DialOptions {
                    caller_id: caller_id.clone(),
                    timeout: *timeout,
                    ..DialOptions::default()
                },
                nouns: vec![Noun::Number {
                    number: number.clone(),
                    byoc: byoc.as_ref().map(|s| s.to_string()),
                }],
            }),
            Action::Sip {
                uri,
                caller_id,
                timeout,
            } => twiml::Response::new().verb(Verb::Dial {
                options: DialOptions {
                    caller_id: caller_id.clone(),
                    timeout: *timeout,
                    ..DialOptions::default()
                },
                nouns: vec![Noun::Sip { uri: uri.clone() }],
            }),
            Action::Say {
                text,
                voice,
                language,
            } => twiml::Response::new()
                .verb(Verb::Say {
                    text: text.clone(),
                    voice: voice.clone(),
                    language: language.clone(),
                })
                .verb(Verb::Hangup),
            Action::Reject { reason } => twiml::Response::reject(*reason),
            Action::Hangup => twiml::Response::new().verb(Verb::Hangup),
            Action::Client {
                identity,
                caller_id,
                timeout,
            } => dial(
                caller_id,
                *timeout,
                Noun::Client {
                    identity: identity.clone(),
                },
            ),
            Action::Application {
                sid,
                parameters,
                caller_id,
                timeout,
            } => dial(
                caller_id,
                *timeout,
                Noun::Application {
                    sid: sid.to_string(),
                    parameters: parameters.clone(),
                },
            ),
            Action::Enqueue {
                workflow,
                task_attributes,
            } => twiml::Response::new().verb(Verb::Enqueue {
                name: None,
                workflow_sid: Some(workflow.to_string()),
                task: task_attributes.clone(),
            }),
            Action::Play { url } => twiml::Response::new()
                .verb(Verb::Play { url: url.clone() })
                .verb(Verb::Hangup),
            Action::Refer { uri } => twiml::Response::new().verb(Verb::Refer { uri: uri.clone() }),
            Action::Conference { name } => {
                dial(&None, None, Noun::Conference { name: name.clone() })
            }
            Action::Twiml { twiml } => twiml::Response::new().verb(Verb::Raw(twiml.clone())),
            Action::Chain(chain) => chain.first(next_url),
        }
    }

    /// Whether this action dials (and so takes `caller_id` / `timeout`).
    pub fn is_dial(&self) -> bool {
        matches!(
            self,
            Action::Dial { .. }
                | Action::Sip { .. }
                | Action::Client { .. }
                | Action::Application { .. }
                | Action::Conference { .. }
                | Action::Chain(_)
        )
    }

    /// The action's fields as a flat object (a route record without pattern, description,
    /// schedule or metadata), as schedules' and chains' branch actions are written.
    pub fn to_flat(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut record = RouteRecord::default();
        self.fill(&mut record);
        match serde_json::to_value(record) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.remove("pattern");
                map
            }
            _ => serde_json::Map::new(),
        }
    }

    /// Writes the action's fields into `r`.
    fn fill(&self, r: &mut RouteRecord) {
        r.action = Some(self.kind().to_string());
        match self {
            Action::Redirect { url, method } => {
                r.url = Some(url.clone());
                r.method = Some(method.as_str().to_string());
            }
            Action::Dial {
                number,
                byoc,
                caller_id,
                timeout,
            } => {
                r.number = Some(number.clone());
                r.byoc = byoc.as_ref().map(|s| s.to_string());
                r.caller_id = caller_id.clone();
                r.timeout = *timeout;
            }
            Action::Sip {
                uri,
                caller_id,
                timeout,
            } => {
                r.uri = Some(uri.clone());
                r.caller_id = caller_id.clone();
                r.timeout = *timeout;
            }
            Action::Say {
                text,
                voice,
                language,
            } => {
                r.text = Some(text.clone());
                r.voice = voice.clone();
                r.language = language.clone();
            }
            Action::Reject { reason } => r.reason = Some(reason.as_str().to_string()),
            Action::Hangup => {}
            Action::Client {
                identity,
                caller_id,
                timeout,
            } => {
                r.identity = Some(identity.clone());
                r.caller_id = caller_id.clone();
                r.timeout = *timeout;
            }
            Action::Application {
                sid,
                parameters,
                caller_id,
                timeout,
            } => {
                r.application = Some(sid.to_string());
                r.parameters = (!parameters.is_empty()).then(|| {
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(parameters)
                        .finish()
                });
                r.caller_id = caller_id.clone();
                r.timeout = *timeout;
            }
            Action::Enqueue {
                workflow,
                task_attributes,
            } => {
                r.workflow = Some(workflow.to_string());
                r.task_attributes = task_attributes.clone();
            }
            Action::Play { url } => r.url = Some(url.clone()),
            Action::Refer { uri } => r.uri = Some(uri.clone()),
            Action::Conference { name } => r.name = Some(name.clone()),
            Action::Twiml { twiml } => r.twiml = Some(twiml.clone()),
            Action::Chain(chain) => {
                let specs: Vec<_> = chain.targets.iter().map(|t| t.to_spec()).collect();
                // Sorted keys (through a Value), the same text every store writes back.
                r.targets = serde_json::to_value(&specs).ok().map(|v| v.to_string());
                r.caller_id = chain.caller_id.clone();
                r.final_action = chain
                    .final_action
                    .as_ref()
                    .map(|a| serde_json::Value::Object(a.to_flat()).to_string());
            }
        }
    }

    /// A redirect action for a URL given in configuration (e.g. `DEFAULT_ROUTE_URL`).
    pub fn redirect_to(url: &str, method: Method) -> Result<Self, RouteErrorKind> {
        Ok(Action::Redirect {
            url: check_url("url", url)?,
            method,
        })
    }
}

fn dial(caller_id: &Option<String>, timeout: Option<u32>, noun: Noun) -> twiml::Response {
    twiml::Response::new().verb(Verb::Dial {
        options: DialOptions {
            caller_id: caller_id.clone(),
            timeout,
            ..DialOptions::default()
        },
        nouns: vec![noun],
    })
}

/// A validated route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub pattern: Pattern,
    /// What the route does (when open, if it has a schedule).
    pub action: Action,
    pub description: Option<String>,
    /// Opening hours, with the actions for closed times and holidays (boxed: most routes have
    /// none, and a route is moved around a lot).
    pub schedule: Option<Box<Scheduled>>,
    /// Caller conditions: calls from these `From` prefixes get their own action.
    pub callers: Vec<CallerRule>,
    /// The SIP domain (lowercase) the route is limited to; `None`: every call.
    pub scope: Option<String>,
}

/// Calls whose `From` starts with `prefix` (E.164) get `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerRule {
    pub prefix: String,
    pub action: Action,
}

/// Most caller conditions on one route.
pub const MAX_CALLER_RULES: usize = 20;

/// How a route answered one call: the action, the schedule's verdict (scheduled routes) and
/// the caller condition that applied (if one did).
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub action: &'a Action,
    pub caller_rule: Option<&'a str>,
}

/// A route's schedule and its other branches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    pub schedule: Schedule,
    pub closed: Action,
    pub holiday: Option<Action>,
}

impl Route {
    /// The key the route is stored and looked up under: the pattern's key, then `@` and the
    /// scope for a scoped route (`+1317*@example.sip.twilio.com`).
    pub fn key(&self) -> String {
        match &self.scope {
            Some(scope) => scoped_key(&self.pattern.key(), scope),
            None => self.pattern.key(),
        }
    }

    /// The action for a call at `at` from the caller whose digits are `from` (see
    /// [`NumberPlan::caller_digits`]). Precedence: the caller condition with the longest prefix
    /// of those digits, then the schedule, then the route's action.
    pub fn answer(
        &self,
        at: jiff::Timestamp,
        from: Option<&str>,
    ) -> (Answer<'_>, Option<Evaluation>) {
        let caller = from.and_then(|digits| {
            self.callers
                .iter()
                .filter(|r| digits.starts_with(&r.prefix[1..]))
                .max_by_key(|r| r.prefix.len())
        });
        if let Some(rule) = caller {
            let answer = Answer {
                action: &rule.action,
                caller_rule: Some(rule.prefix.as_str()),
            };
            return (answer, None);
        }
        let (action, evaluation) = self.action_at(at);
        let answer = Answer {
            action,
            caller_rule: None,
        };
        (answer, evaluation)
    }

    /// The action that answers a call at `at`, and the schedule's verdict if the route has one.
    pub fn action_at(&self, at: jiff::Timestamp) -> (&Action, Option<Evaluation>) {
        let Some(s) = &self.schedule else {
            return (&self.action, None);
        };
        let evaluation = s.schedule.evaluate(at);
        let action = match evaluation.branch {
            Branch::Open => &self.action,
            Branch::Holiday => s.holiday.as_ref().unwrap_or(&s.closed),
            Branch::Closed => &s.closed,
        };
        (action, Some(evaluation))
    }
}

/// The flat, serializable form of a route: one JSON object in a route file, one CSV row, one
/// DynamoDB item. Fields that an action does not use must be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRecord {
    pub pattern: String,
    /// `redirect` (the default), `dial`, `sip`, `say`, `reject`, `hangup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byoc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_u32"
    )]
    pub timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `client`: the Voice SDK identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// `application`: the TwiML App SID (`AP…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// `application`: custom parameters, form-encoded (`a=1&b=2`); a JSON object in route files.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "form_or_object"
    )]
    pub parameters: Option<String>,
    /// `enqueue`: the TaskRouter workflow SID (`WW…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// `enqueue`: task attributes, a JSON object (as text in CSV and DynamoDB).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json_text_or_object",
        serialize_with = "json_text_as_value"
    )]
    pub task_attributes: Option<String>,
    /// `conference`: the room name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `twiml`: the TwiML fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twiml: Option<String>,
    /// Opening hours (see `schedule`): a JSON object in route files, JSON text in CSV and
    /// DynamoDB. Applies to any action.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json_text_or_object",
        serialize_with = "json_text_as_value"
    )]
    pub schedule: Option<String>,
    /// `dial`: a failover chain, a JSON array of `{"number"|"sip"|"client", "byoc", "timeout"}`
    /// tried in order (JSON text in CSV and DynamoDB).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json_text_or_object",
        serialize_with = "json_text_as_value"
    )]
    pub targets: Option<String>,
    /// `dial` with `targets`: the action after the last target (a flat action object).
    #[serde(
        default,
        rename = "final",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json_text_or_object",
        serialize_with = "json_text_as_value"
    )]
    pub final_action: Option<String>,
    /// Caller conditions: a JSON array of flat actions, each with a `from` E.164 prefix (JSON
    /// text in CSV and DynamoDB). Applies to any action.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json_text_or_object",
        serialize_with = "json_text_as_value"
    )]
    pub callers: Option<String>,
    /// The SIP domain the route is limited to (`example.sip.twilio.com`): it answers only calls
    /// whose `SipDomain` is this one, and wins over an unscoped route of the same pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Store metadata: incremented by every write; never part of the route's meaning.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_u64"
    )]
    pub version: Option<u64>,
    /// Store metadata: when the route was last written (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Store metadata: who last wrote the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// The route fields of a record, for comparing what a route does regardless of store metadata.
impl RouteRecord {
    pub fn without_metadata(mut self) -> Self {
        self.version = None;
        self.updated_at = None;
        self.updated_by = None;
        self
    }
}

/// `parameters`: a form-encoded string, or (in JSON) an object of strings, kept form-encoded.
fn form_or_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Map(std::collections::BTreeMap<String, String>),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => None,
        Some(Raw::Text(t)) => Some(t),
        Some(Raw::Map(m)) => Some(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(m)
                .finish(),
        ),
    })
}

/// `task_attributes`: JSON text, or (in JSON) the object itself, kept as compact JSON text.
fn json_text_or_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None => None,
        Some(serde_json::Value::String(t)) => Some(t),
        Some(other) => Some(other.to_string()),
    })
}

/// Writes JSON text as the JSON value it holds, so route files show objects, not escaped text.
fn json_text_as_value<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v
        .as_deref()
        .map(|t| (t, serde_json::from_str::<serde_json::Value>(t)))
    {
        Some((_, Ok(value))) => value.serialize(s),
        Some((text, Err(_))) => s.serialize_str(text),
        None => s.serialize_none(),
    }
}

fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    lenient_number(d, "version")
}

fn lenient_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    lenient_number(d, "timeout")
}

/// Accepts `30` or `"30"` (CSV and hand-written JSON both occur); empty strings are absent.
/// Anything else is refused naming the field and the value (`20.5`, `"soon"`, `true`).
fn lenient_number<'de, D, N>(d: D, field: &str) -> Result<Option<N>, D::Error>
where
    D: serde::Deserializer<'de>,
    N: TryFrom<u64>,
{
    let not_whole =
        |shown: &dyn fmt::Display| format!("`{field}`: `{shown}` is not a whole number");
    let whole = |n: Option<u64>, shown: &dyn fmt::Display| {
        n.and_then(|n| N::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(not_whole(shown)))
    };
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => whole(n.as_u64(), &n),
        Some(serde_json::Value::String(t)) if t.trim().is_empty() => Ok(None),
        Some(serde_json::Value::String(t)) => whole(t.trim().parse().ok(), &t),
        Some(other) => Err(serde::de::Error::custom(not_whole(&other))),
    }
}

/// Reads one flat route object (a route file's element, `--json`, a console form), naming
/// the route and the field when the JSON does not fit the schema, without serde's internals.
pub fn record_from_json(text: &str) -> Result<RouteRecord, RouteError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let pattern = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| {
                v.get("pattern")
                    .and_then(|p| p.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "?".to_string());
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde_json appends the position; the caller names the route and line instead.
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_string(),
            None => message,
        };
        RouteError {
            pattern,
            kind: RouteErrorKind::Schema {
                field: if path == "." { String::new() } else { path },
                reason: message,
            },
        }
    })
}

/// What is wrong with a route, without saying which route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteErrorKind {
    #[error("the pattern is empty")]
    EmptyPattern,
    #[error(
        "`{0}` is not a prefix pattern: write `+` and 1 to 15 digits, then `*` (e.g. `+1317555*`)"
    )]
    BadPrefix(String),
    #[error("invalid pattern: {0}")]
    BadPattern(String),
    #[error("write the pattern `{given}` as `{canonical}`")]
    NotCanonical { given: String, canonical: String },
    #[error("unknown action `{0}` (expected redirect, dial, sip, say, reject, hangup, client, application, enqueue, play, refer, conference or twiml)")]
    UnknownAction(String),
    #[error("action `{action}` needs `{field}`")]
    MissingField {
        action: &'static str,
        field: &'static str,
    },
    #[error("`{field}` does not apply to action `{action}`")]
    FieldNotAllowed {
        action: &'static str,
        field: &'static str,
    },
    #[error("`{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("duplicate pattern")]
    Duplicate,
    /// The JSON or CSV does not fit the record (a number where text goes, an unknown field).
    #[error("{}{reason}", if field.is_empty() || reason.starts_with('`') { String::new() } else { format!("`{field}`: ") })]
    Schema { field: String, reason: String },
}

/// A route that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route `{pattern}`: {kind}")]
pub struct RouteError {
    pub pattern: String,
    pub kind: RouteErrorKind,
}

/// Each action and the record fields it may use (any other set field is an error).
const ACTIONS: [(&str, &[&str]); 13] = [
    ("redirect", &["url", "method"]),
    (
        "dial",
        &["number", "byoc", "caller_id", "timeout", "targets", "final"],
    ),
    ("sip", &["uri", "caller_id", "timeout"]),
    ("say", &["text", "voice", "language"]),
    ("reject", &["reason"]),
    ("hangup", &[]),
    ("client", &["identity", "caller_id", "timeout"]),
    (
        "application",
        &["application", "parameters", "caller_id", "timeout"],
    ),
    ("enqueue", &["workflow", "task_attributes"]),
    ("play", &["url"]),
    ("refer", &["uri"]),
    ("conference", &["name"]),
    ("twiml", &["twiml"]),
];

/// A record's columns, by the names route files and CSV use (`final` for
/// [`RouteRecord::final_action`]), in the order exports write them; store metadata is not among
/// them.
pub const RECORD_COLUMNS: [&str; 26] = [
    "pattern",
    "action",
    "url",
    "method",
    "number",
    "byoc",
    "caller_id",
    "timeout",
    "uri",
    "text",
    "voice",
    "language",
    "reason",
    "identity",
    "application",
    "parameters",
    "workflow",
    "task_attributes",
    "name",
    "twiml",
    "schedule",
    "targets",
    "final",
    "callers",
    "scope",
    "description",
];

/// The fields a partial update may set or clear: every column but `pattern`.
pub const RECORD_FIELDS: &[&str] = match RECORD_COLUMNS.split_first() {
    Some((_, fields)) => fields,
    None => &[],
};

/// The fields action `name` may use (`None`: no such action).
pub fn action_fields(name: &str) -> Option<&'static [&'static str]> {
    ACTIONS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(name.trim()))
        .map(|(_, fields)| *fields)
}

impl RouteRecord {
    /// Sets (`Some`) or clears (`None`) one field by its name in [`RECORD_FIELDS`], for
    /// partial updates. Nothing is validated here: [`Route::from_record`] does that.
    pub fn set(&mut self, field: &str, value: Option<String>) -> Result<(), String> {
        let slot = match field {
            "action" => &mut self.action,
            "url" => &mut self.url,
            "method" => &mut self.method,
            "number" => &mut self.number,
            "byoc" => &mut self.byoc,
            "caller_id" => &mut self.caller_id,
            "timeout" => {
                self.timeout = match value {
                    None => None,
                    Some(v) => Some(v.trim().parse().map_err(|_| {
                        format!("`timeout`: `{v}` is not a whole number of seconds")
                    })?),
                };
                return Ok(());
            }
            "uri" => &mut self.uri,
            "text" => &mut self.text,
            "voice" => &mut self.voice,
            "language" => &mut self.language,
            "reason" => &mut self.reason,
            "identity" => &mut self.identity,
            "application" => &mut self.application,
            "parameters" => &mut self.parameters,
            "workflow" => &mut self.workflow,
            "task_attributes" => &mut self.task_attributes,
            "name" => &mut self.name,
            "twiml" => &mut self.twiml,
            "schedule" => &mut self.schedule,
            "targets" => &mut self.targets,
            "final" => &mut self.final_action,
            "callers" => &mut self.callers,
            "scope" => &mut self.scope,
            "description" => &mut self.description,
            other => {
                return Err(format!(
                    "unknown field `{other}` (fields: {})",
                    RECORD_FIELDS.join(", ")
                ))
            }
        };
        *slot = value;
        Ok(())
    }

    /// Names of the action fields that are set, for the "does not apply" check.
    fn set_fields(&self) -> impl Iterator<Item = &'static str> {
        let fields: [(&'static str, bool); 20] = [
            ("url", self.url.is_some()),
            ("method", self.method.is_some()),
            ("number", self.number.is_some()),
            ("byoc", self.byoc.is_some()),
            ("caller_id", self.caller_id.is_some()),
            ("timeout", self.timeout.is_some()),
            ("uri", self.uri.is_some()),
            ("text", self.text.is_some()),
            ("voice", self.voice.is_some()),
            ("language", self.language.is_some()),
            ("reason", self.reason.is_some()),
            ("identity", self.identity.is_some()),
            ("application", self.application.is_some()),
            ("parameters", self.parameters.is_some()),
            ("workflow", self.workflow.is_some()),
            ("task_attributes", self.task_attributes.is_some()),
            ("name", self.name.is_some()),
            ("twiml", self.twiml.is_some()),
            ("targets", self.targets.is_some()),
            ("final", self.final_action.is_some()),
        ];
        fields
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| name)
    }

    /// Treats empty strings (CSV cells) as absent.
    fn drop_blanks(&mut self) {
        for field in [
            &mut self.action,
            &mut self.url,
            &mut self.method,
            &mut self.number,
            &mut self.byoc,
            &mut self.caller_id,
            &mut self.uri,
            &mut self.text,
            &mut self.voice,
            &mut self.language,
            &mut self.reason,
            &mut self.identity,
            &mut self.application,
            &mut self.parameters,
            &mut self.workflow,
            &mut self.task_attributes,
            &mut self.name,
            &mut self.twiml,
            &mut self.schedule,
            &mut self.targets,
            &mut self.final_action,
            &mut self.callers,
            &mut self.scope,
            &mut self.description,
        ] {
            if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *field = None;
            }
        }
    }
}

impl Route {
    /// Validates a record.
    pub fn from_record(mut record: RouteRecord, plan: &NumberPlan) -> Result<Self, RouteError> {
        // The record is validated in place, so that its pattern is still there for the error
        // without a copy per route (this runs for every route of a file at a cold start).
        Self::try_from_record(&mut record, plan).map_err(|kind| RouteError {
            pattern: record.pattern,
            kind,
        })
    }

    fn try_from_record(
        record: &mut RouteRecord,
        plan: &NumberPlan,
    ) -> Result<Self, RouteErrorKind> {
        record.drop_blanks();
        let schedule = record
            .schedule
            .take()
            .map(|text| scheduled(&text, &record.pattern, plan).map(Box::new))
            .transpose()?;
        let scope = record.scope.take().map(|s| check_scope(&s)).transpose()?;
        let description = record
            .description
            .take()
            .map(|d| check_description(d.trim()))
            .transpose()?;
        let callers = match record.callers.take() {
            Some(text) => caller_rules(&text, &record.pattern, plan)?,
            None => Vec::new(),
        };
        let pattern = Pattern::parse(&record.pattern, plan)?;
        let kind = record.action.as_deref().map_or("redirect", str::trim);
        let Some(&(action_name, allowed)) = ACTIONS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(kind))
        else {
            return Err(RouteErrorKind::UnknownAction(kind.to_ascii_lowercase()));
        };
        if let Some(field) = record.set_fields().find(|f| !allowed.contains(f)) {
            return Err(RouteErrorKind::FieldNotAllowed {
                action: action_name,
                field,
            });
        }
        let need = |value: Option<String>, field: &'static str| {
            value.ok_or(RouteErrorKind::MissingField {
                action: action_name,
                field,
            })
        };
        let action = match action_name {
            "redirect" => Action::Redirect {
                url: check_url_owned("url", need(record.url.take(), "url")?)?,
                method: match record.method.as_deref() {
                    None => Method::Post,
                    Some(m) => Method::parse(m.trim())
                        .ok_or_else(|| invalid("method", format!("`{m}` is not GET or POST")))?,
                },
            },
            "dial" if record.targets.is_some() || record.final_action.is_some() => {
                let taken = std::mem::take(record);
                // The pattern stays for the error message.
                record.pattern.clone_from(&taken.pattern);
                Action::Chain(Box::new(chain_from(taken, plan)?))
            }
            "dial" => {
                let number = need(record.number.take(), "number")?;
                Action::Dial {
                    number: check_e164("number", &number)?,
                    byoc: record
                        .byoc
                        .as_deref()
                        .map(|s| Sid::parse(SidKind::ByocTrunk, s))
                        .transpose()
                        .map_err(|e| invalid("byoc", e.to_string()))?,
                    caller_id: record
                        .caller_id
                        .as_deref()
                        .map(|c| check_e164("caller_id", c))
                        .transpose()?,
                    timeout: record.timeout.map(check_timeout).transpose()?,
                }
            }
            "sip" => Action::Sip {
                uri: check_sip_uri("uri", &need(record.uri.take(), "uri")?)?,
                caller_id: record
                    .caller_id
                    .as_deref()
                    .map(check_sip_caller_id)
                    .transpose()?,
                timeout: record.timeout.map(check_timeout).transpose()?,
            },
            "say" => Action::Say {
                text: check_say_text(&need(record.text.take(), "text")?)?,
                voice: record
                    .voice
                    .as_deref()
                    .map(|v| check_token("voice", v))
                    .transpose()?,
                language: record.language.as_deref().map(check_language).transpose()?,
            },
            "reject" => Action::Reject {
                reason: match record.reason.as_deref() {
                    None => RejectReason::Rejected,
                    Some(r) => RejectReason::parse(r.trim()).ok_or_else(|| {
                        invalid("reason", format!("`{r}` is not busy or rejected"))
                    })?,
                },
            },
            "client" => Action::Client {
                identity: check_identity(&need(record.identity.take(), "identity")?)?,
                caller_id: record
                    .caller_id
                    .as_deref()
                    .map(check_sip_caller_id)
                    .transpose()?,
                timeout: record.timeout.map(check_timeout).transpose()?,
            },
            "application" => Action::Application {
                sid: Sid::parse(
                    SidKind::Application,
                    &need(record.application.take(), "application")?,
                )
                .map_err(|e| invalid("application", e.to_string()))?,
                parameters: record
                    .parameters
                    .as_deref()
                    .map(check_parameters)
                    .transpose()?
                    .unwrap_or_default(),
                caller_id: record
                    .caller_id
                    .as_deref()
                    .map(check_sip_caller_id)
                    .transpose()?,
                timeout: record.timeout.map(check_timeout).transpose()?,
            },
            "enqueue" => Action::Enqueue {
                workflow: Sid::parse(
                    SidKind::Workflow,
                    &need(record.workflow.take(), "workflow")?,
                )
                .map_err(|e| invalid("workflow", e.to_string()))?,
                task_attributes: record
                    .task_attributes
                    .as_deref()
                    .map(check_task_attributes)
                    .transpose()?,
            },
            "play" => Action::Play {
                url: check_url_owned("url", need(record.url.take(), "url")?)?,
            },
            "refer" => Action::Refer {
                uri: check_sip_uri("uri", &need(record.uri.take(), "uri")?)?,
            },
            "conference" => Action::Conference {
                name: check_conference(&need(record.name.take(), "name")?)?,
            },
            "twiml" => Action::Twiml {
                twiml: check_twiml(&need(record.twiml.take(), "twiml")?)
                    .map_err(|reason| invalid("twiml", reason))?,
            },
            _ => Action::Hangup,
        };
        Ok(Route {
            pattern,
            action,
            description,
            schedule,
            callers,
            scope,
        })
    }

    /// The flat record form (the exact inverse of [`Route::from_record`] for valid routes).
    pub fn to_record(&self) -> RouteRecord {
        let mut r = RouteRecord {
            pattern: self.pattern.key(),
            description: self.description.clone(),
            scope: self.scope.clone(),
            ..RouteRecord::default()
        };
        self.action.fill(&mut r);
        r.schedule = self.schedule.as_ref().map(|s| s.schedule.to_json());
        if !self.callers.is_empty() {
            let rules: Vec<serde_json::Value> = self
                .callers
                .iter()
                .map(|rule| {
                    let mut flat = rule.action.to_flat();
                    flat.insert("from".into(), rule.prefix.clone().into());
                    serde_json::Value::Object(flat)
                })
                .collect();
            r.callers = Some(serde_json::Value::from(rules).to_string());
        }
        r
    }
}

/// A branch action (a schedule's `closed` / `holiday`, a chain's `final`): a flat action object,
/// validated as a route of the same pattern would be, without its own schedule, description or
/// chain.
fn branch_action(
    field: &'static str,
    name: &'static str,
    map: &serde_json::Map<String, serde_json::Value>,
    pattern: &str,
    plan: &NumberPlan,
) -> Result<Action, RouteErrorKind> {
    if let Some(key) = [
        "pattern",
        "schedule",
        "description",
        "targets",
        "final",
        "callers",
        "scope",
        "version",
        "updated_at",
        "updated_by",
    ]
    .into_iter()
    .find(|k| map.contains_key(*k))
    {
        return Err(invalid(field, format!("`{name}` cannot set `{key}`")));
    }
    let mut object = map.clone();
    object.insert("pattern".into(), pattern.into());
    let mut record: RouteRecord = serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|e| invalid(field, format!("`{name}`: {e}")))?;
    Route::try_from_record(&mut record, plan)
        .map(|r| r.action)
        .map_err(|e| invalid(field, format!("`{name}`: {e}")))
}

/// A SIP domain name, kept lowercase (Twilio's `SipDomain`, e.g. `example.sip.twilio.com`).
fn check_scope(s: &str) -> Result<String, RouteErrorKind> {
    let s = s.trim().to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if s.len() <= 253 && s.contains('.') && s.split('.').all(label_ok) {
        Ok(s)
    } else {
        Err(invalid(
            "scope",
            format!("`{s}` is not a SIP domain name such as example.sip.twilio.com"),
        ))
    }
}

/// The store key for a route as a person types it: the pattern in any form `put` explains
/// (`3175551234` is `+13175551234`), then optionally `@` and the SIP domain in any case.
pub fn route_key(input: &str, plan: &NumberPlan) -> String {
    let input = input.trim();
    let (pattern, scope) = match input.rsplit_once('@') {
        Some((p, scope)) if !p.is_empty() => (p, Some(scope)),
        _ => (input, None),
    };
    let key = match Pattern::parse(pattern, plan) {
        Ok(p) => p.key(),
        Err(RouteErrorKind::NotCanonical { canonical, .. }) => canonical,
        Err(_) => pattern.trim().to_string(),
    };
    match call_scope(scope) {
        Some(scope) => scoped_key(&key, &scope),
        None => key,
    }
}

/// The store key of a route with pattern key `key` scoped to `scope`.
pub fn scoped_key(key: &str, scope: &str) -> String {
    format!("{key}@{scope}")
}

/// The scope of a call: its `SipDomain`, lowercase (routes' scopes are kept lowercase).
pub fn call_scope(sip_domain: Option<&str>) -> Option<String> {
    sip_domain
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// Caller conditions: an array of flat actions, each with a `from` E.164 prefix (`+` and 1 to 15
/// digits), prefixes unique.
fn caller_rules(
    text: &str,
    pattern: &str,
    plan: &NumberPlan,
) -> Result<Vec<CallerRule>, RouteErrorKind> {
    let items: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(text)
        .map_err(|e| invalid("callers", format!("not an array of action objects: {e}")))?;
    if items.len() > MAX_CALLER_RULES {
        return Err(invalid(
            "callers",
            format!("at most {MAX_CALLER_RULES} caller conditions"),
        ));
    }
    let mut rules: Vec<CallerRule> = Vec::with_capacity(items.len());
    for (i, mut item) in items.into_iter().enumerate() {
        let at = |why: String| invalid("callers", format!("condition {}: {why}", i + 1));
        let prefix = match item.remove("from") {
            Some(serde_json::Value::String(p)) => p.trim().to_string(),
            _ => return Err(at("needs `from`, an E.164 prefix such as +1317".into())),
        };
        let digits = prefix.strip_prefix('+').unwrap_or("");
        let ok = (1..=E164_MAX_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !ok {
            return Err(at(format!(
                "`from` `{prefix}` is not an E.164 prefix such as +1317"
            )));
        }
        if rules.iter().any(|r| r.prefix == prefix) {
            return Err(at(format!("`from` `{prefix}` appears twice")));
        }
        let action = branch_action("callers", "callers", &item, pattern, plan)
            .map_err(|e| at(e.to_string()))?;
        rules.push(CallerRule { prefix, action });
    }
    Ok(rules)
}

/// A failover chain from a `dial` record with `targets`: `byoc` and `timeout` at the top are
/// defaults for the targets; `number` may not be set as well.
fn chain_from(record: RouteRecord, plan: &NumberPlan) -> Result<Chain, RouteErrorKind> {
    if record.number.is_some() {
        return Err(invalid(
            "number",
            "a dial route has either `number` or `targets`, not both",
        ));
    }
    let text = record.targets.ok_or(RouteErrorKind::MissingField {
        action: "dial",
        field: "targets",
    })?;
    let specs: Vec<TargetSpec> =
        serde_json::from_str(&text).map_err(|e| invalid("targets", e.to_string()))?;
    if specs.is_empty() || specs.len() > chain::MAX_TARGETS {
        return Err(invalid(
            "targets",
            format!("1 to {} targets", chain::MAX_TARGETS),
        ));
    }
    let default_byoc = record
        .byoc
        .as_deref()
        .map(|s| Sid::parse(SidKind::ByocTrunk, s))
        .transpose()
        .map_err(|e| invalid("byoc", e.to_string()))?;
    let default_timeout = record.timeout.map(check_timeout).transpose()?;
    let mut targets = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let at = |e: RouteErrorKind| invalid("targets", format!("target {}: {e}", i + 1));
        let endpoint =
            match (spec.number, spec.sip, spec.client) {
                (Some(number), None, None) => chain::Endpoint::Number {
                    number: check_e164("number", &number).map_err(at)?,
                    byoc: match spec.byoc {
                        Some(b) => Some(
                            Sid::parse(SidKind::ByocTrunk, &b)
                                .map_err(|e| at(invalid("byoc", e.to_string())))?,
                        ),
                        None => default_byoc.clone(),
                    },
                },
                (None, Some(uri), None) if spec.byoc.is_none() => chain::Endpoint::Sip {
                    uri: check_sip_uri("sip", &uri).map_err(at)?,
                },
                (None, None, Some(identity)) if spec.byoc.is_none() => chain::Endpoint::Client {
                    identity: check_identity(&identity).map_err(at)?,
                },
                _ => return Err(at(invalid(
                    "target",
                    "write exactly one of `number`, `sip`, `client` (`byoc` goes with `number`)",
                ))),
            };
        let timeout = match spec.timeout {
            Some(t) => Some(check_timeout(t).map_err(at)?),
            None => default_timeout,
        };
        targets.push(chain::Target { endpoint, timeout });
    }
    let caller_id = record
        .caller_id
        .as_deref()
        .map(check_sip_caller_id)
        .transpose()?;
    let final_action = match record.final_action {
        None => None,
        Some(text) => {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
                .map_err(|e| invalid("final", format!("not an action object: {e}")))?;
            Some(Box::new(branch_action(
                "final",
                "final",
                &map,
                &record.pattern,
                plan,
            )?))
        }
    };
    let chain = Chain {
        targets,
        caller_id,
        final_action,
    };
    // The state travels in the `<Dial action>` URL that Twilio requests after each target;
    // a request API Gateway refuses would end the call at the first failover.
    let len = chain.encode().len();
    if len > chain::STATE_MAX_LEN {
        return Err(invalid(
            "targets",
            format!(
                "the failover chain is too big to carry in the `<Dial action>` URL: its state is {len} characters, over {} (API Gateway refuses a request line and headers over {} bytes); use shorter SIP URIs or a shorter `final` (a redirect to a URL instead of a twiml fragment)",
                chain::STATE_MAX_LEN,
                chain::REQUEST_HEAD_MAX
            ),
        ));
    }
    Ok(chain)
}

/// A chain read back from the state of a `/inbound/next` request, validated like a route.
pub fn chain_from_state(state: chain::State, plan: &NumberPlan) -> Result<Chain, String> {
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

/// The action URL a failover chain's `<Dial>` gets when the handler's own URL is not known.
pub const DEFAULT_NEXT_URL: &str = "/inbound/next";

/// A schedule and its branch actions. Each branch is a flat action object, validated as a route
/// of the same pattern would be; it may not carry its own schedule or description.
fn scheduled(text: &str, pattern: &str, plan: &NumberPlan) -> Result<Scheduled, RouteErrorKind> {
    let schedule = Schedule::parse(text).map_err(|e| invalid("schedule", e.to_string()))?;
    let branch = |name: &'static str, map: &serde_json::Map<String, serde_json::Value>| {
        branch_action("schedule", name, map, pattern, plan)
    };
    let closed = branch("closed", &schedule.spec().closed)?;
    let holiday = match &schedule.spec().holiday {
        Some(map) => Some(branch("holiday", map)?),
        None => None,
    };
    Ok(Scheduled {
        schedule,
        closed,
        holiday,
    })
}

fn invalid(field: &'static str, reason: impl Into<String>) -> RouteErrorKind {
    RouteErrorKind::InvalidField {
        field,
        reason: reason.into(),
    }
}

fn has_bad_chars(s: &str) -> bool {
    // Printable ASCII (nearly every value) is checked per byte, without decoding characters.
    !s.bytes().all(|b| (0x21..0x7f).contains(&b))
        && s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An absolute http(s) URL, kept exactly as written (Twilio fetches it as written).
pub fn check_url(field: &'static str, url: &str) -> Result<String, RouteErrorKind> {
    let url = url.trim();
    check_url_text(field, url)?;
    Ok(url.to_string())
}

/// The checks of [`check_url`] on a trimmed URL.
fn check_url_text(field: &'static str, url: &str) -> Result<(), RouteErrorKind> {
    if url.len() > URL_MAX_LEN {
        return Err(invalid(
            field,
            format!("longer than {URL_MAX_LEN} characters"),
        ));
    }
    // A plain URL is printable ASCII throughout: no need to look for white space in it.
    if is_plain_http_url(url) {
        return Ok(());
    }
    if has_bad_chars(url) {
        return Err(invalid(field, "contains white space or control characters"));
    }
    check_url_fully(field, url)
}

/// [`check_url`] of an owned URL: kept as is when it needs no trimming (no copy per route of a
/// route file).
pub fn check_url_owned(field: &'static str, url: String) -> Result<String, RouteErrorKind> {
    if url.len() == url.trim().len() {
        check_url_text(field, &url)?;
        Ok(url)
    } else {
        check_url(field, &url)
    }
}

/// The WHATWG parser's verdict: an absolute http(s) URL with a host.
fn check_url_fully(field: &'static str, url: &str) -> Result<(), RouteErrorKind> {
    let parsed = url::Url::parse(url).map_err(|e| invalid(field, format!("`{url}`: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(
            field,
            format!("`{url}` is not an absolute http(s) URL"),
        ));
    }
    Ok(())
}

/// A shape the WHATWG parser always accepts as an absolute http(s) URL with a host, checked
/// without it (the parser is most of the cost of loading a route file at a cold start): a
/// lower-case scheme; a lower-case ASCII DNS name with no `xn--` label (those get IDNA checks)
/// whose last label starts with a letter (so it is never read as an IPv4 address); an optional
/// port; then printable ASCII, which the parser never refuses in a path, query or fragment.
/// Anything else goes to the parser; a property test checks this never accepts what it refuses.
fn is_plain_http_url(url: &str) -> bool {
    // On bytes throughout: no character decoding (this runs for every route of a file).
    let url = url.as_bytes();
    let Some(rest) = url
        .strip_prefix(b"https://")
        .or_else(|| url.strip_prefix(b"http://"))
    else {
        return false;
    };
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.iter().position(|&b| b == b':') {
        Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && p.iter().all(u8::is_ascii_digit)
            && p.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 65535
    });
    let label_ok = |label: &[u8]| {
        (1..=63).contains(&label.len())
            && label
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
            && !label.starts_with(b"xn--")
    };
    port_ok
        && (1..=253).contains(&host.len())
        && host.split(|&b| b == b'.').all(label_ok)
        && host
            .rsplit(|&b| b == b'.')
            .next()
            .and_then(|last| last.first())
            .is_some_and(u8::is_ascii_lowercase)
        && tail.iter().all(|b| (0x21..0x7f).contains(b))
}

/// A `+1` number has exactly 10 digits after the country code (NANP): `+1317555801` can
/// never be called, and outbound refuses it, so a route may not name it either.
fn check_nanp_length(number: &str) -> Result<(), String> {
    match number.strip_prefix("+1") {
        Some(national) if national.len() != 10 => Err(format!(
            "`{number}` is not a NANP number: +1 is followed by 10 digits (a prefix pattern ends with `*`)"
        )),
        _ => Ok(()),
    }
}

pub fn check_e164(field: &'static str, number: &str) -> Result<String, RouteErrorKind> {
    match crate::number::normalize(number) {
        Ok(Address::E164(n)) if n == number.trim() => {
            check_nanp_length(&n).map_err(|reason| invalid(field, reason))?;
            Ok(n)
        }
        Ok(Address::E164(n)) => Err(invalid(field, format!("write `{number}` as `{n}`"))),
        _ => Err(invalid(
            field,
            format!("`{number}` is not an E.164 number such as +13175551234"),
        )),
    }
}

fn check_timeout(t: u32) -> Result<u32, RouteErrorKind> {
    if (5..=600).contains(&t) {
        Ok(t)
    } else {
        Err(invalid(
            "timeout",
            format!("{t} is outside 5 to 600 seconds"),
        ))
    }
}

fn check_sip_uri(field: &'static str, uri: &str) -> Result<String, RouteErrorKind> {
    let uri = uri.trim();
    let lower = uri.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("sip:")
        .or_else(|| lower.strip_prefix("sips:"));
    match rest {
        _ if uri.len() > URL_MAX_LEN => Err(invalid(
            field,
            format!("longer than {URL_MAX_LEN} characters"),
        )),
        _ if has_bad_chars(uri) => {
            Err(invalid(field, "contains white space or control characters"))
        }
        Some(rest) if !rest.is_empty() && !rest.starts_with('@') && !rest.ends_with('@') => {
            Ok(uri.to_string())
        }
        _ => Err(invalid(
            field,
            format!("`{uri}` is not a SIP URI such as sip:alice@pbx.example.com"),
        )),
    }
}

fn check_sip_caller_id(c: &str) -> Result<String, RouteErrorKind> {
    let c = c.trim();
    let ok = (1..=64).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'_' | b'.'));
    if ok {
        Ok(c.to_string())
    } else {
        Err(invalid(
            "caller_id",
            format!("`{c}` is not a caller ID (E.164 or up to 64 letters, digits, + - _ .)"),
        ))
    }
}

fn check_say_text(text: &str) -> Result<String, RouteErrorKind> {
    let text = text.trim();
    if text.chars().count() > SAY_MAX_CHARS {
        return Err(invalid(
            "text",
            format!("longer than {SAY_MAX_CHARS} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid("text", "contains control characters"));
    }
    Ok(text.to_string())
}

fn check_token(field: &'static str, v: &str) -> Result<String, RouteErrorKind> {
    let v = v.trim();
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(invalid(
            field,
            format!("`{v}` is not a voice name such as Polly.Joanna"),
        ))
    }
}

fn check_language(v: &str) -> Result<String, RouteErrorKind> {
    let v = v.trim();
    let mut parts = v.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if first_ok && rest_ok {
        Ok(v.to_string())
    } else {
        Err(invalid(
            "language",
            format!("`{v}` is not a language tag such as en-US"),
        ))
    }
}

fn check_description(d: &str) -> Result<String, RouteErrorKind> {
    if d.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(invalid(
            "description",
            format!("longer than {DESCRIPTION_MAX_CHARS} characters"),
        ));
    }
    if d.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid("description", "contains control characters"));
    }
    Ok(d.to_string())
}

/// Longest TwiML fragment, task attributes or parameter string kept with a route.
pub const BLOB_MAX_CHARS: usize = 4096;

fn check_identity(v: &str) -> Result<String, RouteErrorKind> {
    let v = v.trim();
    // Voice SDK identities: Twilio recommends alphanumerics and underscores; `.` `-` `@` `+`
    // appear in practice (e-mail style). Nothing that needs escaping in a SIP URI.
    let ok = (1..=256).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b'+'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(invalid(
            "identity",
            format!("`{v}` is not a client identity (1 to 256 letters, digits, _ - . @ +)"),
        ))
    }
}

fn check_parameters(v: &str) -> Result<Vec<(String, String)>, RouteErrorKind> {
    let v = v.trim();
    if v.chars().count() > BLOB_MAX_CHARS {
        return Err(invalid(
            "parameters",
            format!("longer than {BLOB_MAX_CHARS} characters"),
        ));
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(v.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.len() > 32 {
        return Err(invalid("parameters", "more than 32 parameters"));
    }
    for (name, value) in &pairs {
        if name.is_empty() || name.len() > 128 || has_bad_chars(name) {
            return Err(invalid(
                "parameters",
                format!("`{name}` is not a parameter name (1 to 128 characters, no white space)"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid(
                "parameters",
                format!("the value of `{name}` contains control characters"),
            ));
        }
    }
    Ok(pairs)
}

fn check_task_attributes(v: &str) -> Result<String, RouteErrorKind> {
    let v = v.trim();
    if v.chars().count() > BLOB_MAX_CHARS {
        return Err(invalid(
            "task_attributes",
            format!("longer than {BLOB_MAX_CHARS} characters"),
        ));
    }
    match serde_json::from_str::<serde_json::Value>(v) {
        // Kept in compact form with sorted keys, so every store writes the same text.
        Ok(value @ serde_json::Value::Object(_)) => Ok(value.to_string()),
        Ok(_) => Err(invalid("task_attributes", "must be a JSON object")),
        Err(e) => Err(invalid("task_attributes", format!("not valid JSON: {e}"))),
    }
}

fn check_conference(v: &str) -> Result<String, RouteErrorKind> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 128 || v.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            format!("`{v}` is not a conference name (1 to 128 characters, no control characters)"),
        ));
    }
    Ok(v.to_string())
}

fn check_twiml(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.chars().count() > BLOB_MAX_CHARS {
        return Err(format!("longer than {BLOB_MAX_CHARS} characters"));
    }
    twiml::check_fragment(v)?;
    Ok(v.to_string())
}

/// Why a route matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// The E.164 number itself.
    Exact,
    /// The literal address itself.
    Literal,
    /// A prefix pattern with this many digits.
    Prefix { digits: usize },
    /// The catch-all `*`.
    CatchAll,
}

impl MatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Literal => "literal",
            MatchKind::Prefix { .. } => "prefix",
            MatchKind::CatchAll => "catch_all",
        }
    }
}

/// A route found for an address, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub route: Arc<Route>,
    pub kind: MatchKind,
}

impl Match {
    /// A sentence for operators: which route matched and why.
    pub fn explain(&self, address: &Address) -> String {
        let pattern = self.route.pattern.key();
        match self.kind {
            MatchKind::Exact => format!("exact match on {pattern}"),
            MatchKind::Literal => format!("exact match on the literal address {pattern}"),
            MatchKind::Prefix { digits } => format!(
                "longest matching prefix {pattern} ({digits} digit{}) for {address}; no exact route",
                if digits == 1 { "" } else { "s" }
            ),
            MatchKind::CatchAll => {
                format!("catch-all * (no exact or prefix route for {address})")
            }
        }
    }
}

/// The keys to look up for `address`, in precedence order, with what a hit on each means.
///
/// `+13175551234` gives `+13175551234`, `+13175551234*`, `+1317555123*`, … `+1*`, `*`: at most
/// 17 keys.
pub fn candidate_keys(address: &Address) -> Vec<(String, MatchKind)> {
    let mut keys = Vec::with_capacity(18);
    match address {
        Address::E164(number) => {
            keys.push((number.clone(), MatchKind::Exact));
            let digits = &number[1..];
            for len in (1..=digits.len()).rev() {
                keys.push((
                    format!("+{}*", &digits[..len]),
                    MatchKind::Prefix { digits: len },
                ));
            }
        }
        // A literal ending in `*` would collide with pattern syntax; it can only reach `*`.
        Address::Literal(l) if !l.ends_with('*') => keys.push((l.clone(), MatchKind::Literal)),
        Address::Literal(_) => {}
    }
    keys.push(("*".to_string(), MatchKind::CatchAll));
    keys
}

/// An in-memory set of routes, keyed by pattern.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// foldhash rather than SipHash: the keys are the operator's patterns, not attacker input,
    /// and a route file is hashed key by key at every cold start (the hasher is still seeded
    /// per process).
    routes: HashMap<String, Arc<Route>, foldhash::fast::RandomState>,
    /// Bit `n` set: at least one prefix pattern has `n` digits (maintained on insert; removals
    /// leave it set, which only costs a lookup that misses).
    prefix_lengths: u32,
}

impl RouteTable {
    /// Builds a table; a duplicate pattern is an error.
    pub fn new(routes: impl IntoIterator<Item = Route>) -> Result<Self, RouteError> {
        let mut table = Self::default();
        for route in routes {
            let key = route.key();
            if let Err(taken) = table.try_insert_keyed(key, Arc::new(route)) {
                return Err(RouteError {
                    pattern: taken.key(),
                    kind: RouteErrorKind::Duplicate,
                });
            }
        }
        Ok(table)
    }

    /// The best route for `address` by the precedence rules (unscoped routes only).
    pub fn lookup(&self, address: &Address) -> Option<Match> {
        best_match_among(address, self.prefix_lengths, |key| {
            self.routes.get(key).cloned()
        })
    }

    /// The best route for a call to `address` in `scope` (its SIP domain): for each pattern in
    /// precedence order, the route scoped to `scope` first, then the unscoped one.
    pub fn lookup_in(&self, address: &Address, scope: Option<&str>) -> Option<Match> {
        match scope {
            None => self.lookup(address),
            Some(scope) => best_match_among(address, self.prefix_lengths, |key| {
                self.routes
                    .get(&scoped_key(key, scope))
                    .or_else(|| self.routes.get(key))
                    .cloned()
            }),
        }
    }

    fn note_prefix(&mut self, pattern: &Pattern) {
        self.prefix_lengths |= prefix_bit(pattern);
    }

    pub fn get(&self, pattern: &str) -> Option<&Arc<Route>> {
        self.routes.get(pattern)
    }

    /// Adds or replaces the route for its pattern; returns the one replaced.
    /// Makes room for `additional` more routes (a bulk load grows the map once).
    pub fn reserve(&mut self, additional: usize) {
        self.routes.reserve(additional);
    }

    pub fn insert(&mut self, route: Route) -> Option<Arc<Route>> {
        let key = route.key();
        self.insert_keyed(key, Arc::new(route))
    }

    /// [`insert`](Self::insert) of a shared route with its key already computed (`key` must be
    /// `route.key()`): how a route file is loaded.
    pub fn insert_keyed(&mut self, key: String, route: Arc<Route>) -> Option<Arc<Route>> {
        debug_assert_eq!(key, route.key());
        self.note_prefix(&route.pattern);
        self.routes.insert(key, route)
    }

    /// [`insert_keyed`](Self::insert_keyed) unless the key is taken: then the table is
    /// unchanged and the route that holds the key is returned.
    pub fn try_insert_keyed(&mut self, key: String, route: Arc<Route>) -> Result<(), Arc<Route>> {
        debug_assert_eq!(key, route.key());
        match self.routes.entry(key) {
            Entry::Occupied(taken) => Err(Arc::clone(taken.get())),
            Entry::Vacant(free) => {
                self.prefix_lengths |= prefix_bit(&route.pattern);
                free.insert(route);
                Ok(())
            }
        }
    }

    /// Each route with its key, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Arc<Route>)> {
        self.routes.iter().map(|(key, route)| (key.as_str(), route))
    }

    /// Removes the route stored under `pattern` (its key, e.g. `+1317*`).
    pub fn remove(&mut self, pattern: &str) -> Option<Arc<Route>> {
        self.routes.remove(pattern)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Routes sorted by pattern, for listing and export.
    pub fn sorted(&self) -> Vec<Arc<Route>> {
        let mut out: Vec<_> = self.routes.values().cloned().collect();
        out.sort_by_cached_key(|r| r.key());
        out
    }
}

/// The bit of [`RouteTable::prefix_lengths`] for a prefix pattern (none for others).
fn prefix_bit(pattern: &Pattern) -> u32 {
    match pattern {
        Pattern::Prefix(p) => 1 << (p.len() - 1),
        _ => 0,
    }
}

/// The precedence rule, over any key → route lookup. Equivalent to trying [`candidate_keys`] in
/// order, but builds the keys in one reused buffer and stops at the first hit (this runs on every
/// call; see docs/performance.md).
pub fn best_match(address: &Address, get: impl Fn(&str) -> Option<Arc<Route>>) -> Option<Match> {
    best_match_among(address, u32::MAX, get)
}

/// [`best_match`] for a call in `scope`: per pattern, the scoped route first.
pub fn best_match_in(
    address: &Address,
    scope: Option<&str>,
    get: impl Fn(&str) -> Option<Arc<Route>>,
) -> Option<Match> {
    match scope {
        None => best_match_among(address, u32::MAX, get),
        Some(scope) => best_match_among(address, u32::MAX, |key| {
            get(&scoped_key(key, scope)).or_else(|| get(key))
        }),
    }
}

/// [`candidate_keys`] for a call in `scope`: each scoped key just before its unscoped one.
pub fn candidate_keys_in(address: &Address, scope: Option<&str>) -> Vec<(String, MatchKind)> {
    let keys = candidate_keys(address);
    match scope {
        None => keys,
        Some(scope) => keys
            .into_iter()
            .flat_map(|(key, kind)| [(scoped_key(&key, scope), kind), (key, kind)])
            .collect(),
    }
}

/// [`best_match`], trying only prefix lengths whose bit is set in `prefix_lengths` (bit `n` =
/// some prefix pattern has `n` digits): a table skips lengths it has no pattern of.
fn best_match_among(
    address: &Address,
    prefix_lengths: u32,
    get: impl Fn(&str) -> Option<Arc<Route>>,
) -> Option<Match> {
    let hit = |route, kind| Some(Match { route, kind });
    match address {
        Address::E164(number) => {
            if let Some(route) = get(number) {
                return hit(route, MatchKind::Exact);
            }
            let mut key = String::with_capacity(number.len() + 1);
            key.push_str(number);
            for digits in (1..number.len()).rev() {
                if prefix_lengths & (1 << digits) == 0 {
                    continue;
                }
                key.truncate(digits + 1);
                key.push('*');
                if let Some(route) = get(&key) {
                    return hit(route, MatchKind::Prefix { digits });
                }
                key.pop();
            }
        }
        Address::Literal(l) if !l.ends_with('*') => {
            if let Some(route) = get(l) {
                return hit(route, MatchKind::Literal);
            }
        }
        Address::Literal(_) => {}
    }
    get("*").and_then(|route| hit(route, MatchKind::CatchAll))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NumberPlan {
        NumberPlan::default()
    }

    fn record(json: &str) -> RouteRecord {
        serde_json::from_str(json).unwrap()
    }

    fn route(json: &str) -> Route {
        Route::from_record(record(json), &plan()).unwrap()
    }

    fn error(json: &str) -> String {
        Route::from_record(record(json), &plan())
            .unwrap_err()
            .to_string()
    }

    fn table(patterns: &[&str]) -> RouteTable {
        RouteTable::new(patterns.iter().map(|p| {
            route(&format!(
                r#"{{"pattern":"{p}","url":"https://example.com/{}"}}"#,
                p.replace('*', "star")
            ))
        }))
        .unwrap()
    }

    fn matched(t: &RouteTable, number: &str) -> Option<(String, MatchKind)> {
        let address = plan().normalize(number).unwrap();
        t.lookup(&address).map(|m| (m.route.pattern.key(), m.kind))
    }

    #[test]
    fn patterns_parse() {
        let p = plan();
        assert_eq!(Pattern::parse("*", &p), Ok(Pattern::CatchAll));
        assert_eq!(
            Pattern::parse("+1317555*", &p),
            Ok(Pattern::Prefix("+1317555".into()))
        );
        assert_eq!(
            Pattern::parse("+13175551234", &p),
            Ok(Pattern::Exact("+13175551234".into()))
        );
        assert_eq!(
            Pattern::parse("4321", &p),
            Ok(Pattern::Literal("4321".into()))
        );
        assert_eq!(
            Pattern::parse("support", &p),
            Ok(Pattern::Literal("support".into()))
        );
        assert_eq!(
            Pattern::parse("3175551234", &p),
            Err(RouteErrorKind::NotCanonical {
                given: "3175551234".into(),
                canonical: "+13175551234".into()
            })
        );
        for bad in [
            "+*",
            "1317*",
            "+13a*",
            "+0*",
            "sales*",
            "+1234567890123456*",
            "**",
        ] {
            assert!(
                matches!(Pattern::parse(bad, &p), Err(RouteErrorKind::BadPrefix(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Pattern::parse("+12", &p),
            Err(RouteErrorKind::BadPattern(_))
        ));
        assert_eq!(Pattern::parse(" ", &p), Err(RouteErrorKind::EmptyPattern));
        // A +1 number of the wrong length can never be called.
        for bad in ["+1317555801", "+131755580123"] {
            let e = Pattern::parse(bad, &p).unwrap_err().to_string();
            assert!(e.contains("not a NANP number"), "{bad}: {e}");
        }
        assert!(Pattern::parse("+1317555801*", &p).is_ok());
        assert!(check_e164("number", "+1317555801").is_err());
        // Extensions that begin with 00 are literals; spreadsheet scientific notation is refused.
        assert_eq!(
            Pattern::parse("0001", &p),
            Ok(Pattern::Literal("0001".into()))
        );
        let e = Pattern::parse("1.31756E+10", &p).unwrap_err().to_string();
        assert!(e.contains("scientific notation"), "{e}");
        let e = Pattern::parse("13175550804.0", &p).unwrap_err().to_string();
        assert!(e.contains("decimal part"), "{e}");
        // The key a person types: national forms, scopes in any case.
        assert_eq!(route_key("3175551234", &p), "+13175551234");
        assert_eq!(
            route_key("+1317*@Example.SIP.Twilio.com", &p),
            "+1317*@example.sip.twilio.com"
        );
        assert_eq!(route_key(" * ", &p), "*");
    }

    #[test]
    fn precedence_is_exact_then_longest_prefix_then_catch_all() {
        let t = table(&["*", "+1*", "+1317*", "+1317555*", "+13175551234", "support"]);
        assert_eq!(
            matched(&t, "sip:+13175551234@h"),
            Some(("+13175551234".into(), MatchKind::Exact))
        );
        assert_eq!(
            matched(&t, "+13175559999"),
            Some(("+1317555*".into(), MatchKind::Prefix { digits: 7 }))
        );
        assert_eq!(
            matched(&t, "+13179999999"),
            Some(("+1317*".into(), MatchKind::Prefix { digits: 4 }))
        );
        assert_eq!(
            matched(&t, "+12125551234"),
            Some(("+1*".into(), MatchKind::Prefix { digits: 1 }))
        );
        assert_eq!(
            matched(&t, "+442071234567"),
            Some(("*".into(), MatchKind::CatchAll))
        );
        assert_eq!(
            matched(&t, "sip:support@pbx"),
            Some(("support".into(), MatchKind::Literal))
        );
        assert_eq!(
            matched(&t, "sales"),
            Some(("*".into(), MatchKind::CatchAll))
        );
        // A literal `*` address is not the catch-all route by accident of key syntax.
        assert_eq!(matched(&t, "*"), Some(("*".into(), MatchKind::CatchAll)));
        let no_default = table(&["+1317*"]);
        assert_eq!(matched(&no_default, "+12125551234"), None);
        assert_eq!(matched(&no_default, "support"), None);
    }

    #[test]
    fn a_prefix_covers_the_number_equal_to_it() {
        let t = table(&["+13175551234*"]);
        assert_eq!(
            matched(&t, "+13175551234"),
            Some(("+13175551234*".into(), MatchKind::Prefix { digits: 11 }))
        );
    }

    #[test]
    fn best_match_agrees_with_the_candidate_key_order() {
        let t = table(&[
            "*",
            "+1*",
            "+1317*",
            "+1317555*",
            "+13175551234*",
            "+13175551234",
            "support",
        ]);
        for input in [
            "+13175551234",
            "+13175551235",
            "+13175559999",
            "+13179999999",
            "+12125551234",
            "+442071234567",
            "support",
            "sales",
            "*",
        ] {
            let a = plan().normalize(input).unwrap();
            let by_keys = candidate_keys(&a)
                .into_iter()
                .find_map(|(k, kind)| t.get(&k).map(|r| (r.pattern.key(), kind)));
            let fast = t.lookup(&a).map(|m| (m.route.pattern.key(), m.kind));
            assert_eq!(fast, by_keys, "{input}");
        }
    }

    #[test]
    fn candidate_keys_are_bounded() {
        let address = plan().normalize("+123456789012345").unwrap();
        let keys = candidate_keys(&address);
        assert_eq!(keys.len(), 17);
        assert_eq!(keys[0].0, "+123456789012345");
        assert_eq!(keys[1].0, "+123456789012345*");
        assert_eq!(keys[15].0, "+1*");
        assert_eq!(keys[16].0, "*");
    }

    #[test]
    fn explanations_name_the_rule() {
        let t = table(&["*", "+1317555*", "+13175551234"]);
        let a = plan().normalize("+13175559999").unwrap();
        let m = t.lookup(&a).unwrap();
        assert_eq!(
            m.explain(&a),
            "longest matching prefix +1317555* (7 digits) for +13175559999; no exact route"
        );
        let a = plan().normalize("+13175551234").unwrap();
        assert_eq!(
            t.lookup(&a).unwrap().explain(&a),
            "exact match on +13175551234"
        );
    }

    #[test]
    fn every_action_validates_and_round_trips() {
        let cases = [
            r#"{"pattern":"+13175551234","url":"https://webhooks.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/Flows/FW0123456789abcdef0123456789abcdef?a=1&b=2","description":"Main line"}"#,
            r#"{"pattern":"+1317*","action":"redirect","url":"http://x.example/y","method":"get"}"#,
            r#"{"pattern":"4321","action":"dial","number":"+13175550000","byoc":"BY0123456789ABCDEF0123456789abcdef","caller_id":"+13175551111","timeout":"20"}"#,
            r#"{"pattern":"sales","action":"sip","uri":"sip:sales@pbx.example.com;transport=tls","caller_id":"anonymous","timeout":30}"#,
            r#"{"pattern":"+44*","action":"say","text":"We are closed & gone","voice":"Polly.Amy","language":"en-GB"}"#,
            r#"{"pattern":"+1900*","action":"reject","reason":"busy"}"#,
            r#"{"pattern":"+1976*","action":"reject"}"#,
            r#"{"pattern":"*","action":"hangup"}"#,
        ];
        for json in cases {
            let r = route(json);
            let again = Route::from_record(r.to_record(), &plan()).unwrap();
            assert_eq!(r, again, "{json}");
            let json_again = serde_json::to_string(&r.to_record()).unwrap();
            let reparsed = Route::from_record(record(&json_again), &plan()).unwrap();
            assert_eq!(r, reparsed);
        }
        let r = route(cases[2]);
        assert_eq!(
            r.action,
            Action::Dial {
                number: "+13175550000".into(),
                byoc: Some(
                    Sid::parse(SidKind::ByocTrunk, "BY0123456789abcdef0123456789abcdef").unwrap()
                ),
                caller_id: Some("+13175551111".into()),
                timeout: Some(20),
            }
        );
        assert_eq!(
            route(cases[6]).action,
            Action::Reject {
                reason: RejectReason::Rejected
            }
        );
        assert_eq!(
            route(cases[1]).action,
            Action::Redirect {
                url: "http://x.example/y".into(),
                method: Method::Get
            }
        );
        // Action names are read case-insensitively; URLs are kept trimmed.
        assert_eq!(
            route(r#"{"pattern":"*","action":" Redirect ","url":"  https://x.example/y "}"#).action,
            Action::Redirect {
                url: "https://x.example/y".into(),
                method: Method::Post
            }
        );
        assert_eq!(
            route(r#"{"pattern":"*","action":"HANGUP"}"#).action,
            Action::Hangup
        );
    }

    #[test]
    fn invalid_routes_are_refused_with_clear_messages() {
        let cases = [
            (
                r#"{"pattern":"+1317*"}"#,
                "route `+1317*`: action `redirect` needs `url`",
            ),
            (
                r#"{"pattern":"*","url":"ftp://x/y"}"#,
                "is not an absolute http(s) URL",
            ),
            (r#"{"pattern":"*","url":"/relative"}"#, "`url`: `/relative`"),
            (r#"{"pattern":"*","url":"https://x/a b"}"#, "white space"),
            (
                r#"{"pattern":"*","url":"https://x/","method":"PUT"}"#,
                "`PUT` is not GET or POST",
            ),
            (r#"{"pattern":"*","action":"fax"}"#, "unknown action `fax`"),
            (
                r#"{"pattern":"*","action":" FAX "}"#,
                "unknown action `fax`",
            ),
            (
                r#"{"pattern":"+1317*","action":"dial","targets":"[]"}"#,
                "route `+1317*`: ",
            ),
            (
                r#"{"pattern":"+1317*","url":" https://x.example/ ","method":"PUT"}"#,
                "route `+1317*`: ",
            ),
            (
                r#"{"pattern":"*","action":"dial"}"#,
                "action `dial` needs `number`",
            ),
            (
                r#"{"pattern":"*","action":"dial","number":"3175551234"}"#,
                "write `3175551234` as `+13175551234`",
            ),
            (
                r#"{"pattern":"*","action":"dial","number":"support"}"#,
                "is not an E.164 number",
            ),
            (
                r#"{"pattern":"*","action":"dial","number":"+13175551234","byoc":"BY123"}"#,
                "`byoc`: `BY123` is not a BYOC trunk SID",
            ),
            (
                r#"{"pattern":"*","action":"dial","number":"+13175551234","timeout":1}"#,
                "1 is outside 5 to 600",
            ),
            (
                r#"{"pattern":"*","action":"dial","number":"+13175551234","url":"https://x/"}"#,
                "`url` does not apply to action `dial`",
            ),
            (
                r#"{"pattern":"*","action":"sip","uri":"http://x"}"#,
                "is not a SIP URI",
            ),
            (
                r#"{"pattern":"*","action":"sip","uri":"sip:"}"#,
                "is not a SIP URI",
            ),
            (
                r#"{"pattern":"*","action":"say","text":""}"#,
                "action `say` needs `text`",
            ),
            (
                r#"{"pattern":"*","action":"say","text":"hi","language":"english!"}"#,
                "not a language tag",
            ),
            (
                r#"{"pattern":"*","action":"say","text":"hi","voice":"a b"}"#,
                "not a voice name",
            ),
            (
                r#"{"pattern":"*","action":"reject","reason":"later"}"#,
                "`later` is not busy or rejected",
            ),
            (
                r#"{"pattern":"*","action":"hangup","text":"x"}"#,
                "`text` does not apply to action `hangup`",
            ),
            (
                r#"{"pattern":"3175551234","url":"https://x/"}"#,
                "write the pattern `3175551234` as `+13175551234`",
            ),
        ];
        for (json, expected) in cases {
            let message = error(json);
            assert!(message.contains(expected), "{json}: got {message:?}");
        }
        assert!(serde_json::from_str::<RouteRecord>(r#"{"pattern":"*","urll":"x"}"#).is_err());
    }

    #[test]
    fn route_files_report_every_bad_route_and_duplicates() {
        let json = r#"{"routes":[
            {"pattern":"*","url":"https://example.com/default"},
            {"pattern":"+1317*","url":"nope"},
            {"pattern":"*","action":"hangup"},
            {"pattern":"bad*","url":"https://example.com/"}
        ]}"#;
        let err = parse_route_file(json, &plan()).unwrap_err();
        let RouteFileError::Invalid(errors) = &err else {
            panic!("{err}")
        };
        assert_eq!(
            errors.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!(err.to_string().contains("duplicate of routes[0]"), "{err}");
        assert!(matches!(
            parse_route_file("{", &plan()),
            Err(RouteFileError::Syntax(_))
        ));
        assert!(matches!(
            parse_route_file(r#"{"routes":[],"extra":1}"#, &plan()),
            Err(RouteFileError::Syntax(_))
        ));
    }

    #[test]
    fn route_files_round_trip() {
        let json = r#"{"routes":[
            {"pattern":"*","url":"https://example.com/default"},
            {"pattern":"+1317*","action":"say","text":"hello"},
            {"pattern":"+13175551234","action":"dial","number":"+13175550000"}
        ]}"#;
        let t = parse_route_file(json, &plan()).unwrap();
        let out = to_route_file(&t.sorted());
        let t2 = parse_route_file(&out, &plan()).unwrap();
        assert_eq!(t.sorted(), t2.sorted());
        assert_eq!(out, to_route_file(&t2.sorted()));
    }

    #[test]
    fn actions_render_twiml() {
        let r = route(r#"{"pattern":"*","url":"https://x/y?a=1&b=2"}"#);
        assert!(r.action.to_twiml().to_xml().ends_with(
            r#"<Response><Redirect method="POST">https://x/y?a=1&amp;b=2</Redirect></Response>"#
        ));
        let r = route(
            r#"{"pattern":"*","action":"dial","number":"+13175550000","byoc":"BY0123456789abcdef0123456789abcdef","timeout":15}"#,
        );
        assert!(r.action.to_twiml().to_xml().ends_with(
            r#"<Response><Dial timeout="15"><Number byoc="BY0123456789abcdef0123456789abcdef">+13175550000</Number></Dial></Response>"#
        ));
        let r = route(r#"{"pattern":"*","action":"say","text":"closed"}"#);
        assert!(r
            .action
            .to_twiml()
            .to_xml()
            .ends_with("<Say>closed</Say><Hangup/></Response>"));
    }

    #[test]
    fn new_destinations_validate_render_and_round_trip() {
        let cases = [
            (
                r#"{"pattern":"+13175550001","action":"client","identity":"alice@example.com","caller_id":"+13175551111","timeout":15}"#,
                r#"<Dial callerId="+13175551111" timeout="15"><Client>alice@example.com</Client></Dial>"#,
            ),
            (
                r#"{"pattern":"+13175550002","action":"application","application":"AP0123456789ABCDEF0123456789abcdef","parameters":{"team":"support & sales","lang":"en"}}"#,
                r#"<Dial><Application><ApplicationSid>AP0123456789abcdef0123456789abcdef</ApplicationSid><Parameter name="lang" value="en"/><Parameter name="team" value="support &amp; sales"/></Application></Dial>"#,
            ),
            (
                r#"{"pattern":"+13175550003","action":"enqueue","workflow":"WW0123456789abcdef0123456789abcdef","task_attributes":{"type":"support","lang":"<en>"}}"#,
                r#"<Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task>{&quot;lang&quot;:&quot;&lt;en&gt;&quot;,&quot;type&quot;:&quot;support&quot;}</Task></Enqueue>"#,
            ),
            (
                r#"{"pattern":"+13175550004","action":"enqueue","workflow":"WW0123456789abcdef0123456789abcdef"}"#,
                r#"<Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"/>"#,
            ),
            (
                r#"{"pattern":"+13175550005","action":"play","url":"https://x.example.com/hold.mp3?a=1&b=2"}"#,
                r#"<Play>https://x.example.com/hold.mp3?a=1&amp;b=2</Play><Hangup/>"#,
            ),
            (
                r#"{"pattern":"+13175550006","action":"refer","uri":"sip:desk@pbx.example.com"}"#,
                r#"<Refer><Sip>sip:desk@pbx.example.com</Sip></Refer>"#,
            ),
            (
                r#"{"pattern":"+13175550007","action":"conference","name":"Room <1> & 2"}"#,
                r#"<Dial><Conference>Room &lt;1&gt; &amp; 2</Conference></Dial>"#,
            ),
            (
                r#"{"pattern":"+13175550008","action":"twiml","twiml":"<Say voice=\"alice\">Hi &amp; bye</Say><Hangup/>"}"#,
                r#"<Say voice="alice">Hi &amp; bye</Say><Hangup/>"#,
            ),
        ];
        for (json, twiml) in cases {
            let r = route(json);
            let xml = r.action.to_twiml().to_xml();
            assert!(
                xml.contains(&format!("<Response>{twiml}</Response>")),
                "{json}\n{xml}"
            );
            let again = Route::from_record(r.to_record(), &plan()).unwrap();
            assert_eq!(r, again, "{json}");
            let text = serde_json::to_string(&r.to_record()).unwrap();
            assert_eq!(Route::from_record(record(&text), &plan()).unwrap(), r);
        }
        let bad = [
            (
                r#"{"pattern":"*","action":"client"}"#,
                "`client` needs `identity`",
            ),
            (
                r#"{"pattern":"*","action":"client","identity":"a b"}"#,
                "not a client identity",
            ),
            (
                r#"{"pattern":"*","action":"client","identity":"alice","url":"https://x/"}"#,
                "`url` does not apply to action `client`",
            ),
            (
                r#"{"pattern":"*","action":"application","application":"AC0123456789abcdef0123456789abcdef"}"#,
                "not a TwiML app SID",
            ),
            (
                r#"{"pattern":"*","action":"application","application":"AP0123456789abcdef0123456789abcdef","parameters":"=1"}"#,
                "not a parameter name",
            ),
            (
                r#"{"pattern":"*","action":"enqueue","workflow":"WW123"}"#,
                "not a TaskRouter workflow SID",
            ),
            (
                r#"{"pattern":"*","action":"enqueue","workflow":"WW0123456789abcdef0123456789abcdef","task_attributes":"[1]"}"#,
                "must be a JSON object",
            ),
            (
                r#"{"pattern":"*","action":"enqueue","workflow":"WW0123456789abcdef0123456789abcdef","task_attributes":"{nope"}"#,
                "not valid JSON",
            ),
            (
                r#"{"pattern":"*","action":"play","url":"ftp://x/y"}"#,
                "not an absolute http(s) URL",
            ),
            (
                r#"{"pattern":"*","action":"refer","uri":"tel:+13175551234"}"#,
                "not a SIP URI",
            ),
            (
                r#"{"pattern":"*","action":"conference","name":"a\u0007b"}"#,
                "not a conference name",
            ),
            (
                r#"{"pattern":"*","action":"twiml","twiml":"<Response><Say>x</Say></Response>"}"#,
                "without the enclosing <Response>",
            ),
            (
                r#"{"pattern":"*","action":"twiml","twiml":"<Say>x"}"#,
                "not closed",
            ),
        ];
        for (json, why) in bad {
            let e = error(json);
            assert!(e.contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn caller_conditions_choose_by_longest_prefix_before_the_schedule() {
        let r = route(
            r#"{"pattern": "+1317*", "url": "https://x.example.com/open",
                "callers": [{"from": "+1", "action": "say", "text": "NANP"},
                            {"from": "+1900", "action": "reject", "reason": "busy"},
                            {"from": "+1317555", "url": "https://x.example.com/local"}],
                "schedule": {"timezone": "UTC", "exceptions": [{"date": "2000-01-01", "hours": ["00:00-24:00"]}],
                             "closed": {"action": "hangup"}}}"#,
        );
        let at = jiff::Timestamp::UNIX_EPOCH;
        let kind = |from: Option<&str>| {
            let from = from.and_then(|f| plan().caller_digits(f));
            let (answer, schedule) = r.answer(at, from.as_deref());
            (
                answer.action.kind(),
                answer.caller_rule.map(str::to_string),
                schedule.is_some(),
            )
        };
        assert_eq!(
            kind(Some("+19005551234")),
            ("reject", Some("+1900".into()), false)
        );
        assert_eq!(
            kind(Some("+13175551234")),
            ("redirect", Some("+1317555".into()), false)
        );
        assert_eq!(
            kind(Some("+12125551234")),
            ("say", Some("+1".into()), false)
        );
        // No condition matches (or no usable caller): the schedule decides (closed here).
        assert_eq!(kind(Some("+442071234567")), ("hangup", None, true));
        assert_eq!(kind(Some("anonymous")), ("hangup", None, true));
        assert_eq!(kind(None), ("hangup", None, true));
        assert_eq!(Route::from_record(r.to_record(), &plan()).unwrap(), r);

        for (callers, why) in [
            (r#"[{"action": "hangup"}]"#, "needs `from`"),
            (
                r#"[{"from": "1317", "action": "hangup"}]"#,
                "not an E.164 prefix",
            ),
            (
                r#"[{"from": "+0", "action": "hangup"}]"#,
                "not an E.164 prefix",
            ),
            (
                r#"[{"from": "+1", "action": "hangup"}, {"from": "+1", "action": "hangup"}]"#,
                "appears twice",
            ),
            (r#"[{"from": "+1", "action": "play"}]"#, "condition 1"),
            (
                r#"[{"from": "+1", "action": "hangup", "schedule": {}}]"#,
                "cannot set `schedule`",
            ),
            (r#"{"from": "+1"}"#, "not an array"),
        ] {
            let json = format!(r#"{{"pattern": "*", "action": "hangup", "callers": {callers}}}"#);
            let e = error(&json);
            assert!(e.contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn a_table_refuses_a_second_route_with_the_same_key() {
        let err = RouteTable::new([
            route(r#"{"pattern":"+1317*","url":"https://x/a"}"#),
            route(r#"{"pattern":"+1317*","scope":"a.sip.twilio.com","url":"https://x/b"}"#),
            route(r#"{"pattern":"+1317*","url":"https://x/c"}"#),
        ])
        .unwrap_err();
        assert_eq!(err.pattern, "+1317*");
        assert_eq!(err.kind, RouteErrorKind::Duplicate);
        // The scoped route has its own key, and the prefix bit is set once for both.
        let t = table(&["+1317*", "*"]);
        assert_eq!(matched(&t, "+13175550000").unwrap().0, "+1317*");
    }

    #[test]
    fn scoped_routes_win_per_pattern_in_their_domain_only() {
        let t = RouteTable::new([
            route(r#"{"pattern":"+13175551234","url":"https://x/exact"}"#),
            route(r#"{"pattern":"+1317*","url":"https://x/prefix"}"#),
            route(r#"{"pattern":"+1317*","scope":"A.sip.twilio.com","url":"https://x/a-prefix"}"#),
            route(r#"{"pattern":"*","scope":"a.sip.twilio.com","url":"https://x/a-all"}"#),
            route(r#"{"pattern":"*","url":"https://x/all"}"#),
        ])
        .unwrap();
        let url = |number: &str, scope: Option<&str>| {
            let a = plan().normalize(number).unwrap();
            t.lookup_in(&a, scope)
                .unwrap()
                .route
                .to_record()
                .url
                .unwrap()
        };
        let a = Some("a.sip.twilio.com");
        assert_eq!(url("+13175551234", a), "https://x/exact");
        assert_eq!(url("+13175559999", a), "https://x/a-prefix");
        assert_eq!(url("+442071234567", a), "https://x/a-all");
        assert_eq!(
            url("+13175559999", Some("b.sip.twilio.com")),
            "https://x/prefix"
        );
        assert_eq!(url("+442071234567", None), "https://x/all");
        // The keys a store fetches: each scoped key just before its unscoped one.
        let keys: Vec<String> = candidate_keys_in(&plan().normalize("+123").unwrap(), a)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys[..4],
            [
                "+123@a.sip.twilio.com",
                "+123",
                "+123*@a.sip.twilio.com",
                "+123*"
            ]
        );
        assert_eq!(keys.len(), 10);
        let r = route(r#"{"pattern":"+1317*","scope":" A.sip.twilio.com ","url":"https://x/"}"#);
        assert_eq!(r.key(), "+1317*@a.sip.twilio.com");
        assert_eq!(Route::from_record(r.to_record(), &plan()).unwrap(), r);
        for bad in ["localhost", "a..b", "-a.b", "a b.c", "a.b/c"] {
            let e = error(&format!(
                r#"{{"pattern":"*","scope":"{bad}","action":"hangup"}}"#
            ));
            assert!(e.contains("not a SIP domain name"), "{bad}: {e}");
        }
        // Same pattern in two scopes and unscoped: three routes, no duplicate.
        assert_eq!(t.len(), 5);
    }

    #[test]
    fn the_url_shortcut_takes_only_plain_urls() {
        for plain in [
            "https://example.com",
            "http://a.b.example.com:8080/x?y=1&z=<2>#f",
            "https://studio.twilio.com/v2/Flows/FW0123/Webhooks/IncomingCall",
            "https://x-1.example/path\\with%zz",
        ] {
            assert!(is_plain_http_url(plain), "{plain}");
            assert!(check_url_fully("url", plain).is_ok(), "{plain}");
        }
        for other in [
            "HTTPS://example.com",
            "https://Example.com",
            "https://xn--nxasmq6b.example/",
            "https://1.2.3.4/",
            "https://example.123/",
            "https://0x7f.example.0x1/",
            "https://example.com:65536/",
            "https://example.com:/",
            "https://user@example.com/",
            "https://-a.example/",
            "https://a..example/",
            "https://example.com./",
            "https://[::1]/",
            "https://exa\\mple.com/",
            "https://bücher.example/",
            "https://example.com/ü",
            "ftp://example.com/",
            "https:/example.com",
        ] {
            assert!(!is_plain_http_url(other), "{other}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// The shortcut never changes a verdict: whatever it accepts, the parser accepts.
        #[test]
        fn the_url_shortcut_agrees_with_the_parser(
            scheme in "(https?|HTTPS|ftp)(://|:/|:)",
            host in "(xn--)?[a-z0-9.-]{0,12}(\\.(0x)?[a-z0-9-]{0,6})?",
            port in "(:[0-9]{0,6})?",
            tail in "([/?#\\\\@][ -~]{0,12})?",
        ) {
            let url = format!("{scheme}{host}{port}{tail}");
            if is_plain_http_url(&url) {
                proptest::prop_assert!(check_url_fully("url", &url).is_ok(), "{}", url);
            }
        }
    }
}
