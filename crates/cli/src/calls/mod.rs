//! `byoc calls`: the calls the router answered, read from its call lines (a `byoc serve` log
//! file, or the deployed functions' CloudWatch log groups): recent calls, a summary (which
//! routes take calls, which numbers fall through), or every line of one call.
//!
//! | file | holds |
//! |---|---|
//! | `line.rs` | one call line, parsed |
//! | `window.rs` | `--since`/`--until` and the filters |
//! | `read.rs` | the sources (file, CloudWatch) and the progress bar |
//! | `summary.rs` | the summary, from lines or from Logs Insights |
//! | `render.rs` | the text output |

use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::json;

use crate::error::{CliResult, Exit, Failure};

pub mod line;
pub mod read;
mod render;
pub mod summary;
pub mod window;

pub use line::Call;
pub use read::{LogSource, Logs, Progress, Tally};
pub use window::{Filter, Window};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub logs: LogSource,
    /// Start of the window: an age (30m, 1h, 2d, 1w) or a time (RFC 3339, or a day)
    /// [default: 1h; 30d with --call]
    #[arg(long)]
    pub since: Option<String>,
    /// End of the window, as --since [default: now]
    #[arg(long)]
    pub until: Option<String>,
    /// Only calls to this number (read like a called number: E.164, national, SIP URI)
    #[arg(long)]
    pub number: Option<String>,
    /// Every line of this call (its CallSid), across /inbound, /inbound/next, /inbound/status,
    /// /inbound/fallback and /outbound, in order
    #[arg(long, conflicts_with = "summary")]
    pub call: Option<String>,
    /// Only lines with this outcome (matched, default, rejected, degraded, dialed, refused…)
    #[arg(long)]
    pub outcome: Option<String>,
    /// Calls per route and outcome, the numbers that fell through, counts, p50/p99 latency
    #[arg(long)]
    pub summary: bool,
    /// Recent call lines shown, the latest
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The home country --number is read in (a country code such as 44, or a region such as
    /// GB; default: DEFAULT_COUNTRY_CODE, else 1)
    #[arg(long, value_parser = parse_country)]
    pub country: Option<byoc_core::NumberPlan>,
}

fn parse_country(s: &str) -> Result<byoc_core::NumberPlan, String> {
    byoc_core::NumberPlan::new(s).map_err(|e| e.to_string())
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// What to read, beside where.
#[derive(Debug, Clone)]
pub struct Query {
    pub window: Window,
    pub filter: Filter,
    /// Recent calls kept.
    pub limit: usize,
}

impl Query {
    /// From the flags' text (the console's fields are the same).
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        number: Option<&str>,
        call: Option<&str>,
        outcome: Option<&str>,
        limit: usize,
        plan: Option<&byoc_core::NumberPlan>,
    ) -> Result<Self, String> {
        fn nonempty(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        // Whole milliseconds: what CloudWatch takes, and what reads well.
        let now = jiff::Timestamp::from_millisecond(jiff::Timestamp::now().as_millisecond())
            .map_err(|e| e.to_string())?;
        let call = nonempty(call);
        let default_since = if call.is_some() { "30d" } else { "1h" };
        let since = window::parse_time(nonempty(since).unwrap_or(default_since), now)
            .map_err(|e| format!("--since: {e}"))?;
        let until = match nonempty(until) {
            Some(t) => window::parse_time(t, now).map_err(|e| format!("--until: {e}"))?,
            // A line written this very millisecond is in.
            None => now + jiff::SignedDuration::from_millis(1),
        };
        let number = match nonempty(number) {
            None => None,
            Some(n) => {
                let fallback;
                let plan = match plan {
                    Some(plan) => plan,
                    None => {
                        fallback = byoc_core::NumberPlan::default();
                        &fallback
                    }
                };
                // Read as the router reads a called number, so it compares with `did`; what
                // travels into a query is checked by `Filter::check`.
                let address = plan
                    .normalize(n)
                    .map_err(|e| format!("--number `{n}`: {e}"))?;
                Some(address.as_str().to_string())
            }
        };
        let mut filter = Filter {
            number,
            call: call.map(str::to_string),
            outcome: nonempty(outcome).map(str::to_string),
        };
        filter.check()?;
        Ok(Self {
            window: Window::new(since, until)?,
            filter,
            limit,
        })
    }
}

/// The latest calls of a reading, oldest first, and how the reading went.
pub struct Recent {
    pub calls: Vec<Call>,
    pub tally: Tally,
}

/// Keeps the latest `keep` lines of a reading, in bounded memory.
struct Latest {
    keep: usize,
    calls: Vec<Call>,
}

impl Latest {
    fn new(query: &Query) -> Self {
        let keep = if query.filter.call.is_some() {
            usize::MAX
        } else {
            query.limit
        };
        Self {
            keep,
            calls: Vec::new(),
        }
    }

    fn push(&mut self, call: Call) {
        self.calls.push(call);
        // The oldest are dropped as the reading goes.
        if self.calls.len() >= self.keep.saturating_mul(2).max(1024) {
            self.trim();
        }
    }

    /// Keeps the `keep` latest, in time order (lines of one time keep their reading order).
    fn trim(&mut self) {
        self.calls.sort_by_key(|c| c.at);
        if self.calls.len() > self.keep {
            self.calls.drain(..self.calls.len() - self.keep);
        }
    }

    fn finish(mut self, tally: Tally) -> Recent {
        self.trim();
        Recent {
            calls: self.calls,
            tally,
        }
    }
}

/// The latest `query.limit` lines (every line when the query names a call).
pub async fn recent(logs: &Logs, query: &Query, progress: &Progress) -> Result<Recent, Failure> {
    let mut latest = Latest::new(query);
    let tally = logs
        .each(&query.window, &query.filter, progress, |call| {
            latest.push(call)
        })
        .await?;
    Ok(latest.finish(tally))
}

/// The summary and the latest lines together (the console's Calls tab): a file is read once
/// for both. On CloudWatch a summary that fails (Logs Insights refused, say) leaves the lines.
pub async fn overview(
    logs: &Logs,
    query: &Query,
    progress: &Progress,
) -> Result<(Result<summary::Summary, String>, Recent), Failure> {
    match logs {
        Logs::File(_) => {
            let mut builder = summary::Builder::default();
            let mut latest = Latest::new(query);
            let tally = logs
                .each(&query.window, &query.filter, progress, |call| {
                    builder.add(&call);
                    latest.push(call);
                })
                .await?;
            Ok((Ok(builder.finish()), latest.finish(tally)))
        }
        Logs::CloudWatch(_) => {
            let summary = logs
                .summary(&query.window, &query.filter, progress)
                .await
                .map(|(summary, _)| summary)
                .map_err(|f| format!("{:#}", f.error));
            Ok((summary, recent(logs, query, progress).await?))
        }
    }
}

pub async fn run(args: Args) -> CliResult {
    if args.number.as_deref().is_some_and(|n| n.trim().is_empty()) {
        // An empty variable in a script must not silently mean every number.
        return Err(Failure::new(Exit::Invalid, anyhow!("--number is empty")));
    }
    // Only the home country matters here: the rest of the router's settings need not be valid.
    let plan =
        match &args.country {
            Some(plan) => Some(plan.clone()),
            None => match byoc_web::config::var("DEFAULT_COUNTRY_CODE") {
                Some(code) => Some(byoc_core::NumberPlan::new(&code).map_err(|e| {
                    Failure::new(Exit::Invalid, anyhow!("DEFAULT_COUNTRY_CODE: {e}"))
                })?),
                None => None,
            },
        };
    let query = Query::parse(
        args.since.as_deref(),
        args.until.as_deref(),
        args.number.as_deref(),
        args.call.as_deref(),
        args.outcome.as_deref(),
        args.limit as usize,
        plan.as_ref(),
    )
    .map_err(|e| Failure::new(Exit::Invalid, anyhow!(e)))?;
    let logs = args.logs.open().await?;
    let progress = Progress::new();
    let source = logs.describe();
    let window =
        json!({"since": query.window.since.to_string(), "until": query.window.until.to_string()});
    let (tally, found) = if args.summary {
        let (summary, tally) = logs
            .summary(&query.window, &query.filter, &progress)
            .await?;
        match args.format {
            Format::Json => outln!(
                "{}",
                json!({"source": source, "window": window, "tally": tally, "summary": summary})
            ),
            Format::Text => render::summary(&summary, &query, &source),
        }
        (tally, summary.endpoints.iter().any(|e| e.lines > 0))
    } else {
        let recent = recent(&logs, &query, &progress).await?;
        let found = !recent.calls.is_empty();
        match args.format {
            Format::Json => {
                let lines: Vec<_> = recent.calls.iter().map(Call::to_json).collect();
                let key = if query.filter.call.is_some() {
                    "lines"
                } else {
                    "calls"
                };
                outln!(
                    "{}",
                    json!({"source": source, "window": window, "tally": recent.tally, key: lines})
                );
            }
            Format::Text if query.filter.call.is_some() => render::one_call(&recent.calls),
            Format::Text => render::recent(&recent.calls, &recent.tally, query.limit),
        }
        (recent.tally, found)
    };
    report(&tally, &query, &source, found, args.format);
    if !found && query.filter.call.is_some() {
        return Ok(Exit::NotFound.into());
    }
    Ok(ExitCode::SUCCESS)
}

/// What the reading skipped or could not finish, and an empty window, on stderr (an empty
/// window in text output on stdout, where the calls would be).
fn report(tally: &Tally, query: &Query, source: &str, found: bool, format: Format) {
    if tally.unreadable > 0 {
        eprintln!(
            "byoc calls: {} unreadable line(s) skipped (not call lines of `byoc serve --log-format json` or the functions)",
            tally.unreadable
        );
    }
    if tally.cut {
        let cut = format!(
            "stopped after {} events of a log group, before the window's end: the lines shown are the latest of those read, not of the window; narrow --since / --until",
            read::EVENTS_MAX
        );
        if format == Format::Text {
            outln!("({cut})");
        } else {
            eprintln!("byoc calls: {cut}");
        }
    }
    if !found {
        let what = match &query.filter.call {
            Some(call) => format!("no line of call {call}"),
            None => "no calls".to_string(),
        };
        let why = if tally.unreadable > 0 && tally.in_window == 0 {
            ": no line could be read (is it `byoc serve --log-format json` output, UTF-8?)"
                .to_string()
        } else if let (Some(outcome), false) = (&query.filter.outcome, tally.outcomes.is_empty()) {
            format!(
                ": no line has the outcome `{outcome}`; the window's lines have {}",
                tally
                    .outcomes
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else if tally.in_window > 0 {
            ": no line matches the filters".to_string()
        } else {
            ": widen --since".to_string()
        };
        let message = format!(
            "{what} between {} and {} in {source}{why}",
            query.window.since, query.window.until
        );
        if format == Format::Text {
            outln!("{message}");
        } else {
            eprintln!("byoc calls: {message}");
        }
    }
}
