//! One call line as the functions and `byoc serve --log-format json` write it: a flat JSON
//! object whose `message` is "call answered" (byoc-web's `CallLine`).

use jiff::Timestamp;
use serde_json::{Map, Value};

/// The message every call line carries (what the metric filters and saved queries key on).
pub const CALL_MESSAGE: &str = "call answered";

/// The embedded-metric-format keys written beside the call's own fields: not the call's.
const EMF_KEYS: [&str; 5] = ["_aws", "Endpoint", "Outcome", "Calls", "LatencyMs"];

/// A call line: when, and every field it had.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub at: Timestamp,
    pub fields: Map<String, Value>,
}

/// What one line of a log is.
#[derive(Debug, PartialEq)]
pub enum Line {
    Call(Box<Call>),
    /// Another line of ours or of the platform (start-up, Lambda's START/END/REPORT): not a
    /// call, not an error.
    Other,
    /// Not a line we can read: counted and skipped.
    Unreadable,
}

/// Lambda's own lines in a function's log group (its text log format).
const PLATFORM_PREFIXES: [&str; 9] = [
    "START RequestId",
    "END RequestId",
    "REPORT RequestId",
    "INIT_START",
    "INIT_REPORT",
    "RESTORE_START",
    "RESTORE_REPORT",
    "EXTENSION",
    "TELEMETRY",
];

impl Line {
    /// Reads one line. `fallback_at` is used when the line has no `timestamp` of its own (a
    /// CloudWatch event's time); a line with neither is unreadable.
    pub fn parse(text: &str, fallback_at: Option<Timestamp>) -> Line {
        let text = text.trim();
        if text.is_empty()
            || PLATFORM_PREFIXES.iter().any(|p| text.starts_with(p))
            // `byoc serve`'s own notices on the same stderr (start, warnings).
            || text.starts_with("byoc serve:")
        {
            return Line::Other;
        }
        if !text.starts_with('{') {
            return Line::Unreadable;
        }
        let Ok(mut fields) = serde_json::from_str::<Map<String, Value>>(text) else {
            return Line::Unreadable;
        };
        if fields.get("message").and_then(Value::as_str) != Some(CALL_MESSAGE) {
            return Line::Other;
        }
        let at = match fields.get("timestamp").and_then(Value::as_str) {
            Some(t) => match t.parse::<Timestamp>() {
                Ok(at) => at,
                Err(_) => return Line::Unreadable,
            },
            None => match fallback_at {
                Some(at) => at,
                None => return Line::Unreadable,
            },
        };
        let has = |key: &str| fields.get(key).and_then(Value::as_str).is_some();
        if !has("endpoint") || !has("call_sid") || !has("outcome") {
            return Line::Unreadable;
        }
        for key in EMF_KEYS {
            fields.remove(key);
        }
        Line::Call(Box::new(Call { at, fields }))
    }
}

impl Call {
    /// A text field, or `""`.
    pub fn str(&self, key: &str) -> &str {
        self.fields.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn endpoint(&self) -> &str {
        self.str("endpoint")
    }

    pub fn call_sid(&self) -> &str {
        self.str("call_sid")
    }

    pub fn did(&self) -> &str {
        self.str("did")
    }

    pub fn outcome(&self) -> &str {
        self.str("outcome")
    }

    pub fn pattern(&self) -> &str {
        self.str("pattern")
    }

    pub fn latency_us(&self) -> Option<u64> {
        self.fields.get("latency_us").and_then(Value::as_u64)
    }

    /// A call's first answer: `/inbound` or, when the primary failed, `/inbound/fallback`.
    pub fn is_inbound_answer(&self) -> bool {
        is_inbound_answer(self.endpoint())
    }

    /// The call reached no route of its own: the catch-all (`*`), no route at all, the default
    /// or a rejection, while the store answered (the template's saved query "numbers with no
    /// route of their own" says the same).
    pub fn fell_through(&self) -> bool {
        fell_through(self.pattern(), self.outcome())
    }

    /// The line as written, with its time first and no metric metadata.
    pub fn to_json(&self) -> Value {
        let mut out = Map::with_capacity(self.fields.len() + 1);
        out.insert("timestamp".into(), Value::String(self.at.to_string()));
        for (k, v) in &self.fields {
            if k != "timestamp" {
                out.insert(k.clone(), v.clone());
            }
        }
        Value::Object(out)
    }
}

pub fn is_inbound_answer(endpoint: &str) -> bool {
    matches!(endpoint, "inbound" | "inbound_fallback")
}

pub fn fell_through(pattern: &str, outcome: &str) -> bool {
    // A degraded call fell to the fallback because the store failed, not for want of a route.
    outcome != "degraded"
        && (pattern == "*"
            || pattern.is_empty()
            || matches!(outcome, "default" | "rejected" | "bad_input"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVED: &str = r#"{"timestamp":"2026-12-05T15:28:29.966Z","level":"INFO","message":"call answered","endpoint":"inbound","call_sid":"CA11111111111111111111111111111111","did":"+13175550100","pattern":"+13175550100","action":"dial","outcome":"matched","reason":"","schedule":"","caller_rule":"","source":"memory","signed_by":"unchecked","latency_us":225,"_aws":{"Timestamp":1796484509966,"CloudWatchMetrics":[]},"Endpoint":"inbound","Outcome":"matched","Calls":1,"LatencyMs":0.225}"#;

    #[test]
    fn reads_a_served_call_line_without_its_metric_metadata() {
        let Line::Call(call) = Line::parse(SERVED, None) else {
            panic!("not read");
        };
        assert_eq!(call.at.to_string(), "2026-12-05T15:28:29.966Z");
        assert_eq!(call.did(), "+13175550100");
        assert_eq!(call.latency_us(), Some(225));
        assert!(call.is_inbound_answer());
        assert!(!call.fell_through());
        for key in EMF_KEYS {
            assert!(!call.fields.contains_key(key), "{key}");
        }
    }

    #[test]
    fn tells_other_lines_from_unreadable_ones() {
        let start = r#"{"timestamp":"2026-12-05T15:28:28.980Z","level":"INFO","message":"byoc serve started"}"#;
        assert_eq!(Line::parse(start, None), Line::Other);
        assert_eq!(Line::parse("", None), Line::Other);
        assert_eq!(
            Line::parse("START RequestId: 1 Version: $LATEST", None),
            Line::Other
        );
        assert_eq!(
            Line::parse("byoc serve: WARNING: TWILIO_AUTH_TOKEN is not set", None),
            Line::Other
        );
        // The text log format, a cut line, a call line without its call.
        assert_eq!(
            Line::parse(
                "2026-12-05T15:28:29Z  INFO call answered endpoint=inbound",
                None
            ),
            Line::Unreadable
        );
        assert_eq!(Line::parse(&SERVED[..80], None), Line::Unreadable);
        let no_sid = SERVED.replace(r#""call_sid":"CA11111111111111111111111111111111","#, "");
        assert_eq!(Line::parse(&no_sid, None), Line::Unreadable);
        let bad_time = SERVED.replace("2026-12-05T15:28:29.966Z", "yesterday");
        assert_eq!(Line::parse(&bad_time, None), Line::Unreadable);
    }

    #[test]
    fn a_line_without_a_time_takes_its_event_time() {
        let untimed = SERVED.replace(r#""timestamp":"2026-12-05T15:28:29.966Z","#, "");
        assert_eq!(Line::parse(&untimed, None), Line::Unreadable);
        let at: Timestamp = "2026-12-05T10:00:00Z".parse().unwrap();
        let Line::Call(call) = Line::parse(&untimed, Some(at)) else {
            panic!("not read");
        };
        assert_eq!(call.at, at);
    }

    #[test]
    fn fall_through_is_the_catch_all_no_route_the_default_or_a_rejection() {
        assert!(fell_through("*", "matched"));
        assert!(fell_through("", "default"));
        assert!(fell_through("+1317", "rejected"));
        assert!(fell_through("", "bad_input"));
        assert!(!fell_through("+1317", "matched"));
        assert!(!fell_through("+1317", "degraded"));
        assert!(!fell_through("", "degraded"));
    }
}
