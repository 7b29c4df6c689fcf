//! Which calls a reading takes: the time window and the filters.

use jiff::{SignedDuration, Timestamp};

use super::line::Call;

/// The longest window read: CloudWatch keeps the call lines 30 days by default, and a window is
/// read page by page, so it is bounded.
pub const MAX_WINDOW_DAYS: i64 = 400;

/// `--since` / `--until`: an age before now (`90s`, `30m`, `1h`, `2d`, `1w`) or a time (RFC 3339,
/// `2026-12-05T14:00:00Z`, or a day, `2026-12-05`, taken as UTC midnight).
pub fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Some(age) = parse_age(text) {
        return age.and_then(|age| {
            now.checked_sub(age)
                .map_err(|_| format!("`{text}` reaches before the year -9999"))
        });
    }
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    // A date and time with no zone would be read by the day parser as its day alone: a
    // window silently hours wide. Which zone was meant is the writer's to say.
    if text.len() > 10 && text.parse::<jiff::civil::DateTime>().is_ok() {
        return Err(format!(
            "`{text}` has no time zone: add Z for UTC (2026-12-05T14:00:00Z) or an offset (2026-12-05T14:00:00+01:00)"
        ));
    }
    if let Ok(day) = text.parse::<jiff::civil::Date>() {
        return day
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "`{text}` is neither an age (30m, 1h, 2d, 1w) nor a time (2026-12-05T14:00:00Z, 2026-12-05)"
    ))
}

/// `Some` when `text` is a number and a unit.
fn parse_age(text: &str) -> Option<Result<SignedDuration, String>> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    if unit_at == 0 {
        return None;
    }
    let (number, unit) = text.split_at(unit_at);
    let seconds: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    let number: i64 = match number.parse() {
        Ok(n) => n,
        Err(_) => return Some(Err(format!("`{text}` is too long an age"))),
    };
    Some(
        number
            .checked_mul(seconds)
            .map(SignedDuration::from_secs)
            .ok_or_else(|| format!("`{text}` is too long an age")),
    )
}

/// A time window, `since` included, `until` excluded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub since: Timestamp,
    pub until: Timestamp,
}

impl Window {
    pub fn new(since: Timestamp, until: Timestamp) -> Result<Self, String> {
        if since >= until {
            return Err(format!(
                "--since {since} is not before --until {until}: the window is empty"
            ));
        }
        // A minute's slack: `--since 400d` up to now is the longest window, not one too long.
        let longest =
            SignedDuration::from_hours(24 * MAX_WINDOW_DAYS) + SignedDuration::from_mins(1);
        if until.duration_since(since) > longest {
            return Err(format!(
                "the window {since} to {until} is longer than {MAX_WINDOW_DAYS} days: narrow --since"
            ));
        }
        Ok(Self { since, until })
    }

    pub fn contains(&self, at: Timestamp) -> bool {
        self.since <= at && at < self.until
    }

    /// Milliseconds since the epoch, as CloudWatch takes them.
    pub fn millis(&self) -> (i64, i64) {
        (self.since.as_millisecond(), self.until.as_millisecond())
    }
}

/// The calls asked for, beside the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// A normalized number: the line's `did`.
    pub number: Option<String>,
    pub call: Option<String>,
    pub outcome: Option<String>,
}

impl Filter {
    pub fn matches(&self, call: &Call) -> bool {
        self.number.as_deref().is_none_or(|n| did_is(call.did(), n))
            && self.call.as_deref().is_none_or(|c| call.call_sid() == c)
            && self.outcome.as_deref().is_none_or(|o| call.outcome() == o)
    }

    /// Checks values that travel into a CloudWatch filter pattern or a Logs Insights query:
    /// only the characters those values can have, so none can change the query. A CallSid is
    /// written as Twilio writes it (`CA` and lower-case hexadecimal), however it was pasted.
    pub fn check(&mut self) -> Result<(), String> {
        if let Some(call) = &mut self.call {
            let ok = call.len() == 34
                && call[..2].eq_ignore_ascii_case("CA")
                && call[2..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(format!(
                    "--call `{call}` is not a CallSid (CA and 32 hexadecimal digits)"
                ));
            }
            *call = format!("CA{}", call[2..].to_ascii_lowercase());
        }
        if let Some(number) = &self.number {
            // An E.164 number, or an address such as an extension (`4321`) or a SIP user.
            let ok = !number.is_empty()
                && number.len() <= 64
                && number
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'_' | b'-'));
            if !ok {
                return Err(format!(
                    "--number `{number}`: only a number or an address of letters, digits, + . _ - can be looked for"
                ));
            }
        }
        if let Some(outcome) = &self.outcome {
            let ok = !outcome.is_empty()
                && outcome.len() <= 32
                && outcome.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if !ok {
                return Err(format!(
                    "--outcome `{outcome}` is not an outcome (matched, default, bad_input, rejected, \
                     degraded, dialed, refused, failover, returned, ended…)"
                ));
            }
        }
        Ok(())
    }
}

/// An outbound line's `did` may carry an extension (`+13175550100;ext=12`): the number is what
/// comes before it.
fn did_is(did: &str, number: &str) -> bool {
    did == number || did.split(';').next() == Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn reads_ages_times_and_days() {
        let now = at("2026-12-05T15:00:00Z");
        assert_eq!(parse_time("1h", now), Ok(at("2026-12-05T14:00:00Z")));
        assert_eq!(parse_time("30m", now), Ok(at("2026-12-05T14:30:00Z")));
        assert_eq!(parse_time("2d", now), Ok(at("2026-12-03T15:00:00Z")));
        assert_eq!(parse_time("1w", now), Ok(at("2026-11-28T15:00:00Z")));
        assert_eq!(parse_time("90s", now), Ok(at("2026-12-05T14:58:30Z")));
        assert_eq!(
            parse_time("2026-12-05T14:00:00+01:00", now),
            Ok(at("2026-12-05T13:00:00Z"))
        );
        assert_eq!(
            parse_time("2026-12-01", now),
            Ok(at("2026-12-01T00:00:00Z"))
        );
        for bad in [
            "",
            "h",
            "1y",
            "-1h",
            "yesterday",
            "99999999999999999999d",
            "2026-13-01",
        ] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_window_is_ordered_and_bounded() {
        let now = at("2026-12-05T15:00:00Z");
        assert!(Window::new(now, now).is_err());
        assert!(Window::new(at("2020-01-01T00:00:00Z"), now).is_err());
        let w = Window::new(at("2026-12-05T14:00:00Z"), now).unwrap();
        assert!(w.contains(at("2026-12-05T14:00:00Z")));
        assert!(!w.contains(now));
    }

    #[test]
    fn filter_values_cannot_carry_query_syntax() {
        let mut ok = Filter {
            call: Some("ca0123456789abcdef0123456789ABCDEF".into()),
            outcome: Some("bad_input".into()),
            number: Some("4321".into()),
        };
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(
            ok.call.as_deref(),
            Some("CA0123456789abcdef0123456789abcdef")
        );
        for call in [
            "CA1",
            "CA0123456789abcdef0123456789ABCDE\"",
            "SM0123456789abcdef0123456789ABCDEF",
        ] {
            let mut f = Filter {
                call: Some(call.into()),
                ..Filter::default()
            };
            assert!(f.check().is_err(), "{call}");
        }
        for number in ["", "a b", "\"+1\"", "x\u{1b}[0m"] {
            let mut f = Filter {
                number: Some(number.into()),
                ..Filter::default()
            };
            assert!(f.check().is_err(), "{number:?}");
        }
        for outcome in ["", "Matched", "matched\" or 1", "a b"] {
            let mut f = Filter {
                outcome: Some(outcome.into()),
                ..Filter::default()
            };
            assert!(f.check().is_err(), "{outcome}");
        }
    }

    #[test]
    fn a_number_matches_its_extension_calls() {
        assert!(did_is("+13175550100;ext=12", "+13175550100"));
        assert!(did_is("+13175550100", "+13175550100"));
        assert!(!did_is("+131755501001", "+13175550100"));
    }
}
