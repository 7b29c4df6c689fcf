//! `byoc calls`' text output.

use super::line::Call;
use super::summary::Summary;
use super::{Query, Tally};

/// The fields a call's own lines show, in this order, after its endpoint and outcome.
const DETAIL_FIELDS: [&str; 22] = [
    "did",
    "pattern",
    "action",
    "reason",
    "refusal",
    "caller_rule",
    "schedule",
    "share",
    "caller",
    "step",
    "call_status",
    "dial_call_status",
    "trunk",
    "attempt",
    "trunk_result",
    "sip_response_code",
    "next_trunk",
    "error_code",
    "error_url",
    "source",
    "signed_by",
    "latency_us",
];

/// `2026-12-05 14:02:11.960` (UTC, always three decimals: the columns line up).
fn time(call: &Call) -> String {
    call.at.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// A field as it may be shown on a terminal: control characters (an escape sequence a caller
/// put in a parameter) written out, never sent.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

fn latency(us: Option<u64>) -> String {
    match us {
        None => "-".to_string(),
        Some(us) if us < 10_000 => format!("{us} µs"),
        Some(us) if us < 10_000_000 => format!("{:.1} ms", us as f64 / 1000.0),
        Some(us) => format!("{:.1} s", us as f64 / 1_000_000.0),
    }
}

/// The call's short why: caller rule, schedule, share, trunk, reason.
fn detail(call: &Call) -> String {
    let mut parts = Vec::new();
    for (key, label) in [
        ("caller_rule", "caller"),
        ("schedule", "schedule"),
        ("reason", ""),
        ("refusal", "refused"),
        ("dial_call_status", "dial"),
        ("trunk", "trunk"),
        ("next_trunk", "next"),
    ] {
        let value = call.str(key);
        if !value.is_empty() {
            parts.push(if label.is_empty() {
                value.to_string()
            } else {
                format!("{label}: {value}")
            });
        }
    }
    if let Some(share) = call.fields.get("share").and_then(|v| v.as_i64()) {
        parts.push(format!("share {share}"));
    }
    parts.join(" · ")
}

pub fn recent(calls: &[Call], tally: &Tally, limit: usize) {
    if calls.is_empty() {
        return;
    }
    outln!(
        "{:<23}  {:<16}  {:<16}  {:<16}  {:<9}  {:<9}  {:>9}  {:<34}  detail",
        "time (UTC)",
        "endpoint",
        "number",
        "route",
        "action",
        "outcome",
        "latency",
        "call"
    );
    for call in calls {
        let pattern = match call.pattern() {
            "" if call.is_inbound_answer() => "(none)",
            p => p,
        };
        let row = format!(
            "{:<23}  {:<16}  {:<16}  {:<16}  {:<9}  {:<9}  {:>9}  {:<34}  {}",
            time(call),
            call.endpoint(),
            call.did(),
            pattern,
            call.str("action"),
            call.outcome(),
            latency(call.latency_us()),
            call.call_sid(),
            detail(call)
        );
        outln!("{}", shown(&row));
    }
    if tally.matched as usize > calls.len() {
        outln!(
            "({} of {} lines in the window: the latest; --limit shows more, --summary counts them all)",
            calls.len(),
            tally.matched
        );
    } else if calls.len() == limit {
        outln!("({} lines)", calls.len());
    }
}

pub fn one_call(lines: &[Call]) {
    let Some(first) = lines.first() else {
        return;
    };
    outln!("call {}: {} line(s)", shown(first.call_sid()), lines.len());
    for line in lines {
        let mut text = format!(
            "{}  {:<16}  {:<9}",
            time(line),
            line.endpoint(),
            line.outcome()
        );
        for key in DETAIL_FIELDS {
            let Some(value) = line.fields.get(key) else {
                continue;
            };
            let value = match value {
                serde_json::Value::String(s) if s.is_empty() => continue,
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text.push_str(&format!("  {key}={value}"));
        }
        outln!("{}", shown(&text));
    }
}

fn count(n: u64) -> String {
    // 1234567 → 1,234,567
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn summary(summary: &Summary, query: &Query, source: &str) {
    if summary.endpoints.is_empty() {
        return;
    }
    outln!(
        "{} to {} ({source})",
        query.window.since,
        query.window.until
    );
    outln!(
        "inbound calls: {}  degraded: {}  rejected: {}  latency p50 {}  p99 {}",
        count(summary.inbound_calls),
        count(summary.degraded),
        count(summary.rejected),
        latency(summary.p50_us),
        latency(summary.p99_us)
    );
    if !summary.routes.is_empty() {
        outln!();
        outln!("{:<24}  {:>9}  outcomes", "route", "calls");
        for row in &summary.routes {
            let pattern = if row.pattern.is_empty() {
                "(none)"
            } else {
                row.pattern.as_str()
            };
            let outcomes: Vec<String> = row
                .outcomes
                .iter()
                .map(|(o, n)| format!("{o} {}", count(*n)))
                .collect();
            let line = format!(
                "{:<24}  {:>9}  {}",
                pattern,
                count(row.calls),
                outcomes.join(", ")
            );
            outln!("{}", shown(&line));
        }
    }
    outln!();
    if summary.fall_through.is_empty() {
        outln!("numbers with no route of their own: none");
    } else {
        outln!(
            "numbers with no route of their own (add a route for each: byoc routes put NUMBER ...)"
        );
        outln!(
            "{:<24}  {:>9}  {:<9}  last call",
            "number",
            "calls",
            "outcome"
        );
        for row in &summary.fall_through {
            let line = format!(
                "{:<24}  {:>9}  {:<9}  {}",
                if row.did.is_empty() {
                    "(unreadable)"
                } else {
                    &row.did
                },
                count(row.calls),
                row.outcome,
                row.last_call
            );
            outln!("{}", shown(&line));
        }
    }
    outln!();
    outln!(
        "{:<18}  {:<12}  {:>9}  {:>9}  {:>9}",
        "endpoint",
        "outcome",
        "lines",
        "p50",
        "p99"
    );
    for row in &summary.endpoints {
        let line = format!(
            "{:<18}  {:<12}  {:>9}  {:>9}  {:>9}",
            row.endpoint,
            row.outcome,
            count(row.lines),
            latency(row.p50_us),
            latency(row.p99_us)
        );
        outln!("{}", shown(&line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_written_out_not_sent() {
        assert_eq!(shown("CA\u{1b}[41mEVIL"), "CA\\u{1b}[41mEVIL");
        assert_eq!(shown("+13175551234 é"), "+13175551234 é");
    }

    #[test]
    fn counts_and_latencies_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(latency(Some(225)), "225 µs");
        assert_eq!(latency(Some(12_345)), "12.3 ms");
        assert_eq!(latency(Some(12_345_678)), "12.3 s");
        assert_eq!(latency(None), "-");
    }
}
