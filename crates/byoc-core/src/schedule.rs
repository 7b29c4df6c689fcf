//! Opening hours for a route: an IANA time zone, weekly hours, dated exceptions (holidays and
//! special hours), and the actions for "closed" and (optionally) named holidays.
//!
//! Hours are wall-clock times in the route's time zone, so `08:00` stays 08:00 local across DST
//! changes. A range whose end is not after its start runs overnight: `fri 22:00-06:00` is open
//! from Friday 22:00 to Saturday 06:00.
//!
//! # Precedence at an instant (local date D, local time T)
//! 1. An exception for D without hours closes D all day (a holiday): the `holiday` action if the
//!    exception has a name and the schedule has one, else `closed`. It also ends an overnight
//!    range spilling over from D-1.
//! 2. Open if T is within D's ranges: the exception's `hours` if there is an exception for D,
//!    else the weekly hours for D's weekday.
//! 3. Open if an overnight range of D-1 (exception or weekly, as above) runs past T.
//! 4. Otherwise `closed`.

use std::fmt::Write as _;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The serialized form: a JSON object in route files, JSON text in CSV and DynamoDB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// IANA time zone, e.g. `America/Indiana/Indianapolis`.
    pub timezone: String,
    /// Weekly hours: `"mon-fri 08:00-18:00"`, `"sat,sun 10:00-14:00"`, `"daily 00:00-24:00"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<String>,
    /// Dated exceptions, checked before the weekly hours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionSpec>,
    /// What a call gets when closed: a flat action object such as `{"action": "redirect",
    /// "url": "…"}` (the route's own fields, without `pattern`).
    pub closed: serde_json::Map<String, serde_json::Value>,
    /// What a call gets on a named closed-all-day exception; `closed` if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holiday: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One dated exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionSpec {
    /// `2026-12-25` (that day) or `12-25` (every year).
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Special hours for the day (`"09:00-12:00"`); absent: closed all day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Vec<String>>,
}

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("not a schedule object: {0}")]
    Json(String),
    #[error("`{0}` is not an IANA time zone (such as America/Indiana/Indianapolis)")]
    TimeZone(String),
    #[error("hours `{0}`: {1}")]
    Hours(String, String),
    #[error("exception date `{0}`: write YYYY-MM-DD, or MM-DD for every year")]
    Date(String),
    #[error("exception {0} appears twice")]
    DuplicateDate(String),
    #[error("exception `{0}`: a name is at most 64 characters without control characters")]
    Name(String),
    #[error("`{0}` action: {1}")]
    Action(&'static str, String),
    #[error("a schedule needs weekly `hours` or an exception with hours (else it is never open)")]
    NeverOpen,
}

/// A time range within a day, in minutes since local midnight; `end <= start` runs overnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u16,
    end: u16,
}

impl Range {
    fn overnight(self) -> bool {
        self.end <= self.start
    }

    /// Covers minute `m` of its own day.
    fn covers_today(self, m: u16) -> bool {
        if self.overnight() {
            m >= self.start
        } else {
            (self.start..self.end).contains(&m)
        }
    }

    /// Covers minute `m` of the next day (overnight ranges only).
    fn covers_tomorrow(self, m: u16) -> bool {
        self.overnight() && m < self.end
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DateRule {
    On(Date),
    Annual { month: i8, day: i8 },
}

impl DateRule {
    fn matches(&self, d: Date) -> bool {
        match self {
            DateRule::On(date) => *date == d,
            DateRule::Annual { month, day } => d.month() == *month && d.day() == *day,
        }
    }
}

#[derive(Debug, Clone)]
struct Exception {
    date: DateRule,
    text: String,
    name: Option<String>,
    /// `None`: closed all day.
    hours: Option<Vec<Range>>,
}

/// Which branch of a scheduled route applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    Open,
    Closed,
    Holiday,
}

impl Branch {
    pub fn as_str(self) -> &'static str {
        match self {
            Branch::Open => "open",
            Branch::Closed => "closed",
            Branch::Holiday => "holiday",
        }
    }
}

/// The branch at an instant and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub branch: Branch,
    pub why: String,
}

/// A validated schedule. The actions are kept as their flat objects; the route module turns
/// them into actions (it owns action validation).
#[derive(Debug, Clone)]
pub struct Schedule {
    tz: TimeZone,
    spec: ScheduleSpec,
    /// Weekly ranges by weekday, Monday first.
    weekly: [Vec<(Range, String)>; 7],
    exceptions: Vec<Exception>,
}

/// Two schedules are the same when their specs are.
impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Eq for Schedule {}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(s: &str) -> Option<usize> {
    DAYS.iter().position(|d| *d == s)
}

fn weekday_index(w: Weekday) -> usize {
    usize::from(w.to_monday_zero_offset().unsigned_abs())
}

/// `HH:MM` (00:00 to 24:00) as minutes.
fn minutes(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn range(s: &str) -> Result<Range, String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("`{s}` is not HH:MM-HH:MM"))?;
    let start = minutes(a.trim()).ok_or_else(|| format!("`{a}` is not a time 00:00 to 24:00"))?;
    let end = minutes(b.trim()).ok_or_else(|| format!("`{b}` is not a time 00:00 to 24:00"))?;
    if start == 24 * 60 {
        return Err("a range cannot start at 24:00".into());
    }
    if start == end {
        return Err(format!("`{s}` is empty (write 00:00-24:00 for all day)"));
    }
    // 24:00 as an end is midnight: keep it as 1440 so the range is not mistaken for overnight.
    Ok(Range { start, end })
}

/// `mon-fri`, `sat,sun`, `fri-mon`, `daily` → the weekdays covered.
fn days(s: &str) -> Result<[bool; 7], String> {
    let mut out = [false; 7];
    if s == "daily" {
        return Ok([true; 7]);
    }
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b) = (
            day_index(a.trim()).ok_or_else(|| format!("`{a}` is not a day (mon … sun, daily)"))?,
            day_index(b.trim()).ok_or_else(|| format!("`{b}` is not a day (mon … sun, daily)"))?,
        );
        let mut i = a;
        loop {
            out[i] = true;
            if i == b {
                break;
            }
            i = (i + 1) % 7;
        }
    }
    Ok(out)
}

fn date_rule(s: &str) -> Option<DateRule> {
    let s = s.trim();
    if let Ok(date) = s.parse::<Date>() {
        return Some(DateRule::On(date));
    }
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (month, day): (i8, i8) = (m.parse().ok()?, d.parse().ok()?);
    // Valid in a leap year (so 02-29 is allowed).
    Date::new(2028, month, day).ok()?;
    Some(DateRule::Annual { month, day })
}

impl Schedule {
    /// Parses and validates a schedule from its JSON text.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let spec: ScheduleSpec =
            serde_json::from_str(text).map_err(|e| ScheduleError::Json(e.to_string()))?;
        Self::from_spec(spec)
    }

    pub fn from_spec(spec: ScheduleSpec) -> Result<Self, ScheduleError> {
        let tz = TimeZone::get(spec.timezone.trim())
            .map_err(|_| ScheduleError::TimeZone(spec.timezone.clone()))?;
        let mut weekly: [Vec<(Range, String)>; 7] = Default::default();
        for line in &spec.hours {
            let bad = |why: String| ScheduleError::Hours(line.clone(), why);
            let (d, r) = line
                .trim()
                .split_once(' ')
                .ok_or_else(|| bad("write DAYS HH:MM-HH:MM, e.g. mon-fri 08:00-18:00".into()))?;
            let covered = days(d.trim()).map_err(bad)?;
            let r = range(r.trim()).map_err(bad)?;
            for (i, on) in covered.iter().enumerate() {
                if *on {
                    weekly[i].push((r, line.trim().to_string()));
                }
            }
        }
        let mut exceptions: Vec<Exception> = Vec::new();
        for e in &spec.exceptions {
            let date = date_rule(&e.date).ok_or_else(|| ScheduleError::Date(e.date.clone()))?;
            if exceptions.iter().any(|x| x.date == date) {
                return Err(ScheduleError::DuplicateDate(e.date.clone()));
            }
            if let Some(name) = &e.name {
                if name.chars().count() > 64 || name.chars().any(char::is_control) {
                    return Err(ScheduleError::Name(name.clone()));
                }
            }
            let hours = match &e.hours {
                None => None,
                Some(list) => Some(
                    list.iter()
                        .map(|h| range(h).map_err(|why| ScheduleError::Hours(h.clone(), why)))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            exceptions.push(Exception {
                date,
                text: e.date.trim().to_string(),
                name: e.name.clone(),
                hours,
            });
        }
        let any_hours = weekly.iter().any(|w| !w.is_empty())
            || exceptions
                .iter()
                .any(|e| e.hours.as_ref().is_some_and(|h| !h.is_empty()));
        if !any_hours {
            return Err(ScheduleError::NeverOpen);
        }
        Ok(Self {
            tz,
            spec,
            weekly,
            exceptions,
        })
    }

    pub fn spec(&self) -> &ScheduleSpec {
        &self.spec
    }

    /// Compact JSON text with sorted keys (what CSV cells and DynamoDB items hold; the same
    /// text whichever way the schedule was written).
    pub fn to_json(&self) -> String {
        serde_json::to_value(&self.spec)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    fn exception(&self, d: Date) -> Option<&Exception> {
        // A dated exception wins over an annual one for the same day.
        self.exceptions
            .iter()
            .find(|e| matches!(e.date, DateRule::On(_)) && e.date.matches(d))
            .or_else(|| self.exceptions.iter().find(|e| e.date.matches(d)))
    }

    /// The ranges in force on `d`, with what defines them.
    fn ranges(&self, d: Date) -> Vec<(Range, String)> {
        match self.exception(d) {
            Some(e) => e
                .hours
                .iter()
                .flatten()
                .map(|r| (*r, format!("exception {} {r}", e.text)))
                .collect(),
            None => self.weekly[weekday_index(d.weekday())].clone(),
        }
    }

    /// Which branch applies at `at`, and why (with the local time, for operators).
    pub fn evaluate(&self, at: Timestamp) -> Evaluation {
        let local = at.to_zoned_datetime(self.tz.clone());
        let (date, time) = (local.date(), local.time());
        let m =
            u16::from(time.hour().unsigned_abs()) * 60 + u16::from(time.minute().unsigned_abs());
        let mut when = String::new();
        let _ = write!(
            when,
            "local {} {} {}",
            DAYS[weekday_index(date.weekday())],
            local.strftime("%Y-%m-%d %H:%M %Z"),
            self.spec.timezone.trim()
        );
        if let Some(e) = self.exception(date).filter(|e| e.hours.is_none()) {
            let label = e.name.as_deref().unwrap_or("closed all day");
            let branch = if e.name.is_some() && self.spec.holiday.is_some() {
                Branch::Holiday
            } else {
                Branch::Closed
            };
            return Evaluation {
                branch,
                why: format!(
                    "{}: exception {} ({label}); {when}",
                    branch.as_str(),
                    e.text
                ),
            };
        }
        if let Some((_, source)) = self.ranges(date).iter().find(|(r, _)| r.covers_today(m)) {
            return Evaluation {
                branch: Branch::Open,
                why: format!("open: {source}; {when}"),
            };
        }
        if let Ok(yesterday) = date.yesterday() {
            if let Some((_, source)) = self
                .ranges(yesterday)
                .iter()
                .find(|(r, _)| r.covers_tomorrow(m))
            {
                return Evaluation {
                    branch: Branch::Open,
                    why: format!("open: {source} (overnight from the day before); {when}"),
                };
            }
        }
        Evaluation {
            branch: Branch::Closed,
            why: format!("closed: outside the hours; {when}"),
        }
    }
}

/// Why a call time given by a person (`byoc routes resolve --at`, the console's "Test a call")
/// was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallTimeError {
    #[error("`{at}` is not an RFC 3339 time such as 2026-12-25T10:00:00Z, `now`, or a local date-time such as 2026-12-24T19:00 (in --tz): {reason}")]
    NotATime { at: String, reason: String },
    #[error("`{at}` in `{tz}`: {reason}")]
    Zone {
        at: String,
        tz: String,
        reason: String,
    },
}

/// When a test call happens: `now` (or nothing), an RFC 3339 time, or a local date-time in the
/// IANA zone `tz` (UTC without one). The one reading of a call time for the CLI and the console.
pub fn call_time(at: Option<&str>, tz: Option<&str>) -> Result<Timestamp, CallTimeError> {
    let Some(at) = at
        .map(str::trim)
        .filter(|a| !a.is_empty() && !a.eq_ignore_ascii_case("now"))
    else {
        return Ok(Timestamp::now());
    };
    if let Ok(ts) = at.parse::<Timestamp>() {
        return Ok(ts);
    }
    let civil: jiff::civil::DateTime = at.parse().map_err(|e| CallTimeError::NotATime {
        at: at.to_string(),
        reason: format!("{e}"),
    })?;
    let tz = tz.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("UTC");
    civil
        .in_tz(tz)
        .map(|z| z.timestamp())
        .map_err(|e| CallTimeError::Zone {
            at: at.to_string(),
            tz: tz.to_string(),
            reason: format!("{e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(json: &str) -> Schedule {
        Schedule::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn branch(s: &Schedule, when: &str) -> Branch {
        s.evaluate(at(when)).branch
    }

    const INDY: &str = r#"{"timezone": "America/Indiana/Indianapolis",
        "hours": ["mon-fri 08:00-18:00", "sat 09:00-13:00", "fri 22:00-06:00", "sat 23:00-04:00"],
        "exceptions": [
            {"date": "12-25", "name": "Christmas"},
            {"date": "2026-12-24", "name": "Christmas Eve", "hours": ["08:00-12:00"]},
            {"date": "2026-11-26"}
        ],
        "closed": {"action": "redirect", "url": "https://x.example.com/voicemail"},
        "holiday": {"action": "say", "text": "Happy holidays"}}"#;

    #[test]
    fn weekly_hours_in_local_time_across_dst() {
        let s = schedule(INDY);
        // Indianapolis: EDT (UTC-4) until 2026-11-01 02:00 local, then EST (UTC-5).
        // Friday 2026-10-30 08:00 EDT = 12:00Z; Friday 2026-11-06 08:00 EST = 13:00Z.
        assert_eq!(branch(&s, "2026-10-30T11:59:00Z"), Branch::Closed);
        assert_eq!(branch(&s, "2026-10-30T12:00:00Z"), Branch::Open);
        assert_eq!(branch(&s, "2026-11-06T12:30:00Z"), Branch::Closed);
        assert_eq!(branch(&s, "2026-11-06T13:00:00Z"), Branch::Open);
        // 18:00 is the first closed minute.
        assert_eq!(branch(&s, "2026-11-06T22:59:00Z"), Branch::Open);
        assert_eq!(branch(&s, "2026-11-06T23:00:00Z"), Branch::Closed);
        // Spring forward 2026-03-08 (Sunday): Monday 03-09 08:00 EDT = 12:00Z; Friday 03-06
        // 08:00 EST = 13:00Z.
        assert_eq!(branch(&s, "2026-03-06T12:30:00Z"), Branch::Closed);
        assert_eq!(branch(&s, "2026-03-09T12:00:00Z"), Branch::Open);
        let why = s.evaluate(at("2026-03-09T12:00:00Z")).why;
        assert!(why.contains("mon-fri 08:00-18:00"), "{why}");
        assert!(why.contains("local mon 2026-03-09 08:00 EDT"), "{why}");
    }

    #[test]
    fn overnight_ranges_run_into_the_next_day() {
        let s = schedule(INDY);
        // Friday 2026-11-06 22:00 EST = Saturday 03:00Z; open until Saturday 06:00 EST = 11:00Z.
        assert_eq!(branch(&s, "2026-11-07T02:59:00Z"), Branch::Closed);
        assert_eq!(branch(&s, "2026-11-07T03:00:00Z"), Branch::Open);
        assert_eq!(branch(&s, "2026-11-07T10:59:00Z"), Branch::Open);
        let why = s.evaluate(at("2026-11-07T10:59:00Z")).why;
        assert!(why.contains("overnight from the day before"), "{why}");
        assert_eq!(branch(&s, "2026-11-07T11:00:00Z"), Branch::Closed);
        // Saturday's own hours 09:00-13:00 EST.
        assert_eq!(branch(&s, "2026-11-07T14:00:00Z"), Branch::Open);
        // Fri 10-30 22:00 EDT to Sat 06:00 EDT.
        assert_eq!(branch(&s, "2026-10-31T02:00:00Z"), Branch::Open);
        assert_eq!(branch(&s, "2026-10-31T09:59:00Z"), Branch::Open);
        assert_eq!(branch(&s, "2026-10-31T10:00:00Z"), Branch::Closed);
        // Across the fall-back night: Sat 10-31 23:00 EDT (03:00Z) to Sun 11-01 04:00 EST
        // (09:00Z), six hours, through both 01:30s.
        assert_eq!(branch(&s, "2026-11-01T02:59:00Z"), Branch::Closed);
        assert_eq!(branch(&s, "2026-11-01T03:00:00Z"), Branch::Open);
        assert_eq!(branch(&s, "2026-11-01T05:30:00Z"), Branch::Open); // 01:30 EDT
        assert_eq!(branch(&s, "2026-11-01T06:30:00Z"), Branch::Open); // 01:30 EST
        assert_eq!(branch(&s, "2026-11-01T08:59:00Z"), Branch::Open);
        assert_eq!(branch(&s, "2026-11-01T09:00:00Z"), Branch::Closed);
    }

    #[test]
    fn holidays_and_special_hours() {
        let s = schedule(INDY);
        // Christmas (every year), a Friday in 2026: the holiday action, all day.
        let e = s.evaluate(at("2026-12-25T15:00:00Z"));
        assert_eq!(e.branch, Branch::Holiday);
        assert!(e.why.contains("Christmas"), "{}", e.why);
        assert_eq!(branch(&s, "2027-12-25T15:00:00Z"), Branch::Holiday);
        // Christmas Eve 2026 (Thursday): 08:00-12:00 only.
        assert_eq!(branch(&s, "2026-12-24T14:00:00Z"), Branch::Open);
        assert_eq!(branch(&s, "2026-12-24T17:00:00Z"), Branch::Closed);
        // An unnamed closed day (Thanksgiving 2026, a Thursday) is plain `closed`.
        let e = s.evaluate(at("2026-11-26T15:00:00Z"));
        assert_eq!(e.branch, Branch::Closed);
        assert!(e.why.contains("closed all day"), "{}", e.why);
        // A holiday closes the morning an overnight range would have covered: Friday 2027-12-24
        // 22:00 runs into Christmas, which wins.
        assert_eq!(branch(&s, "2027-12-25T05:00:00Z"), Branch::Holiday);
        // Without a holiday action, named holidays are `closed`.
        let mut spec: serde_json::Value = serde_json::from_str(INDY).unwrap();
        spec.as_object_mut().unwrap().remove("holiday");
        let plain = schedule(&spec.to_string());
        assert_eq!(branch(&plain, "2026-12-25T15:00:00Z"), Branch::Closed);
    }

    #[test]
    fn bad_schedules_are_refused_with_reasons() {
        let closed = r#""closed": {"action": "hangup"}"#;
        for (json, why) in [
            (
                format!(
                    r#"{{"timezone": "Mars/Olympus", "hours": ["daily 00:00-24:00"], {closed}}}"#
                ),
                "not an IANA time zone",
            ),
            (
                format!(r#"{{"timezone": "UTC", "hours": ["weekdays 08:00-18:00"], {closed}}}"#),
                "is not a day",
            ),
            (
                format!(r#"{{"timezone": "UTC", "hours": ["mon 8:00-18:00"], {closed}}}"#),
                "is not a time",
            ),
            (
                format!(r#"{{"timezone": "UTC", "hours": ["mon 25:00-18:00"], {closed}}}"#),
                "is not a time",
            ),
            (
                format!(r#"{{"timezone": "UTC", "hours": ["mon 08:00-08:00"], {closed}}}"#),
                "is empty",
            ),
            (
                format!(r#"{{"timezone": "UTC", "hours": ["mon"], {closed}}}"#),
                "write DAYS",
            ),
            (format!(r#"{{"timezone": "UTC", {closed}}}"#), "never open"),
            (
                format!(
                    r#"{{"timezone": "UTC", "hours": ["daily 00:00-24:00"], "exceptions": [{{"date": "2026-02-30"}}], {closed}}}"#
                ),
                "write YYYY-MM-DD",
            ),
            (
                format!(
                    r#"{{"timezone": "UTC", "hours": ["daily 00:00-24:00"], "exceptions": [{{"date": "12-25"}}, {{"date": "12-25"}}], {closed}}}"#
                ),
                "twice",
            ),
            (
                r#"{"timezone": "UTC", "hours": ["daily 00:00-24:00"]}"#.to_string(),
                "missing field `closed`",
            ),
            (
                format!(
                    r#"{{"timezone": "UTC", "hours": ["daily 00:00-24:00"], "colour": 1, {closed}}}"#
                ),
                "unknown field",
            ),
        ] {
            let err = Schedule::parse(&json).unwrap_err().to_string();
            assert!(err.contains(why), "{json}: {err}");
        }
        // Every day and all day, annual 02-29 and a wrapping day range are fine.
        let s = schedule(&format!(
            r#"{{"timezone": "UTC", "hours": ["sat-mon 00:00-24:00"], "exceptions": [{{"date": "02-29"}}], {closed}}}"#
        ));
        assert_eq!(branch(&s, "2026-11-29T12:00:00Z"), Branch::Open); // Sunday
        assert_eq!(branch(&s, "2026-11-30T23:59:00Z"), Branch::Open); // Monday
        assert_eq!(branch(&s, "2026-12-01T00:00:00Z"), Branch::Closed); // Tuesday
    }

    #[test]
    fn call_times_are_now_rfc3339_or_local_in_a_zone() {
        let before = Timestamp::now();
        assert!(call_time(None, None).unwrap() >= before);
        assert!(call_time(Some(" NOW "), Some("Europe/London")).unwrap() >= before);
        assert_eq!(
            call_time(Some("2026-12-25T10:00:00-05:00"), Some("Asia/Tokyo")).unwrap(),
            "2026-12-25T15:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            call_time(Some("2026-12-24T19:00"), None).unwrap(),
            "2026-12-24T19:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            call_time(Some("2026-07-01T09:00"), Some("Europe/London")).unwrap(),
            "2026-07-01T08:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(matches!(
            call_time(Some("tomorrow"), None),
            Err(CallTimeError::NotATime { .. })
        ));
        let zone = call_time(Some("2026-12-24T19:00"), Some("Mars/Olympus")).unwrap_err();
        assert!(matches!(zone, CallTimeError::Zone { .. }));
        assert!(zone.to_string().contains("Mars/Olympus"), "{zone}");
    }
}
