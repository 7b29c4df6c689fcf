//! Log output. In Lambda: one JSON object per line, and each "call answered" line is also a
//! CloudWatch embedded-metric-format (EMF) record, so calls, outcomes (matched, default,
//! degraded, refused…) and latency become metrics with no extra API call or log line.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The message of the one line logged per request.
pub const CALL_MESSAGE: &str = "call answered";

/// Formats events as flat JSON objects, adding EMF metadata to call lines.
pub struct JsonLines {
    /// CloudWatch metrics namespace (env `METRICS_NAMESPACE`, default `ByocRouter`).
    pub namespace: String,
}

#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}").into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_string(), value.to_string().into());
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = SystemTime::now();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            humantime::format_rfc3339_millis(now).to_string().into(),
        );
        line.insert("level".into(), event.metadata().level().as_str().into());
        line.append(&mut fields.0);
        if line.get("message").and_then(Value::as_str) == Some(CALL_MESSAGE) {
            self.add_metrics(&mut line, now);
        }
        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

impl JsonLines {
    fn add_metrics(&self, line: &mut Map<String, Value>, now: SystemTime) {
        let endpoint = line
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let outcome = line
            .get("outcome")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let latency_ms = line
            .get("latency_us")
            .and_then(Value::as_u64)
            .map_or(0.0, |us| us as f64 / 1000.0);
        let ms = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [["Endpoint", "Outcome"], ["Endpoint"]],
                    "Metrics": [
                        {"Name": "Calls", "Unit": "Count"},
                        {"Name": "LatencyMs", "Unit": "Milliseconds"}
                    ]
                }]
            }),
        );
        line.insert("Endpoint".into(), endpoint.into());
        line.insert("Outcome".into(), outcome.into());
        line.insert("Calls".into(), 1.into());
        line.insert("LatencyMs".into(), latency_ms.into());
    }
}

/// Field formatting for the text logs (`byoc serve`): values that come from a request (a
/// refusal reason quoting `TIMEOUT`, a `CallSid`) are written quoted and escaped, so a line
/// break or a ` key=value` inside one cannot forge a log line or a field. Plain tokens
/// (numbers, outcomes, E.164 numbers) stay bare for readability.
pub fn text_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> {
    use tracing_subscriber::field::MakeExt as _;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
        if field.name() == "message" {
            return write_escaped(writer, &text);
        }
        write!(writer, "{}=", field.name())?;
        if is_bare(&text) || is_debug_str(&text) {
            writer.write_str(&text)
        } else {
            write!(writer, "{text:?}")
        }
    })
    .delimited(" ")
}

fn is_bare(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:+-/,@*".contains(&b))
}

/// A `&str` field as `{:?}` writes it: quoted, with every quote, backslash and control
/// character escaped.
fn is_debug_str(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return false,
            (false, c) if c.is_control() => return false,
            _ => {}
        }
    }
    !escaped
}

fn write_escaped(writer: &mut Writer<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(writer, "{}", c.escape_default())?;
        } else {
            writer.write_char(c)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_are_bare_only_when_harmless() {
        assert!(is_bare("+13175551234"));
        assert!(is_bare("policy_destination"));
        assert!(!is_bare("a b"));
        assert!(!is_bare("x\ny"));
        assert!(is_debug_str(r#""CA1 \"quoted\" \n""#));
        assert!(!is_debug_str("\"a\"b\""));
        assert!(!is_debug_str("\"a\nb\""));
        assert!(!is_debug_str("\"a\\\""));
    }
}
