//! Log output. In Lambda: one JSON object per line, and each "call answered" line is also a
//! CloudWatch embedded-metric-format (EMF) record, so calls, outcomes (matched, default,
//! degraded, refused…) and latency become metrics with no extra API call or log line.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The message of the one line logged per request.
pub const CALL_MESSAGE: &str = "call answered";

/// Formats events as flat JSON objects, adding EMF metadata to call lines. Written straight to
/// the output, field by field, with no intermediate map or value per field: the call line is on
/// every request's path.
pub struct JsonLines {
    /// CloudWatch metrics namespace (env `METRICS_NAMESPACE`, default `ByocRouter`).
    pub namespace: String,
}

/// A JSON string literal of `s`.
fn json_str(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        start = i + 1;
    }
    out.write_str(&s[start..])?;
    out.write_char('"')
}

/// Writes each field as `,"name":value`, and keeps what the metrics need.
struct JsonFields<'a, 'w> {
    out: &'a mut Writer<'w>,
    result: fmt::Result,
    call_line: bool,
    endpoint: EmfValue,
    outcome: EmfValue,
    latency_us: u64,
}

/// A metric dimension's value, copied from its field (short: an endpoint or outcome name).
#[derive(Default)]
struct EmfValue {
    bytes: [u8; 32],
    len: usize,
}

impl EmfValue {
    fn set(&mut self, s: &str) {
        // Cut at a character boundary; the names are ASCII and short.
        let mut len = s.len().min(self.bytes.len());
        while !s.is_char_boundary(len) {
            len -= 1;
        }
        self.bytes[..len].copy_from_slice(&s.as_bytes()[..len]);
        self.len = len;
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl JsonFields<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        self.out.write_char(',')?;
        json_str(self.out, field.name())?;
        self.out.write_char(':')
    }

    fn str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.call_line = value == CALL_MESSAGE,
            "endpoint" => self.endpoint.set(value),
            "outcome" => self.outcome.set(value),
            _ => {}
        }
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| json_str(self.out, value));
        }
    }
}

impl Visit for JsonFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.str(field, value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "latency_us" {
            self.latency_us = value;
        }
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| write!(self.out, "{value}"));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| write!(self.out, "{value}"));
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| write!(self.out, "{value}"));
        }
    }
    // `%error`, `?value` and the message: formatted once, then escaped as a JSON string.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.str(field, &text);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = String::new();
        let _ = write!(text, "{value}");
        self.str(field, &text);
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
        write!(
            writer,
            "{{\"timestamp\":\"{}\",\"level\":\"{}\"",
            humantime::format_rfc3339_millis(now),
            event.metadata().level().as_str()
        )?;
        let mut fields = JsonFields {
            out: &mut writer,
            result: Ok(()),
            call_line: false,
            endpoint: EmfValue::default(),
            outcome: EmfValue::default(),
            latency_us: 0,
        };
        event.record(&mut fields);
        fields.result?;
        if fields.call_line {
            let (endpoint, outcome, latency_us) =
                (fields.endpoint, fields.outcome, fields.latency_us);
            self.write_metrics(
                &mut writer,
                now,
                endpoint.as_str(),
                outcome.as_str(),
                latency_us,
            )?;
        }
        writer.write_str("}\n")
    }
}

impl JsonLines {
    /// The EMF record of a call line: `Calls` (1) and `LatencyMs` by `Endpoint` and `Outcome`.
    fn write_metrics(
        &self,
        out: &mut Writer<'_>,
        now: SystemTime,
        endpoint: &str,
        outcome: &str,
        latency_us: u64,
    ) -> fmt::Result {
        let ms = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        write!(
            out,
            ",\"_aws\":{{\"Timestamp\":{ms},\"CloudWatchMetrics\":[{{\"Namespace\":"
        )?;
        json_str(out, &self.namespace)?;
        out.write_str(
            ",\"Dimensions\":[[\"Endpoint\",\"Outcome\"],[\"Endpoint\"]],\"Metrics\":[\
             {\"Name\":\"Calls\",\"Unit\":\"Count\"},{\"Name\":\"LatencyMs\",\"Unit\":\"Milliseconds\"}]}]}",
        )?;
        out.write_str(",\"Endpoint\":")?;
        json_str(out, endpoint)?;
        out.write_str(",\"Outcome\":")?;
        json_str(out, outcome)?;
        write!(
            out,
            ",\"Calls\":1,\"LatencyMs\":{}",
            latency_us as f64 / 1000.0
        )
    }
}

/// Field formatting for the text logs (`byoc serve`): values that come from a request (a
/// refusal reason quoting `TIMEOUT`, a `CallSid`) are written quoted and escaped, so a line
/// break or a ` key=value` inside one cannot forge a log line or a field. Plain tokens
/// (numbers, outcomes) stay bare for readability. String fields are written straight from the
/// event, with no copy.
pub fn text_fields() -> TextFields {
    TextFields
}

pub struct TextFields;

impl<'w> FormatFields<'w> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = TextVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct TextVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl TextVisitor<'_> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let separator = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        self.result = (|| {
            self.writer.write_str(separator)?;
            if field.name() != "message" {
                write!(self.writer, "{}=", field.name())?;
            }
            value(&mut self.writer)
        })();
    }
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.field(field, |w| write_escaped(w, value));
        } else {
            // `{:?}` of a `&str`: quoted, every quote, backslash and control character escaped.
            self.field(field, |w| write!(w, "{value:?}"));
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| write!(w, "{value}"));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| write!(w, "{value}"));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| write!(w, "{value}"));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.field(field, |w| write_escaped(w, &text));
        } else if is_bare(&text) || is_debug_str(&text) {
            self.field(field, |w| w.write_str(&text));
        } else {
            self.field(field, |w| write!(w, "{text:?}"));
        }
    }
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

fn write_escaped(writer: &mut impl fmt::Write, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(writer, "{}", c.escape_default())?;
        } else {
            writer.write_char(c)?;
        }
    }
    Ok(())
}

/// A subscriber that formats call lines as the functions (`json`) or `byoc serve` (text) do,
/// into `writer`: for tests and the log-line bench.
pub fn subscriber_to<W>(json: bool, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_target(false)
        .with_max_level(tracing::Level::INFO);
    if json {
        Box::new(
            builder
                .event_format(JsonLines {
                    namespace: "ByocRouter".into(),
                })
                .finish(),
        )
    } else {
        Box::new(
            builder
                .compact()
                .with_ansi(false)
                .fmt_fields(text_fields())
                .finish(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(json: bool, log: impl FnOnce()) -> String {
        let lines = Lines::default();
        let out = lines.clone();
        tracing::subscriber::with_default(subscriber_to(json, move || out.clone()), log);
        let bytes = lines.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn call_line() {
        let hostile = "CA1\"}\n{\"forged\":true \\ \u{1}";
        tracing::info!(
            endpoint = "inbound",
            call_sid = hostile,
            did = "+13175551234",
            outcome = "matched",
            step = -1i64,
            cached = true,
            reason = %"a b\nc",
            latency_us = 1234u64,
            "call answered"
        );
        tracing::warn!(kind = "store_error", "route store failed");
    }

    #[test]
    fn json_lines_are_valid_json_with_metrics_on_call_lines() {
        let text = logged(true, call_line);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let call: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(call["level"], "INFO");
        assert_eq!(call["message"], "call answered");
        assert_eq!(call["call_sid"], "CA1\"}\n{\"forged\":true \\ \u{1}");
        assert_eq!(call["reason"], "a b\nc");
        assert_eq!(
            (call["step"].as_i64(), call["cached"].as_bool()),
            (Some(-1), Some(true))
        );
        assert_eq!(call["latency_us"], 1234);
        assert_eq!(call["Endpoint"], "inbound");
        assert_eq!(call["Outcome"], "matched");
        assert_eq!(call["Calls"], 1);
        assert_eq!(call["LatencyMs"], 1.234);
        let emf = &call["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(emf["Namespace"], "ByocRouter");
        assert_eq!(emf["Dimensions"][0][1], "Outcome");
        assert_eq!(emf["Metrics"][1]["Name"], "LatencyMs");
        assert!(call["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        assert!(call["timestamp"].as_str().unwrap().ends_with('Z'));
        // Other lines carry no metrics.
        let other: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(other["level"], "WARN");
        assert!(other.get("_aws").is_none() && other.get("Calls").is_none());
    }

    #[test]
    fn text_lines_quote_request_values() {
        let text = logged(false, call_line);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "a value cannot break the line: {text}");
        assert!(
            lines[0].contains(r#"call answered endpoint="inbound" call_sid="CA1\"}\n{\"forged\":true \\ \u{1}" did="+13175551234""#),
            "{text}"
        );
        assert!(
            lines[0].contains(r#"step=-1 cached=true reason="a b\nc" latency_us=1234"#),
            "{text}"
        );
    }

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
