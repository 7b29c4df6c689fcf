//! From a record to a validated route and back: every field check with its message, the
//! schedule, caller-rule and failover-chain decoding.

use crate::number::{Address, NumberPlan, E164_MAX_DIGITS};
use crate::route::{
    chain_from, check_scope, CallerCondition, CallerRule, RouteErrorKind, Scheduled, Verstat,
    ACTIONS, DESCRIPTION_MAX_CHARS, MAX_CALLER_RULES, SAY_MAX_CHARS, URL_MAX_LEN,
};
use crate::schedule::Schedule;
use crate::sid::{Sid, SidKind};
use crate::twiml::{Method, RejectReason};
use crate::{twiml, Action, Pattern, Route, RouteError, RouteRecord};

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
            "split" => Action::Split(Box::new(crate::route::split::shares_from(
                &need(record.shares.take(), "shares")?,
                &record.pattern,
                plan,
            )?)),
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
                    match &rule.condition {
                        CallerCondition::Prefix(p) => {
                            flat.insert("from".into(), p.clone().into());
                        }
                        CallerCondition::Anonymous => {
                            flat.insert("from".into(), "anonymous".into());
                        }
                        CallerCondition::Verstat(v) => {
                            flat.insert("verstat".into(), v.name().into());
                        }
                    }
                    if rule.observe {
                        flat.insert("observe".into(), true.into());
                    }
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
pub(crate) fn branch_action(
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

/// Caller conditions: an array of flat actions, each with one condition: `from` (an E.164
/// prefix, `+` and 1 to 15 digits, or `anonymous`) or `verstat` ([`Verstat::NAMES`]); and
/// optionally `observe: true`. Conditions unique.
pub(crate) fn caller_rules(
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
        let observe = match item.remove("observe") {
            None | Some(serde_json::Value::Bool(false)) => false,
            Some(serde_json::Value::Bool(true)) => true,
            Some(other) => return Err(at(format!("`observe` is true or false, not {other}"))),
        };
        let condition = match (item.remove("from"), item.remove("verstat")) {
            (Some(_), Some(_)) => {
                return Err(at(
                    "has both `from` and `verstat`: one condition each".into()
                ))
            }
            (Some(serde_json::Value::String(p)), None) => {
                let p = p.trim();
                if p.eq_ignore_ascii_case("anonymous") {
                    CallerCondition::Anonymous
                } else {
                    let digits = p.strip_prefix('+').unwrap_or("");
                    let ok = (1..=E164_MAX_DIGITS).contains(&digits.len())
                        && digits.bytes().all(|b| b.is_ascii_digit())
                        && !digits.starts_with('0');
                    if !ok {
                        return Err(at(format!(
                            "`from` `{p}` is not an E.164 prefix such as +1317, nor `anonymous`"
                        )));
                    }
                    if p == crate::number::TWILIO_ANONYMOUS {
                        return Err(at(format!(
                            "`from` `{p}` is Twilio's placeholder for a withheld number: write `\"from\": \"anonymous\"`"
                        )));
                    }
                    CallerCondition::Prefix(p.to_string())
                }
            }
            (None, Some(serde_json::Value::String(v))) => match Verstat::parse(&v) {
                Some(v) => CallerCondition::Verstat(v),
                None => {
                    return Err(at(format!(
                        "`verstat` `{v}` is not one of {}",
                        Verstat::NAMES.join(", ")
                    )))
                }
            },
            _ => {
                return Err(at(
                    "needs `from` (an E.164 prefix such as +1317, or `anonymous`) or `verstat`"
                        .into(),
                ))
            }
        };
        let name = match &condition {
            CallerCondition::Prefix(p) => p.clone(),
            CallerCondition::Anonymous => "anonymous".to_string(),
            CallerCondition::Verstat(v) => format!("verstat={}", v.name()),
        };
        if rules.iter().any(|r| r.name == name) {
            return Err(at(format!("`{name}` appears twice")));
        }
        let action = branch_action("callers", "callers", &item, pattern, plan)
            .map_err(|e| at(e.to_string()))?;
        rules.push(CallerRule {
            condition,
            action,
            observe,
            name,
        });
    }
    Ok(rules)
}

/// A schedule and its branch actions. Each branch is a flat action object, validated as a route
/// of the same pattern would be; it may not carry its own schedule or description.
pub(crate) fn scheduled(
    text: &str,
    pattern: &str,
    plan: &NumberPlan,
) -> Result<Scheduled, RouteErrorKind> {
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

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> RouteErrorKind {
    RouteErrorKind::InvalidField {
        field,
        reason: reason.into(),
    }
}

pub(crate) fn has_bad_chars(s: &str) -> bool {
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
pub(crate) fn check_url_text(field: &'static str, url: &str) -> Result<(), RouteErrorKind> {
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
pub(crate) fn check_url_fully(field: &'static str, url: &str) -> Result<(), RouteErrorKind> {
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
pub(crate) fn is_plain_http_url(url: &str) -> bool {
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
pub(crate) fn check_nanp_length(number: &str) -> Result<(), String> {
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

pub(crate) fn check_timeout(t: u32) -> Result<u32, RouteErrorKind> {
    if (5..=600).contains(&t) {
        Ok(t)
    } else {
        Err(invalid(
            "timeout",
            format!("{t} is outside 5 to 600 seconds"),
        ))
    }
}

pub(crate) fn check_sip_uri(field: &'static str, uri: &str) -> Result<String, RouteErrorKind> {
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

pub(crate) fn check_sip_caller_id(c: &str) -> Result<String, RouteErrorKind> {
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

pub(crate) fn check_say_text(text: &str) -> Result<String, RouteErrorKind> {
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

pub(crate) fn check_token(field: &'static str, v: &str) -> Result<String, RouteErrorKind> {
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

pub(crate) fn check_language(v: &str) -> Result<String, RouteErrorKind> {
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

pub(crate) fn check_description(d: &str) -> Result<String, RouteErrorKind> {
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

pub(crate) fn check_identity(v: &str) -> Result<String, RouteErrorKind> {
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

pub(crate) fn check_parameters(v: &str) -> Result<Vec<(String, String)>, RouteErrorKind> {
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

pub(crate) fn check_task_attributes(v: &str) -> Result<String, RouteErrorKind> {
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

pub(crate) fn check_conference(v: &str) -> Result<String, RouteErrorKind> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 128 || v.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            format!("`{v}` is not a conference name (1 to 128 characters, no control characters)"),
        ));
    }
    Ok(v.to_string())
}

pub(crate) fn check_twiml(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.chars().count() > BLOB_MAX_CHARS {
        return Err(format!("longer than {BLOB_MAX_CHARS} characters"));
    }
    twiml::check_fragment(v)?;
    Ok(v.to_string())
}
