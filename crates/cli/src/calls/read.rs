//! Where call lines are read from: a file of `byoc serve --log-format json` lines, or the
//! deployed functions' CloudWatch log groups (FilterLogEvents for lines, Logs Insights for the
//! summary, aggregated on the server).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use aws_sdk_cloudwatchlogs::Client;
use jiff::Timestamp;

use super::line::{Call, Line};
use super::summary::{self, Builder, Row, Summary};
use super::window::{Filter, Window};
use crate::error::{Exit, Failure};

/// Events read from CloudWatch at most for one listing: a window with more is cut, and says so.
pub const EVENTS_MAX: u64 = 500_000;

/// The outputs of template.yaml that name the functions' log groups.
pub const STACK_OUTPUTS: [&str; 2] = ["InboundLogGroupName", "OutboundLogGroupName"];

/// `--log`, `--log-group`, `--stack`: where the calls are.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct LogSource {
    /// A file of `byoc serve --log-format json` lines (its stderr); `-` reads standard input
    #[arg(long, visible_alias = "calls", value_name = "FILE", conflicts_with_all = ["log_group", "stack"])]
    pub log: Option<PathBuf>,
    /// A deployed function's CloudWatch log group (repeat for both functions')
    #[arg(long, value_name = "NAME", conflicts_with = "stack")]
    pub log_group: Vec<String>,
    /// A deployed byoc-router stack: both functions' log groups, from its outputs
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// The log groups' region [default: the AWS SDK's (AWS_REGION, profile)]
    #[arg(long)]
    pub region: Option<String>,
}

impl LogSource {
    pub fn is_set(&self) -> bool {
        self.log.is_some() || !self.log_group.is_empty() || self.stack.is_some()
    }

    /// Resolves the stack's groups and checks the file: what to read.
    pub async fn open(&self) -> Result<Logs, Failure> {
        if let Some(path) = &self.log {
            // `-` is standard input; a pipe or FIFO is read as it comes.
            if path != Path::new("-") {
                if path.is_dir() {
                    return Err(Failure::new(
                        Exit::Invalid,
                        anyhow!("{} is a directory: name the log file in it", path.display()),
                    ));
                }
                if !path.exists() {
                    return Err(Failure::new(
                        Exit::NotFound,
                        anyhow!(
                            "log file {} does not exist; write one with `byoc serve --log-format json 2> {}`",
                            path.display(),
                            path.display()
                        ),
                    ));
                }
            }
            return Ok(Logs::File(path.clone()));
        }
        let (groups, stack) = match &self.stack {
            Some(stack) => {
                let groups = crate::twilio::deployment::stack_outputs(
                    stack,
                    self.region.as_deref(),
                    STACK_OUTPUTS,
                    "read its calls",
                )
                .await?;
                (groups.to_vec(), Some(stack.clone()))
            }
            None if !self.log_group.is_empty() => {
                if let Some(bad) = self.log_group.iter().find(|g| g.trim().is_empty()) {
                    return Err(Failure::new(
                        Exit::Invalid,
                        anyhow!("--log-group `{bad}`: a log group's name is not empty"),
                    ));
                }
                (self.log_group.clone(), None)
            }
            None => {
                return Err(Failure::new(
                    Exit::Invalid,
                    anyhow!(
                        "name where the calls are: --log FILE (byoc serve --log-format json), \
                         --stack NAME, or --log-group NAME"
                    ),
                ))
            }
        };
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        let config = loader.load().await;
        Ok(Logs::CloudWatch(CloudWatch {
            client: Client::new(&config),
            groups,
            stack,
            region: config.region().map(|r| r.to_string()),
        }))
    }
}

/// An opened source of call lines.
#[derive(Clone, Debug)]
pub enum Logs {
    File(PathBuf),
    CloudWatch(CloudWatch),
}

#[derive(Clone, Debug)]
pub struct CloudWatch {
    client: Client,
    groups: Vec<String>,
    stack: Option<String>,
    region: Option<String>,
}

/// What a reading went through.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Lines (or events) read.
    pub lines: u64,
    /// Call lines in the window, before the filters.
    pub in_window: u64,
    /// Of those, the lines the filters take.
    pub matched: u64,
    /// Lines that are not call lines we can read: skipped.
    pub unreadable: u64,
    /// A log group's reading stopped at [`EVENTS_MAX`] before the window's end.
    pub cut: bool,
    /// The outcomes of the window's lines (at most [`OUTCOMES_KEPT`]): what an `--outcome`
    /// that matched nothing could have been.
    #[serde(skip)]
    pub outcomes: std::collections::BTreeSet<String>,
}

/// Distinct outcomes a tally keeps.
const OUTCOMES_KEPT: usize = 32;

impl Logs {
    pub fn describe(&self) -> String {
        match self {
            Logs::File(path) => format!("log file {}", path.display()),
            Logs::CloudWatch(cw) => format!(
                "log group{} {}{}",
                if cw.groups.len() == 1 { "" } else { "s" },
                cw.groups.join(", "),
                cw.region
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        }
    }

    /// Every call line in the window that the filter takes, in the order read (a file's order;
    /// each log group's, one group after the other).
    pub async fn each(
        &self,
        window: &Window,
        filter: &Filter,
        progress: &Progress,
        mut sink: impl FnMut(Call),
    ) -> Result<Tally, Failure> {
        let mut tally = Tally::default();
        let mut take = |line: Line, tally: &mut Tally| match line {
            Line::Call(call) => {
                if !window.contains(call.at) {
                    return;
                }
                tally.in_window += 1;
                if tally.outcomes.len() < OUTCOMES_KEPT && !tally.outcomes.contains(call.outcome())
                {
                    tally.outcomes.insert(call.outcome().to_string());
                }
                if filter.matches(&call) {
                    tally.matched += 1;
                    sink(*call);
                }
            }
            Line::Other => {}
            Line::Unreadable => tally.unreadable += 1,
        };
        match self {
            Logs::File(path) => {
                // A long file read on the runtime's thread would stall every other request of
                // the console: the thread is handed over while it reads.
                tokio::task::block_in_place(|| {
                    read_file(path, progress, |line| {
                        tally.lines += 1;
                        take(line, &mut tally)
                    })
                })?;
            }
            Logs::CloudWatch(cw) => {
                let cut = cw
                    .filter(window, filter, progress, |line, read_in_group| {
                        tally.lines += 1;
                        take(line, &mut tally);
                        read_in_group < EVENTS_MAX
                    })
                    .await?;
                tally.cut = cut;
            }
        }
        Ok(tally)
    }

    /// The summary of the window's calls: from a file, counted here; from CloudWatch, by Logs
    /// Insights on the server (the tally then counts no lines).
    pub async fn summary(
        &self,
        window: &Window,
        filter: &Filter,
        progress: &Progress,
    ) -> Result<(Summary, Tally), Failure> {
        match self {
            Logs::File(_) => {
                let mut builder = Builder::default();
                let tally = self
                    .each(window, filter, progress, |call| builder.add(&call))
                    .await?;
                Ok((builder.finish(), tally))
            }
            Logs::CloudWatch(cw) => {
                let summary = cw.insights(window, filter, progress).await?;
                let matched = summary.endpoints.iter().map(|e| e.lines).sum();
                let tally = Tally {
                    in_window: matched,
                    matched,
                    ..Tally::default()
                };
                Ok((summary, tally))
            }
        }
    }
}

fn read_file(path: &Path, progress: &Progress, mut each: impl FnMut(Line)) -> Result<(), Failure> {
    let cannot = |e: std::io::Error| anyhow!("cannot read {}: {e}", path.display());
    let (input, size): (Box<dyn Read>, u64) = if path == Path::new("-") {
        (Box::new(std::io::stdin()), 0)
    } else {
        let file = std::fs::File::open(path).map_err(cannot)?;
        // A pipe or a FIFO has no size: the bar then counts bytes only.
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(file), size)
    };
    progress.start(size, "bytes");
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let mut buf = Vec::with_capacity(4096);
    let mut done = 0u64;
    let mut first = true;
    loop {
        buf.clear();
        // A line is bounded: a file that is not a log (one huge line) cannot fill memory.
        let n = (&mut reader)
            .take(LINE_MAX as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(cannot)?;
        if n == 0 {
            break;
        }
        done += n as u64;
        if buf.len() > LINE_MAX {
            // The rest of the overlong line is passed over a buffer at a time, never held.
            if buf.last() != Some(&b'\n') {
                loop {
                    let chunk = reader.fill_buf().map_err(cannot)?;
                    if chunk.is_empty() {
                        break;
                    }
                    match chunk.iter().position(|&b| b == b'\n') {
                        Some(i) => {
                            reader.consume(i + 1);
                            done += i as u64 + 1;
                            break;
                        }
                        None => {
                            let len = chunk.len();
                            reader.consume(len);
                            done += len as u64;
                        }
                    }
                }
            }
            each(Line::Unreadable);
        } else {
            // A byte-order mark (an editor, PowerShell) before the first line.
            let line = if first {
                buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf)
            } else {
                &buf
            };
            match std::str::from_utf8(line) {
                Ok(text) => each(Line::parse(text, None)),
                Err(_) => each(Line::Unreadable),
            }
        }
        first = false;
        progress.set(done);
    }
    progress.finish();
    Ok(())
}

/// A call line is a few hundred bytes; CloudWatch's own limit on an event is 256 KB.
const LINE_MAX: usize = 256 * 1024;

impl CloudWatch {
    /// FilterLogEvents over each group, page by page; `each` gets each line and how many
    /// events of its group have been read, and returns false to stop reading that group. True
    /// when a group was left before its end.
    async fn filter(
        &self,
        window: &Window,
        filter: &Filter,
        progress: &Progress,
        mut each: impl FnMut(Line, u64) -> bool,
    ) -> Result<bool, Failure> {
        let (start, end) = window.millis();
        // A term CloudWatch matches on its side, so fewer events travel; the filter is applied
        // again exactly here. The values were checked to hold no quote.
        let pattern = match (&filter.call, &filter.number) {
            (Some(call), _) => format!("\"{call}\""),
            (None, Some(number)) => format!("\"{number}\""),
            (None, None) => format!("\"{}\"", super::line::CALL_MESSAGE),
        };
        let span = (end - start).max(1) as u64;
        progress.start(span * self.groups.len() as u64, "ms");
        let mut cut = false;
        'groups: for (n, group) in self.groups.iter().enumerate() {
            let offset = span * n as u64;
            let mut token: Option<String> = None;
            let mut read = 0u64;
            loop {
                let page = self
                    .client
                    .filter_log_events()
                    .log_group_name(group)
                    .start_time(start)
                    .end_time(end)
                    .filter_pattern(&pattern)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| {
                        self.failure(
                            group,
                            aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e).to_string(),
                        )
                    })?;
                for event in page.events() {
                    let at = event
                        .timestamp()
                        .and_then(|ms| Timestamp::from_millisecond(ms).ok());
                    if let Some(ms) = event.timestamp() {
                        progress.set(offset + ((ms - start).max(0) as u64).min(span));
                    }
                    read += 1;
                    if !each(Line::parse(event.message().unwrap_or(""), at), read) {
                        cut = true;
                        continue 'groups;
                    }
                }
                match page.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_string()),
                    _ => break,
                }
            }
        }
        progress.finish();
        Ok(cut)
    }

    /// The summary's four Logs Insights queries, run at once, polled until complete.
    async fn insights(
        &self,
        window: &Window,
        filter: &Filter,
        progress: &Progress,
    ) -> Result<Summary, Failure> {
        let (start, end) = window.millis();
        let mut clause = String::new();
        if let Some(number) = &filter.number {
            clause.push_str(&format!(" and did = \"{number}\""));
        }
        if let Some(call) = &filter.call {
            clause.push_str(&format!(" and call_sid = \"{call}\""));
        }
        if let Some(outcome) = &filter.outcome {
            clause.push_str(&format!(" and outcome = \"{outcome}\""));
        }
        progress.start(4, "queries");
        let mut ids = Vec::with_capacity(4);
        for query in summary::insights_queries(&clause) {
            let started = self
                .client
                .start_query()
                .set_log_group_names(Some(self.groups.clone()))
                // Insights takes seconds.
                .start_time(start / 1000)
                .end_time((end + 999) / 1000)
                .query_string(query)
                .send()
                .await
                .map_err(|e| {
                    let text = aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e).to_string();
                    self.failure(&self.groups.join(", "), text)
                })?;
            ids.push(started.query_id().unwrap_or_default().to_string());
        }
        let mut answers: Vec<Vec<Row>> = Vec::with_capacity(4);
        let began = Instant::now();
        for id in &ids {
            let mut wait = Duration::from_millis(250);
            loop {
                let answer = self
                    .client
                    .get_query_results()
                    .query_id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        Failure::new(
                            Exit::Unreachable,
                            anyhow!(
                                "Logs Insights: {}",
                                aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e)
                            ),
                        )
                    })?;
                let status = answer.status().map(|s| s.as_str()).unwrap_or("");
                match status {
                    "Complete" => {
                        answers.push(
                            answer
                                .results()
                                .iter()
                                .map(|row| {
                                    row.iter()
                                        .filter_map(|f| {
                                            Some((f.field()?.to_string(), f.value()?.to_string()))
                                        })
                                        .collect()
                                })
                                .collect(),
                        );
                        break;
                    }
                    "Scheduled" | "Running" | "Unknown" | "" if began.elapsed() < INSIGHTS_WAIT => {
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(2));
                    }
                    "Scheduled" | "Running" | "Unknown" | "" => {
                        for id in &ids {
                            let _ = self.client.stop_query().query_id(id).send().await;
                        }
                        return Err(Failure::new(
                            Exit::Unreachable,
                            anyhow!(
                                "Logs Insights did not finish in {} s: narrow --since",
                                INSIGHTS_WAIT.as_secs()
                            ),
                        ));
                    }
                    other => {
                        return Err(Failure::new(
                            Exit::Unreachable,
                            anyhow!("Logs Insights query {id} ended {other}"),
                        ))
                    }
                }
            }
            progress.set(answers.len() as u64);
        }
        progress.finish();
        let [a, b, c, d]: [Vec<Row>; 4] = answers
            .try_into()
            .map_err(|_| anyhow!("Logs Insights: an answer is missing"))?;
        summary::from_insights([&a, &b, &c, &d]).map_err(|e| {
            Failure::new(
                Exit::Unreachable,
                anyhow!("Logs Insights answered what is not a summary: {e}"),
            )
        })
    }

    fn failure(&self, group: &str, text: String) -> Failure {
        if text.contains("ResourceNotFoundException") || text.contains("does not exist") {
            let shows = match &self.stack {
                Some(stack) => format!(
                    "`aws cloudformation describe-stacks --stack-name {stack} --query \"Stacks[0].Outputs\"` shows the stack's log groups"
                ),
                None => "`aws cloudformation describe-stacks --stack-name STACK --query \"Stacks[0].Outputs\"` shows a stack's log groups (InboundLogGroupName, OutboundLogGroupName), or use --stack STACK".to_string(),
            };
            return Failure::new(
                Exit::NotFound,
                anyhow!(
                    "log group `{group}` does not exist{}: {shows}",
                    self.region
                        .as_deref()
                        .map(|r| format!(" in {r}"))
                        .unwrap_or_default()
                ),
            );
        }
        Failure::new(
            Exit::Unreachable,
            anyhow!("cannot read log group `{group}`: {text}"),
        )
    }
}

/// How long the summary waits for Logs Insights.
const INSIGHTS_WAIT: Duration = Duration::from_secs(120);

/// A progress bar that appears only when a reading lasts (and stderr is a terminal).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    shown: std::sync::atomic::AtomicBool,
}

/// A reading shorter than this shows no bar.
const PROGRESS_AFTER: Duration = Duration::from_secs(2);

impl Progress {
    pub fn new() -> Self {
        Self {
            bar: Some(indicatif::ProgressBar::hidden()),
            started: Instant::now(),
            shown: false.into(),
        }
    }

    /// No bar at all (the console).
    pub fn none() -> Self {
        Self {
            bar: None,
            started: Instant::now(),
            shown: false.into(),
        }
    }

    fn start(&self, len: u64, unit: &str) {
        if let Some(bar) = &self.bar {
            bar.set_length(len);
            bar.set_position(0);
            let template = match unit {
                "bytes" => "{bar:40} {bytes}/{total_bytes}  {bytes_per_sec}  eta {eta}",
                "ms" => "{bar:40} {percent}% of the window  eta {eta}",
                _ => "{bar:40} {pos}/{len} queries  {elapsed}",
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
        }
    }

    fn set(&self, pos: u64) {
        let Some(bar) = &self.bar else { return };
        bar.set_position(pos);
        if !self.shown.load(std::sync::atomic::Ordering::Relaxed)
            && self.started.elapsed() >= PROGRESS_AFTER
        {
            self.shown.store(true, std::sync::atomic::Ordering::Relaxed);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
