//! The flat record a route is exchanged as (route files, CSV rows, DynamoDB items): its
//! fields, their serde forms, and the column list.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::route::RouteErrorKind;
use crate::RouteError;

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
    /// `split`: the shares, a JSON array of flat actions each with a `weight` (JSON text in CSV
    /// and DynamoDB).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json_text_or_object",
        serialize_with = "json_text_as_value"
    )]
    pub shares: Option<String>,
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

/// A route's store metadata, typed: the one model of it. In a record it travels as the three
/// optional fields `version`, `updated_at`, `updated_by` ([`RouteRecord::take_meta`],
/// [`RouteRecord::with_meta`] convert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMeta {
    /// 1 for a new route, +1 per write.
    pub version: u64,
    /// RFC 3339; empty when not recorded (a hand-written file).
    pub updated_at: String,
    /// Who wrote it; empty when not recorded.
    pub updated_by: String,
}

impl RouteMeta {
    /// A route from a record without metadata: a first version, by no one known.
    pub fn unrecorded() -> Self {
        Self {
            version: 1,
            updated_at: String::new(),
            updated_by: String::new(),
        }
    }
}

impl RouteRecord {
    /// The route fields of a record, for comparing what a route does regardless of store
    /// metadata.
    pub fn without_metadata(mut self) -> Self {
        self.take_meta();
        self
    }

    /// Removes the metadata fields; `None` when the record had none (a missing field of a
    /// partial set reads as in [`RouteMeta::unrecorded`]).
    pub fn take_meta(&mut self) -> Option<RouteMeta> {
        let (version, at, by) = (
            self.version.take(),
            self.updated_at.take(),
            self.updated_by.take(),
        );
        if version.is_none() && at.is_none() && by.is_none() {
            return None;
        }
        Some(RouteMeta {
            version: version.unwrap_or(1),
            updated_at: at.unwrap_or_default(),
            updated_by: by.unwrap_or_default(),
        })
    }

    /// The record with `meta` in its metadata fields.
    pub fn with_meta(self, meta: &RouteMeta) -> Self {
        Self {
            version: Some(meta.version),
            updated_at: Some(meta.updated_at.clone()),
            updated_by: Some(meta.updated_by.clone()),
            ..self
        }
    }
}

/// `parameters`: a form-encoded string, or (in JSON) an object of strings, kept form-encoded.
pub(crate) fn form_or_object<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
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
pub(crate) fn json_text_or_object<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None => None,
        Some(serde_json::Value::String(t)) => Some(t),
        Some(other) => Some(other.to_string()),
    })
}

/// Writes JSON text as the JSON value it holds, so route files show objects, not escaped text.
pub(crate) fn json_text_as_value<S: serde::Serializer>(
    v: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v
        .as_deref()
        .map(|t| (t, serde_json::from_str::<serde_json::Value>(t)))
    {
        Some((_, Ok(value))) => value.serialize(s),
        Some((text, Err(_))) => s.serialize_str(text),
        None => s.serialize_none(),
    }
}

pub(crate) fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    lenient_number(d, "version")
}

pub(crate) fn lenient_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    lenient_number(d, "timeout")
}

/// Accepts `30` or `"30"` (CSV and hand-written JSON both occur); empty strings are absent.
/// Anything else is refused naming the field and the value (`20.5`, `"soon"`, `true`).
pub(crate) fn lenient_number<'de, D, N>(d: D, field: &str) -> Result<Option<N>, D::Error>
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

/// A record's columns, by the names route files and CSV use (`final` for
/// [`RouteRecord::final_action`]), in the order exports write them; store metadata is not among
/// them.
pub const RECORD_COLUMNS: [&str; 27] = [
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
    "shares",
    "callers",
    "scope",
    "description",
];

/// The fields a partial update may set or clear: every column but `pattern`.
pub const RECORD_FIELDS: &[&str] = match RECORD_COLUMNS.split_first() {
    Some((_, fields)) => fields,
    None => &[],
};

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
            "shares" => &mut self.shares,
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
    pub(crate) fn set_fields(&self) -> impl Iterator<Item = &'static str> {
        let fields: [(&'static str, bool); 21] = [
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
            ("shares", self.shares.is_some()),
        ];
        fields
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| name)
    }

    /// Treats empty strings (CSV cells) as absent.
    pub(crate) fn drop_blanks(&mut self) {
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
            &mut self.shares,
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
