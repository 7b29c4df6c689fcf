//! `byoc routes …` and `byoc table …`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use byoc_core::import::{self, Format};
use byoc_core::{NumberPlan, RouteRecord};
use byoc_dynamodb::{DynamoStore, Profile};
use byoc_store::admin::{self, AdminError, Edit, ImportPlan};
use byoc_store::{Expect, StoredRoute};
use byoc_web::Config;
use clap::builder::PossibleValuesParser;

use crate::error::{CliResult, Exit};
use crate::resolve::{self, summary};
use crate::source::Source;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show which route a number gets, and why.
    Resolve(resolve::Args),
    /// Print one route (with its version) as JSON.
    Get {
        pattern: String,
        #[command(flatten)]
        source: Source,
    },
    /// List routes, sorted by pattern.
    List {
        /// Only patterns starting with this text (e.g. +1317)
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        source: Source,
    },
    /// Create a route, or update one with --expect-version / --replace.
    Put(Box<PutArgs>),
    /// Delete a route.
    Delete {
        pattern: String,
        /// Delete only if the route is at this version
        #[arg(long)]
        expect_version: Option<u64>,
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        actor: Actor,
    },
    /// Show who changed a route, when, and from what to what.
    History {
        pattern: String,
        #[command(flatten)]
        source: Source,
    },
    /// Import routes from a JSON route file, CSV, or a flex-inbound-sip-router config.
    Import {
        file: PathBuf,
        #[arg(long, default_value = "auto", value_parser = PossibleValuesParser::new(Format::IMPORT_NAMES))]
        format: String,
        /// Print what would change, write nothing
        #[arg(long)]
        dry_run: bool,
        /// Also delete routes that are not in the file
        #[arg(long)]
        prune: bool,
        /// Confirm a prune that deletes the `*` route or more than 10 routes (and 10 %)
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        actor: Actor,
    },
    /// Report routes that are valid but will not do what was meant (loops, plain http, another
    /// account's URLs, schedules that never open, past holidays, chain and split repeats,
    /// shadowed caller conditions, routes that repeat `*`). Exit 0 when clean, 1 with findings.
    Lint {
        /// The router's public base URL, to find redirects into its own webhooks [default:
        /// PUBLIC_BASE_URL]
        #[arg(long, env = "PUBLIC_BASE_URL")]
        base_url: Option<String>,
        /// text or json
        #[arg(long, value_enum, default_value_t = LintFormat::Text)]
        format: LintFormat,
        #[command(flatten)]
        source: Source,
    },
    /// Export every route as JSON or CSV (what `import` reads back).
    Export {
        #[arg(long, default_value = "json", value_parser = PossibleValuesParser::new(Format::EXPORT_NAMES))]
        format: String,
        /// Write here instead of standard output
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        source: Source,
    },
}

#[derive(clap::Subcommand)]
pub enum TableCommand {
    /// Create the routes table (for local use; production tables come from template.yaml).
    Create {
        #[arg(long, env = "ROUTES_TABLE")]
        table: String,
    },
    /// Bring a table made before the routes index up to date (adds the index if missing, then
    /// gives every route its list shard). Safe to run again.
    Migrate {
        #[arg(long, env = "ROUTES_TABLE")]
        table: String,
    },
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum LintFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
    Csv,
}

/// Who is making a change (recorded in `updated_by` and the history).
#[derive(clap::Args, Clone, Debug)]
pub struct Actor {
    /// Name recorded with the change [default: $USER]
    #[arg(long = "actor", id = "actor", env = "BYOC_ACTOR")]
    pub name: Option<String>,
}

impl Actor {
    pub fn get(&self) -> String {
        self.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| byoc_web::config::var("USER"))
            .unwrap_or_else(|| "unknown".to_string())
    }
}

/// `byoc routes put`: every field of the route model has a flag. On an existing route
/// (`--expect-version N` or `--replace`) only the fields named change; `--clear FIELD` removes
/// one; `--json` gives the whole route.
#[derive(clap::Args)]
pub struct PutArgs {
    /// The pattern (+13175551234, +1317555*, *, an extension); `PATTERN@sip-domain` names a
    /// scoped route
    pub pattern: String,
    /// The whole route as a flat JSON object, as in a route file (text, or @FILE); the other
    /// flags change it further. Without it, an update starts from the stored route
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
    /// redirect (default), dial, sip, say, reject, hangup, client, application, enqueue, play,
    /// refer, conference, twiml, split. Changing it drops the old action's own fields
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long)]
    pub method: Option<String>,
    #[arg(long)]
    pub number: Option<String>,
    #[arg(long)]
    pub byoc: Option<String>,
    #[arg(long)]
    pub caller_id: Option<String>,
    #[arg(long)]
    pub timeout: Option<String>,
    #[arg(long)]
    pub uri: Option<String>,
    #[arg(long)]
    pub text: Option<String>,
    #[arg(long)]
    pub voice: Option<String>,
    #[arg(long)]
    pub language: Option<String>,
    #[arg(long)]
    pub reason: Option<String>,
    /// `client`: the Voice SDK identity
    #[arg(long)]
    pub identity: Option<String>,
    /// `application`: the TwiML App SID (AP…)
    #[arg(long)]
    pub application: Option<String>,
    /// `application`: custom parameters, `a=1&b=2` or a JSON object (text, or @FILE)
    #[arg(long)]
    pub parameters: Option<String>,
    /// `enqueue`: the TaskRouter workflow SID (WW…)
    #[arg(long)]
    pub workflow: Option<String>,
    /// `enqueue`: task attributes, a JSON object (text, or @FILE)
    #[arg(long)]
    pub task_attributes: Option<String>,
    /// `conference`: the room name
    #[arg(long)]
    pub name: Option<String>,
    /// `twiml`: the TwiML fragment (text, or @FILE)
    #[arg(long)]
    pub twiml: Option<String>,
    /// Opening hours, a JSON object (text, or @FILE)
    #[arg(long)]
    pub schedule: Option<String>,
    /// Caller conditions, a JSON array (text, or @FILE)
    #[arg(long)]
    pub callers: Option<String>,
    /// `dial`: a failover chain, a JSON array of targets (text, or @FILE)
    #[arg(long)]
    pub targets: Option<String>,
    /// `dial` with targets: the action after the last target, a JSON object (text, or @FILE)
    #[arg(long = "final", value_name = "FINAL")]
    pub final_action: Option<String>,
    /// `split`: the shares, a JSON array of actions with `weight` (text, or @FILE)
    #[arg(long)]
    pub shares: Option<String>,
    /// The SIP domain the route is limited to
    #[arg(long)]
    pub scope: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Remove a field from the route (repeatable): --clear schedule --clear callers
    #[arg(long, value_name = "FIELD")]
    pub clear: Vec<String>,
    /// Update the route whatever its version
    #[arg(long, conflicts_with = "expect_version")]
    pub replace: bool,
    /// Update only if the route is at this version (no lost updates)
    #[arg(long)]
    pub expect_version: Option<u64>,
    /// Show what would be written, write nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub source: Source,
    #[command(flatten)]
    pub actor: Actor,
}

impl PutArgs {
    /// The fields the flags set, by record field name.
    fn fields(&self) -> Vec<(&'static str, &Option<String>)> {
        vec![
            ("url", &self.url),
            ("method", &self.method),
            ("number", &self.number),
            ("byoc", &self.byoc),
            ("caller_id", &self.caller_id),
            ("timeout", &self.timeout),
            ("uri", &self.uri),
            ("text", &self.text),
            ("voice", &self.voice),
            ("language", &self.language),
            ("reason", &self.reason),
            ("identity", &self.identity),
            ("application", &self.application),
            ("parameters", &self.parameters),
            ("workflow", &self.workflow),
            ("task_attributes", &self.task_attributes),
            ("name", &self.name),
            ("twiml", &self.twiml),
            ("schedule", &self.schedule),
            ("callers", &self.callers),
            ("targets", &self.targets),
            ("final", &self.final_action),
            ("shares", &self.shares),
            ("scope", &self.scope),
            ("description", &self.description),
        ]
    }
}

/// Fields whose value may be given as `@FILE`.
const FILE_FIELDS: [&str; 8] = [
    "parameters",
    "task_attributes",
    "twiml",
    "schedule",
    "callers",
    "targets",
    "final",
    "shares",
];

/// A flag value, or the content of the file it names with `@FILE`.
fn flag_value(field: &str, value: &str) -> anyhow::Result<String> {
    match value.strip_prefix('@') {
        Some(path) if field == "json" || FILE_FIELDS.contains(&field) => {
            std::fs::read_to_string(path).with_context(|| format!("--{field}: cannot read {path}"))
        }
        _ => Ok(value.to_string()),
    }
}

fn plan() -> anyhow::Result<NumberPlan> {
    Config::plan_from_env().context("invalid configuration")
}

fn print_json(record: &RouteRecord) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(record)?);
    Ok(())
}

fn line(r: &StoredRoute) -> String {
    match &r.unreadable {
        Some(reason) => format!(
            "v{:<4} {} -> UNREADABLE ({}); replace it with `byoc routes put {} … --replace`, or delete it",
            r.meta.version,
            r.route.key(),
            resolve::printable(reason),
            r.route.key()
        ),
        None => format!("v{:<4} {}", r.meta.version, summary(&r.route)),
    }
}

/// Names on stderr the unreadable items a file was written without (their stand-ins would
/// come back as real routes).
fn warn_left_out(left_out: &[StoredRoute]) {
    for r in left_out {
        eprintln!(
            "warning: {} (v{}) is left out: the stored item cannot be read ({})",
            r.route.key(),
            r.meta.version,
            resolve::printable(r.unreadable.as_deref().unwrap_or_default())
        );
    }
}

pub async fn run(command: Command) -> CliResult {
    match command {
        Command::Resolve(args) => resolve::run(args).await,
        Command::Get { pattern, source } => {
            let plan = plan()?;
            let opened = source.open_read(&plan, Profile::Admin).await?;
            let pattern = byoc_core::route::route_key(&pattern, &plan);
            // An item this version cannot read is an error naming it and the fix.
            match opened
                .admin
                .get(&pattern)
                .await?
                .map(StoredRoute::readable)
                .transpose()?
            {
                Some(r) => {
                    print_json(&r.to_record())?;
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("byoc: no route `{pattern}` in {}", opened.description);
                    Ok(Exit::NotFound.into())
                }
            }
        }
        Command::List {
            prefix,
            format,
            source,
        } => {
            let opened = source.open_read(&plan()?, Profile::Admin).await?;
            // One route at a time: a million routes are never held at once (on DynamoDB a
            // page per shard is).
            let out = std::io::BufWriter::new(std::io::stdout());
            let mut writer = match format {
                ListFormat::Json => {
                    ListWriter::Json(byoc_core::route_file::RouteFileWriter::new(out))
                }
                ListFormat::Csv => ListWriter::Csv(Box::new(import::CsvRoutes::new(out))),
                ListFormat::Text => ListWriter::Text(out),
            };
            let mut failed: Option<std::io::Error> = None;
            let mut count = 0usize;
            let mut left_out = Vec::new();
            opened
                .admin
                .each(prefix.as_deref(), None, None, &mut |r| {
                    // JSON and CSV are files to import again: an unreadable item's stand-in
                    // would come back as a real route.
                    if r.unreadable.is_some() && format != ListFormat::Text {
                        left_out.push(r);
                        return true;
                    }
                    count += 1;
                    match writer.push(&r) {
                        Ok(()) => true,
                        Err(e) => {
                            failed = Some(e);
                            false
                        }
                    }
                })
                .await?;
            match failed {
                Some(e) => Err(e),
                None => writer.finish(),
            }
            .or_else(quiet_broken_pipe)?;
            warn_left_out(&left_out);
            if format == ListFormat::Text {
                // A file store's description already counts its routes: say it once.
                let source = match opened.description.rsplit_once(" (") {
                    Some((name, n)) if n.ends_with(" routes)") => name,
                    _ => opened.description.as_str(),
                };
                let only = prefix
                    .as_deref()
                    .map(|p| format!(" starting with {p}"))
                    .unwrap_or_default();
                eprintln!("{count} route(s){only} in {source}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Put(args) => put(*args).await,
        Command::Delete {
            pattern,
            expect_version,
            source,
            actor,
        } => {
            let plan = plan()?;
            let opened = source.open_write(&plan).await?;
            let pattern = byoc_core::route::route_key(&pattern, &plan);
            let expect = expect_version.map_or(Expect::Any, Expect::Version);
            let removed = opened.admin.delete(&pattern, expect, &actor.get()).await?;
            outln!("deleted {}", line(&removed));
            Ok(ExitCode::SUCCESS)
        }
        Command::History { pattern, source } => {
            let plan = plan()?;
            let opened = source.open_read(&plan, Profile::Admin).await?;
            let pattern = byoc_core::route::route_key(&pattern, &plan);
            let changes = opened.admin.history(&pattern).await?;
            if changes.is_empty() {
                eprintln!("byoc: no history for `{pattern}` in {}", opened.description);
                return Ok(Exit::NotFound.into());
            }
            for c in changes {
                outln!("{} v{} {} by {}", c.at, c.version, c.op, c.by);
                let show = |r: &Option<RouteRecord>| {
                    r.as_ref()
                        .and_then(|r| serde_json::to_string(&r.clone().without_metadata()).ok())
                        .unwrap_or_else(|| "(none)".to_string())
                };
                outln!("  before: {}", show(&c.before));
                outln!("  after:  {}", show(&c.after));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            format,
            dry_run,
            prune,
            yes,
            source,
            actor,
        } => import_file(file, format, dry_run, prune, yes, source, actor).await,
        Command::Lint {
            base_url,
            format,
            source,
        } => {
            // The embedded example is no subject for a lint: a gate that forgot the flag
            // would always pass.
            if source.routes.is_none()
                && source.table.is_none()
                && byoc_web::config::var("ROUTES_FILE").is_none()
                && byoc_web::config::var("ROUTES_TABLE").is_none()
            {
                return Err(anyhow::anyhow!(
                    "name the routes to lint: --routes FILE or --table NAME (or ROUTES_FILE / ROUTES_TABLE)"
                )
                .into());
            }
            let ctx = lint_context(base_url)?;
            let plan = plan()?;
            let opened = source.open_read(&plan, Profile::Admin).await?;
            let findings = admin::lint(opened.admin.as_ref(), &plan, &ctx).await?;
            match format {
                LintFormat::Json => outln!("{}", serde_json::to_string_pretty(&findings)?),
                LintFormat::Text => {
                    for f in &findings {
                        outln!("{}  {}: {}", f.route, f.kind, f.message);
                    }
                }
            }
            eprintln!("{} finding(s) in {}", findings.len(), opened.description);
            Ok(if findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                Exit::NotFound.into()
            })
        }
        Command::Export {
            format,
            output,
            source,
        } => {
            let opened = source.open_read(&plan()?, Profile::Admin).await?;
            let format = byoc_core::import::Format::for_export(&format)
                .map_err(byoc_store::AdminError::Format)?;
            let written = match &output {
                // Written beside the target, then renamed over it: a failed export never
                // leaves half a file where a good one was.
                Some(path) => {
                    let partial = partial_path(path);
                    let file = std::fs::File::create(&partial)
                        .with_context(|| format!("cannot write {}", partial.display()))?;
                    let written = admin::export_to(
                        opened.admin.as_ref(),
                        format,
                        std::io::BufWriter::new(file),
                    )
                    .await;
                    let written = match written {
                        Ok(w) => w,
                        Err(e) => {
                            let _ = std::fs::remove_file(&partial);
                            return Err(e.into());
                        }
                    };
                    let file = written
                        .out
                        .into_inner()
                        .map_err(|e| e.into_error())
                        .and_then(|f| f.sync_all().map(|()| f));
                    if let Err(e) = file.and_then(|_| std::fs::rename(&partial, path)) {
                        let _ = std::fs::remove_file(&partial);
                        return Err(anyhow::anyhow!("cannot write {}: {e}", path.display()).into());
                    }
                    (written.routes, written.left_out)
                }
                None => {
                    let out = std::io::BufWriter::new(std::io::stdout());
                    match admin::export_to(opened.admin.as_ref(), format, out).await {
                        Ok(w) => (w.routes, w.left_out),
                        Err(byoc_store::AdminError::Write(e)) => {
                            quiet_broken_pipe(e)?;
                            return Ok(ExitCode::SUCCESS);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            let (routes, left_out) = written;
            warn_left_out(&left_out);
            eprintln!("exported {routes} route(s) from {}", opened.description);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `routes list`'s output, one route at a time.
enum ListWriter<W: std::io::Write> {
    Text(W),
    Json(byoc_core::route_file::RouteFileWriter<W>),
    Csv(Box<import::CsvRoutes<W>>),
}

impl<W: std::io::Write> ListWriter<W> {
    fn push(&mut self, r: &StoredRoute) -> std::io::Result<()> {
        match self {
            ListWriter::Text(out) => writeln!(out, "{}", line(r)),
            // The listing keeps the metadata; an export does not.
            ListWriter::Json(w) => w.push(&r.to_record()),
            ListWriter::Csv(w) => w.push(&r.route.to_record()),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            ListWriter::Text(mut out) => out.flush(),
            ListWriter::Json(w) => w.finish().and_then(|mut out| out.flush()),
            ListWriter::Csv(w) => w.finish().and_then(|mut out| out.flush()),
        }
    }
}

/// `routes.json` → `routes.json.partial`: where an export is written before it is renamed.
fn partial_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// A reader that went away (`byoc routes list | head`) ends the command quietly; any other
/// write error is one.
fn quiet_broken_pipe(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    Err(e)
}

/// What the linter knows besides the routes: the base URL given, the account of
/// TWILIO_ACCOUNT_SID, today (UTC). A base URL or an account that cannot be used is an error:
/// silently skipping the check would report a clean file.
pub fn lint_context(base_url: Option<String>) -> anyhow::Result<byoc_core::lint::LintContext> {
    let base_url = base_url
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .map(|b| {
            url::Url::parse(&b)
                .ok()
                .filter(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.host_str().is_some()
                        && u.query().is_none()
                })
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--base-url / PUBLIC_BASE_URL: `{b}` is not an http(s) URL such as https://abc.execute-api.us-east-1.amazonaws.com (a path prefix allowed, no query)"
                    )
                })
        })
        .transpose()?;
    let account_sid = byoc_web::config::var("TWILIO_ACCOUNT_SID")
        .map(|a| {
            byoc_core::sid::Sid::parse(byoc_core::sid::SidKind::Account, a.trim())
                .map(|s| s.to_string())
                .map_err(|e| anyhow::anyhow!("TWILIO_ACCOUNT_SID: {e}"))
        })
        .transpose()?;
    Ok(byoc_core::lint::LintContext {
        base_url,
        account_sid,
        today: Some(
            jiff::tz::TimeZone::UTC
                .to_datetime(jiff::Timestamp::now())
                .date(),
        ),
    })
}

async fn put(args: PutArgs) -> CliResult {
    let plan = plan()?;
    let whole = match &args.json {
        Some(json) => {
            let text = flag_value("json", json)?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("--json: not JSON: {e}"))?;
            Some(value)
        }
        None => None,
    };
    let mut set = Vec::new();
    for (field, value) in args.fields() {
        if let Some(value) = value {
            set.push((field.to_string(), flag_value(field, value)?));
        }
    }
    let update = args.replace || args.expect_version.is_some();
    let edit = Edit {
        key: args.pattern.clone(),
        scope: args.scope.clone(),
        whole,
        action: args.action.clone(),
        set,
        clear: args.clear.clone(),
        expect: match (args.replace, args.expect_version) {
            (true, _) => Expect::Any,
            (false, Some(v)) => Expect::Version(v),
            (false, None) => Expect::Absent,
        },
        // An update changes only what the flags name.
        merge: update && args.json.is_none(),
        over_unreadable: update,
        loaded: None,
    };
    let opened = if args.dry_run {
        args.source.open_dry_run(&plan).await?
    } else {
        args.source.open_write(&plan).await?
    };
    let planned = admin::plan_edit(opened.admin.as_ref(), &plan, edit)
        .await
        .map_err(|e| match e {
            AdminError::Route(e) if args.json.is_some() => anyhow::anyhow!("--json: {}", e.kind),
            e => e.into(),
        })?;
    let key = &planned.key;
    if let Some(reason) = &planned.unreadable {
        outln!("the stored {key} cannot be read ({reason}): it is replaced by what the flags give");
    }
    let changes = planned.changes();
    if planned.current.is_none() {
        outln!("new route {key}:");
    } else if planned.unchanged() {
        // Writing the same route again would only bump its version under other editors.
        outln!("no change to {key}: nothing written");
    } else {
        outln!("changes to {key}:");
    }
    for change in &changes {
        match (&change.before, &change.after) {
            (None, Some(v)) => outln!("  + {}: {v}", change.field),
            (Some(v), None) => outln!("  - {}: {v}", change.field),
            (Some(a), Some(b)) => outln!("  ~ {}: {a} -> {b}", change.field),
            (None, None) => {}
        }
    }
    if args.dry_run {
        outln!("dry run: nothing written");
        return Ok(ExitCode::SUCCESS);
    }
    if planned.unchanged() {
        return Ok(ExitCode::SUCCESS);
    }
    let stored = planned
        .apply(opened.admin.as_ref(), &args.actor.get())
        .await?;
    outln!("saved {}", line(&stored));
    Ok(ExitCode::SUCCESS)
}

async fn import_file(
    file: PathBuf,
    format: String,
    dry_run: bool,
    prune: bool,
    yes: bool,
    source: Source,
    actor: Actor,
) -> CliResult {
    let plan = plan()?;
    let name = file.display().to_string();
    // The file's bytes become its text (not copied) and are dropped once read: at a million
    // routes each copy counts.
    let input = {
        let bytes =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let text = import::decode_text_owned(bytes)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        admin::read_import(&text, &name, Some(&format), &plan).with_context(|| name.clone())?
    };
    for warning in &input.warnings {
        eprintln!("warning: {warning}");
    }
    // The linter's findings on the file's routes: said, never refused.
    let base = byoc_web::config::var("PUBLIC_BASE_URL");
    match lint_context(base) {
        Ok(ctx) => {
            for f in byoc_core::lint::lint(&input.routes, &plan, &ctx) {
                eprintln!("warning: {} {}: {}", f.route, f.kind, f.message);
            }
        }
        Err(e) => eprintln!("warning: the routes were not linted: {e}"),
    }
    let opened = if dry_run {
        source.open_dry_run(&plan).await?
    } else {
        source.open_write(&plan).await?
    };
    let read = input.routes.len();
    let format_name = input.format.name();
    // The routes move into the plan: held once, not twice.
    let planned = ImportPlan::against_owned(opened.admin.as_ref(), input.routes, prune).await?;
    let diff = &planned.diff;
    let absent_note = if prune {
        "removed"
    } else {
        "kept; --prune removes them"
    };
    eprintln!(
        "{name}: {} route(s) read ({} format); against {}: {} added, {} changed, {} unchanged, {} not in the file ({absent_note})",
        read,
        format_name,
        opened.description,
        diff.added.len(),
        diff.changed.len(),
        diff.unchanged,
        diff.absent.len(),
    );
    if dry_run {
        for r in &diff.added {
            outln!("+ {}", summary(r));
        }
        for (old, new) in &diff.changed {
            outln!("~ {}\n  was {}", summary(new), summary(old));
        }
        for r in &diff.absent {
            outln!("{} {}", if prune { "-" } else { "=" }, summary(r));
        }
        // Said now, not only when the real run refuses.
        if let Some(what) = planned.prune_risk().filter(|_| !yes) {
            eprintln!("note: the prune would delete {what}: the real run needs --yes");
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A prune that empties the table (a header-only file) or drops the catch-all must be meant.
    if let Some(what) = planned.prune_risk().filter(|_| !yes) {
        eprintln!(
            "byoc: --prune would delete {what}; nothing written. Check with --dry-run, then add --yes"
        );
        return Ok(Exit::Invalid.into());
    }
    let total = planned.writes();
    if total == 0 {
        eprintln!("nothing to write");
        return Ok(ExitCode::SUCCESS);
    }
    // Drawn only when stderr is a terminal.
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} writes  {per_sec}  eta {eta}")
    {
        bar.set_style(style);
    }
    let started = Instant::now();
    let progress_bar = bar.clone();
    let applied = planned
        .apply(opened.admin.as_ref(), &actor.get(), yes, &move |n| {
            progress_bar.set_position(n as u64)
        })
        .await?;
    bar.finish_and_clear();
    eprintln!(
        "imported: {} of {total} change(s) written in {:.2} s",
        applied.written,
        started.elapsed().as_secs_f64()
    );
    if applied.conflicts.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "byoc: {} change(s) not written: the route changed after the import read it (run the import again, with --dry-run first, to see the new difference):",
        applied.conflicts.len()
    );
    for conflict in &applied.conflicts {
        eprintln!("  {conflict}");
    }
    Ok(Exit::Conflict.into())
}

pub async fn run_table(command: TableCommand) -> CliResult {
    match command {
        TableCommand::Create { table } => {
            if table.trim().is_empty() {
                return Err(anyhow::anyhow!("the table name is empty").into());
            }
            let endpoint = byoc_web::config::var("DYNAMODB_ENDPOINT_URL");
            let client = byoc_dynamodb::client(Profile::Admin, endpoint.as_deref()).await;
            let store = DynamoStore::new(client, table.clone(), plan()?);
            if store.create_table().await? {
                outln!("created table {table}");
            } else {
                outln!("table {table} already exists");
            }
            Ok(ExitCode::SUCCESS)
        }
        TableCommand::Migrate { table } => {
            let endpoint = byoc_web::config::var("DYNAMODB_ENDPOINT_URL");
            let client = byoc_dynamodb::client(Profile::Admin, endpoint.as_deref()).await;
            let store = DynamoStore::new(client, table.clone(), plan()?);
            let (index, items) = store.migrate().await?;
            if index {
                outln!("table {table}: added the `routes` index (DynamoDB builds it in the background)");
            }
            outln!("table {table}: {items} route item(s) given a list shard");
            Ok(ExitCode::SUCCESS)
        }
    }
}
