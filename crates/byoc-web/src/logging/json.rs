//! The functions' log format: one flat JSON object per line, call lines with their CloudWatch
//! embedded-metric-format (EMF) metadata.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::{write_timestamp, CALL_MESSAGE};

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
