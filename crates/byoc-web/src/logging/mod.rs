//! Log output. In Lambda: one JSON object per line, and each "call answered" line is also a
//! CloudWatch embedded-metric-format (EMF) record, so calls, outcomes (matched, default,
//! degraded, refused…) and latency become metrics with no extra API call or log line.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`LogFormat`], the one subscriber builder, timestamps |
//! | `json.rs` | [`JsonLines`]: JSON + EMF (Lambda, `byoc serve --log-format json`) |
//! | `text.rs` | [`TextFields`]: quoted text fields (`byoc serve`, the CLI) |

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::Subscriber;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

mod json;
mod text;

pub use json::JsonLines;
pub use text::{text_fields, TextFields};

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

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, call lines with EMF metrics (Lambda, CloudWatch Logs
    /// Insights).
    Json,
    /// Human-readable lines with timestamps (`byoc serve`).
    Text,
    /// Short text lines without timestamps (the admin commands).
    Cli,
}

impl LogFormat {
    /// The formats `byoc serve --log-format` takes.
    pub const SERVE_NAMES: [&'static str; 2] = ["text", "json"];

    /// The format named `name` (`json`, `text`).
    pub fn named(name: &str) -> Option<LogFormat> {
        match name.trim().to_ascii_lowercase().as_str() {
            "json" => Some(LogFormat::Json),
            "text" => Some(LogFormat::Text),
            _ => None,
        }
    }
}

/// The one way a subscriber is built: `format`, the lines `filter` lets through, into
/// `writer`; call lines carry the metrics `namespace`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    namespace: String,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    match format {
        LogFormat::Json => Box::new(builder.event_format(JsonLines { namespace }).finish()),
        LogFormat::Text => Box::new(
            builder
                .compact()
                .with_ansi(false)
                .with_timer(Rfc3339Micros)
                .fmt_fields(text_fields())
                .finish(),
        ),
        LogFormat::Cli => Box::new(
            builder
                .without_time()
                .compact()
                .with_ansi(false)
                .fmt_fields(text_fields())
                .finish(),
        ),
    }
}

/// Installs [`subscriber`] as the process's, with the level from `RUST_LOG`, else
/// `LOG_LEVEL`, else `default_level`. A second installation (tests) is harmless and ignored.
pub fn install<W>(format: LogFormat, default_level: &str, writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = crate::config::log_filter()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default_level));
    let namespace = crate::config::metrics_namespace();
    let _ = subscriber(format, filter, writer, namespace).try_init();
}

/// A subscriber that formats call lines as the functions (`Json`) or `byoc serve` (`Text`) do,
/// at `info`, into `writer`: for tests and the log-line benches.
pub fn subscriber_to<W>(format: LogFormat, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    subscriber(format, EnvFilter::new("info"), writer, "ByocRouter".into())
}

#[cfg(test)]
mod tests {
    use super::text::{is_bare, is_debug_str};
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
        let format = if json {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
        tracing::subscriber::with_default(subscriber_to(format, move || out.clone()), log);
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
