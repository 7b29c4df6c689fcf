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
mod table;
mod targets;
#[cfg(test)]
mod tests;
mod validate;

pub use action::*;
pub use pattern::*;
pub use record::*;
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

    /// The matcher's precedence as a sort key, first wins: [`Pattern::precedence`], and for
    /// one pattern the scoped route before the unscoped one (a call from its domain gets it).
    pub fn precedence(&self) -> ((u8, std::cmp::Reverse<usize>, String), bool) {
        (self.pattern.precedence(), self.scope.is_none())
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
