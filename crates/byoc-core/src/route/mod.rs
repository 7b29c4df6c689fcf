//! Routes: the model, its validation, and the matcher.
//!
//! A route is a **pattern** and an **action**:
//! - `+13175551234`: exactly that E.164 number;
//! - `support`, `4321`: exactly that literal address (extensions, SIP user names);
//! - `+1317555*`: every number starting with `+1317555` (`+` and 1 to 15 digits, then `*`);
//! - `*`: the catch-all.
//!
//! Precedence is exact/literal, then the longest matching prefix, then `*`. A number has at most
//! 15 digits, so a lookup tries at most 17 keys (34 for a call with a scope: each key scoped and
//! unscoped) whatever the number of routes: the cost is the same for 10 routes or 1,000,000,
//! and the key list fits one DynamoDB `BatchGetItem`.
//!
//! Routes are exchanged as flat records ([`RouteRecord`]): JSON objects in a route file, CSV rows,
//! DynamoDB items. A record is validated when it is loaded or written and a bad URL, SID or number
//! is refused with a message that names the pattern and the field.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`Route`] and its answer for a call (caller rules, schedule), errors, scopes and keys |
//! | `pattern.rs` | [`Pattern`]: parsing, canonical keys |
//! | `action.rs` | [`Action`]: its TwiML, its flat fields, which fields each action takes |
//! | `record.rs` | [`RouteRecord`]: the flat exchange form, its serde, the column list |
//! | `validate.rs` | record → route (every field check and its message) and back |
//! | `table.rs` | candidate keys, match precedence, [`RouteTable`] |
//! | `targets.rs` | a `dial` route's failover [`Chain`]: targets, URL state, first dial |

use crate::number::NumberPlan;
use crate::schedule::{Branch, Evaluation, Schedule};

/// Longest URL accepted in a route (Twilio's own limit for webhook URLs is 4,000 characters, but
/// nothing legitimate comes close; a short bound keeps TwiML small).
pub const URL_MAX_LEN: usize = 2048;
/// Longest text a `say` route may speak.
pub const SAY_MAX_CHARS: usize = 4096;
/// Longest description kept with a route.
pub const DESCRIPTION_MAX_CHARS: usize = 1024;

mod action;
mod pattern;
mod record;
mod split;
mod table;
mod targets;
#[cfg(test)]
mod tests;
mod validate;

pub use action::*;
pub use pattern::*;
pub use record::*;
pub use split::*;
pub use table::*;
pub use targets::*;
pub use validate::*;

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

/// A caller condition: calls it matches get `action` (or, observed, only a log line saying
/// they would have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerRule {
    pub condition: CallerCondition,
    pub action: Action,
    /// Only logged (`caller_rule: "observed: …"`), so a rule can be tried on live traffic.
    pub observe: bool,
    /// How the rule is named in logs, headers and `resolve`: `+1317`, `anonymous`,
    /// `verstat=failed`.
    pub name: String,
}

/// What a caller condition matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerCondition {
    /// `"from": "+1317"`: callers whose number starts with this E.164 prefix.
    Prefix(String),
    /// `"from": "anonymous"`: Twilio's placeholder `+266696687` and the anonymous forms
    /// ([`crate::number::is_anonymous`]), an empty or missing `From`.
    Anonymous,
    /// `"verstat": …`: Twilio's STIR/SHAKEN verification result (`StirVerstat`), when the
    /// request carries one.
    Verstat(Verstat),
}

/// A condition on Twilio's `StirVerstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verstat {
    /// `passed`: `TN-Validation-Passed-A/B/C`.
    Passed,
    /// `A`, `B`, `C`: passed with that attestation.
    Attested(u8),
    /// `failed`: `TN-Validation-Failed`, `-A/B/C`.
    Failed,
    /// `no-validation`: `No-TN-Validation`.
    NoValidation,
}

impl Verstat {
    /// The values a route may name, for errors and docs.
    pub const NAMES: [&'static str; 6] = ["passed", "A", "B", "C", "failed", "no-validation"];

    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "passed" => Some(Verstat::Passed),
            "a" => Some(Verstat::Attested(b'A')),
            "b" => Some(Verstat::Attested(b'B')),
            "c" => Some(Verstat::Attested(b'C')),
            "failed" => Some(Verstat::Failed),
            "no-validation" => Some(Verstat::NoValidation),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verstat::Passed => "passed",
            Verstat::Attested(b'A') => "A",
            Verstat::Attested(b'B') => "B",
            Verstat::Attested(_) => "C",
            Verstat::Failed => "failed",
            Verstat::NoValidation => "no-validation",
        }
    }

    /// Whether Twilio's `StirVerstat` value meets this condition (case-insensitive; a value
    /// Twilio does not define meets none).
    pub fn matches(self, value: &str) -> bool {
        // Case-insensitive without a copy: this runs on calls to routes with such conditions.
        let v = value.trim();
        let after = |prefix: &str| {
            v.get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(prefix))
                .map(|_| &v[prefix.len()..])
        };
        let level = |rest: &str| {
            let b = rest.as_bytes();
            (b.len() == 1 && matches!(b[0].to_ascii_uppercase(), b'A' | b'B' | b'C'))
                .then(|| b[0].to_ascii_uppercase())
        };
        match self {
            Verstat::Passed => after("TN-Validation-Passed-").and_then(level).is_some(),
            Verstat::Attested(want) => after("TN-Validation-Passed-").and_then(level) == Some(want),
            Verstat::Failed => {
                v.eq_ignore_ascii_case("TN-Validation-Failed")
                    || after("TN-Validation-Failed-").and_then(level).is_some()
            }
            Verstat::NoValidation => v.eq_ignore_ascii_case("No-TN-Validation"),
        }
    }
}

/// Who is calling, as caller conditions see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The international digits the caller's number begins with
    /// ([`NumberPlan::caller_digits`]); `None` for an anonymous or a named caller.
    pub digits: Option<String>,
    /// `From` is missing, empty or one of the anonymous forms.
    pub anonymous: bool,
    /// Twilio's `StirVerstat`, when the request carries one.
    pub verstat: Option<String>,
}

impl Caller {
    /// The caller of a request with this `From` and `StirVerstat`. `None`: the caller is not
    /// known (`resolve` without `--from`); a webhook passes its `From`, an empty one if it has
    /// none, which is an anonymous caller.
    pub fn new(from: Option<&str>, verstat: Option<&str>, plan: &NumberPlan) -> Self {
        let verstat = verstat
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let Some(from) = from else {
            return Caller {
                verstat,
                ..Caller::default()
            };
        };
        // Twilio's placeholder however written (`00266696687`, `sip:011266696687@…`) is the
        // anonymous caller, not a Lesotho number.
        let raw = plan.caller_digits(from);
        let placeholder = raw.as_deref() == Some(&crate::number::TWILIO_ANONYMOUS[1..]);
        let digits = raw.filter(|_| !placeholder);
        // A caller with digits is not anonymous (`caller_digits` gives none to the anonymous
        // forms): the common call reads `From` once.
        let anonymous = placeholder
            || (digits.is_none()
                && crate::number::is_anonymous(&crate::number::restore_lost_plus(from)));
        Caller {
            digits,
            anonymous,
            verstat,
        }
    }

    /// A caller known only by number (or not at all).
    pub fn from_digits(digits: Option<&str>) -> Self {
        Caller {
            digits: digits.map(str::to_string),
            ..Caller::default()
        }
    }
}

impl CallerRule {
    /// Whether the rule's condition holds for `caller`.
    pub fn matches(&self, caller: &Caller) -> bool {
        match &self.condition {
            CallerCondition::Prefix(p) => caller
                .digits
                .as_deref()
                .is_some_and(|d| d.starts_with(&p[1..])),
            CallerCondition::Anonymous => caller.anonymous,
            CallerCondition::Verstat(v) => caller.verstat.as_deref().is_some_and(|s| v.matches(s)),
        }
    }

    /// Precedence among matching rules, highest first: verification conditions (screening),
    /// then anonymous, then prefixes by length.
    fn rank(&self) -> (u8, usize) {
        match &self.condition {
            CallerCondition::Verstat(_) => (3, 0),
            CallerCondition::Anonymous => (2, 0),
            CallerCondition::Prefix(p) => (1, p.len()),
        }
    }
}

/// Most caller conditions on one route.
pub const MAX_CALLER_RULES: usize = 20;

/// How a route answered one call: the action, the schedule's verdict (scheduled routes) and
/// the caller condition that applied (if one did).
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub action: &'a Action,
    pub caller_rule: Option<&'a str>,
    /// An observed condition that would have answered instead (it outranks the one applied,
    /// or none applied).
    pub observed: Option<&'a str>,
}

impl Answer<'_> {
    /// What the call line and `X-Byoc-Caller-Rule` say: the rule applied, and the observed
    /// one that would have answered (`observed: verstat=failed`).
    pub fn caller_rule_text(&self) -> Option<String> {
        match (self.caller_rule, self.observed) {
            (None, None) => None,
            (Some(r), None) => Some(r.to_string()),
            (None, Some(o)) => Some(format!("observed: {o}")),
            (Some(r), Some(o)) => Some(format!("{r} (observed: {o})")),
        }
    }
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

    /// The matcher's precedence as a sort key, first wins: [`Pattern::precedence`], and for
    /// one pattern the scoped route before the unscoped one (a call from its domain gets it).
    pub fn precedence(&self) -> ((u8, std::cmp::Reverse<usize>, String), bool) {
        (self.pattern.precedence(), self.scope.is_none())
    }

    /// The action for a call at `at` from `caller`. Precedence: the matching caller condition
    /// of highest rank ([`CallerRule`]: verification, anonymous, the longest prefix), then the
    /// schedule, then the route's action. An observed condition never answers; when it would
    /// have, it is named in [`Answer::observed`].
    pub fn answer(&self, at: jiff::Timestamp, caller: &Caller) -> (Answer<'_>, Option<Evaluation>) {
        let mut applied: Option<&CallerRule> = None;
        let mut observed: Option<&CallerRule> = None;
        for rule in self.callers.iter().filter(|r| r.matches(caller)) {
            let slot = if rule.observe {
                &mut observed
            } else {
                &mut applied
            };
            // The first of equal rank wins: the order written.
            if slot.is_none_or(|best| rule.rank() > best.rank()) {
                *slot = Some(rule);
            }
        }
        let observed = observed
            .filter(|o| applied.is_none_or(|a| o.rank() > a.rank()))
            .map(|o| o.name.as_str());
        if let Some(rule) = applied {
            let answer = Answer {
                action: &rule.action,
                caller_rule: Some(rule.name.as_str()),
                observed,
            };
            return (answer, None);
        }
        let (action, evaluation) = self.action_at(at);
        let answer = Answer {
            action,
            caller_rule: None,
            observed,
        };
        (answer, evaluation)
    }

    /// Whether answering a call needs to know its caller: caller conditions, or a split
    /// anywhere (the action, a schedule branch). Other routes never read `From`.
    pub fn needs_caller(&self) -> bool {
        let split = |a: &Action| matches!(a, Action::Split(_));
        !self.callers.is_empty()
            || split(&self.action)
            || self
                .schedule
                .as_ref()
                .is_some_and(|s| split(&s.closed) || s.holiday.as_ref().is_some_and(split))
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

impl RouteErrorKind {
    /// The record field the error is about (`pattern`, `action`, `url`…; empty when it is about
    /// the whole record), so a form can show the message next to that field.
    pub fn field(&self) -> &str {
        match self {
            Self::EmptyPattern
            | Self::BadPrefix(_)
            | Self::BadPattern(_)
            | Self::NotCanonical { .. }
            | Self::Duplicate => "pattern",
            Self::UnknownAction(_) => "action",
            Self::MissingField { field, .. }
            | Self::FieldNotAllowed { field, .. }
            | Self::InvalidField { field, .. } => field,
            Self::Schema { field, .. } => field,
        }
    }
}

/// A SIP domain name, kept lowercase (Twilio's `SipDomain`, e.g. `example.sip.twilio.com`).
pub(crate) fn check_scope(s: &str) -> Result<String, RouteErrorKind> {
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
    let (pattern, scope) = split_scope(input);
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
