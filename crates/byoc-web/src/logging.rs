//! Log output. In Lambda: one JSON object per line, and each "call answered" line is also a
//! CloudWatch embedded-metric-format (EMF) record, so calls, outcomes (matched, default,
//! degraded, refused…) and latency become metrics with no extra API call or log line.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The message of the one line logged per request.
pub const CALL_MESSAGE: &str = "call answered";

/// Writes `now` as an RFC 3339 UTC timestamp with `digits` (1 to 9) digits of fraction:
/// `2026-12-04T15:13:10.123456Z`. The call line is on every request's path, so the date and
/// time of day are formatted once per second (per thread) and reused; only the fraction is
/// written each time. A clock before 1970 is written as 1970.
pub fn write_timestamp(out: &mut impl fmt::Write, now: SystemTime, digits: usize) -> fmt::Result {
    thread_local! {
        // The second last formatted, and its `YYYY-MM-DDTHH:MM:SS`.
        static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [b'0'; 19])) };
    }
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let second = since.as_secs();
    let text = SECOND.with(|cached| {
        let (at, mut text) = cached.get();
        if at != second {
            // humantime refuses years past 9999 (fmt::Error): the line then says so, instead
            // of a panic on every call.
            let mut formatted = String::with_capacity(20);
            write!(
                formatted,
                "{}",
                humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(second))
            )?;
            let Some(prefix) = formatted.as_bytes().get(..19) else {
                return Err(fmt::Error);
            };
            text.copy_from_slice(prefix);
            cached.set((second, text));
        }
        Ok(text)
    })?;
    out.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)?;
    let digits = digits.clamp(1, 9);
    let mut fraction = [b'.', 0, 0, 0, 0, 0, 0, 0, 0, 0, b'Z'];
    let mut value = since.subsec_nanos() / 10u32.pow(9 - digits as u32);
    for slot in fraction[1..=digits].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    fraction[digits + 1] = b'Z';
    out.write_str(std::str::from_utf8(&fraction[..digits + 2]).map_err(|_| fmt::Error)?)
}

/// The text logs' timestamps (`byoc serve`): RFC 3339 UTC with microseconds, as
/// tracing-subscriber's default timer writes them, through [`write_timestamp`].
pub struct Rfc3339Micros;

impl tracing_subscriber::fmt::time::FormatTime for Rfc3339Micros {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        write_timestamp(w, SystemTime::now(), 6)
    }
}

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
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer, now, 3)?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(event.metadata().level().as_str())?;
        writer.write_char('"')?;
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
                self.writer.write_str(field.name())?;
                self.writer.write_char('=')?;
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
            // Most values (SIDs, numbers, outcomes) need no escape: written in one piece.
            if value
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ')
            {
                self.field(field, |w| {
                    w.write_char('"')?;
                    w.write_str(value)?;
                    w.write_char('"')
                });
            } else {
                self.field(field, |w| write!(w, "{value:?}"));
            }
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
    if !text.chars().any(char::is_control) {
        return writer.write_str(text);
    }
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
                .with_timer(Rfc3339Micros)
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
        // The line starts as tracing-subscriber's own timer writes it: RFC 3339, microseconds.
        let (stamp, _) = lines[0].split_once(' ').unwrap();
        assert_eq!(stamp.len(), 27, "{stamp}");
        assert!(humantime::parse_rfc3339(stamp).is_ok(), "{stamp}");
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
    fn timestamps_match_rfc3339_at_every_second_and_precision() {
        let base = UNIX_EPOCH + Duration::from_secs(1_796_398_390); // 2026-12-04T15:33:10Z
        let times = [
            UNIX_EPOCH,
            base,
            base + Duration::from_nanos(999_999_999),
            base + Duration::from_secs(1),
            base + Duration::from_nanos(1_000),
            // Back to an earlier second: the cache must not keep the later one.
            base + Duration::from_nanos(123_456_789),
            base + Duration::from_secs(86_400 * 366 + 59),
        ];
        for now in times {
            let mut micros = String::new();
            write_timestamp(&mut micros, now, 6).unwrap();
            assert_eq!(micros, humantime::format_rfc3339_micros(now).to_string());
            let mut millis = String::new();
            write_timestamp(&mut millis, now, 3).unwrap();
            assert_eq!(millis, humantime::format_rfc3339_millis(now).to_string());
            let mut nanos = String::new();
            write_timestamp(&mut nanos, now, 9).unwrap();
            assert_eq!(nanos, humantime::format_rfc3339_nanos(now).to_string());
        }
        let mut early = String::new();
        write_timestamp(&mut early, UNIX_EPOCH - Duration::from_secs(5), 3).unwrap();
        assert_eq!(early, "1970-01-01T00:00:00.000Z");
        // Past 9999: an error (tracing-subscriber then writes `<unknown time>`), not a panic.
        let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert!(write_timestamp(&mut String::new(), far, 6).is_err());
    }

    #[test]
    fn text_string_values_are_written_as_debug_writes_them() {
        // The one-piece path for plain values must match `{:?}`, which handles the others.
        let values = [
            "CA0123456789abcdef0123456789abcdef",
            "+1 (317) 555-1234",
            "",
            " ",
            "~!@#$%^&*()_+`-=[]{}|;':,./<>?",
            "quote\"inside",
            "back\\slash",
            "tab\tnewline\n",
            "del\u{7f}",
            "é ü 中",
            "zero\u{200b}width",
        ];
        for value in values {
            let text = logged(false, || tracing::info!(v = value, "m"));
            assert!(text.contains(&format!(" v={value:?}")), "{value:?}: {text}");
        }
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
