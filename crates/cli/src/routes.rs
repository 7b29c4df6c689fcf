//! `byoc routes …` and `byoc table …`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use byoc_core::import::{self, Format};
use byoc_core::route_file::to_route_file;
use byoc_core::{NumberPlan, Route, RouteRecord};
use byoc_dynamodb::{DynamoStore, Profile};
use byoc_store::{Expect, StoredRoute};
use byoc_web::Config;

use crate::resolve::{self, summary};
use crate::source::Source;
use crate::CliResult;

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
        #[arg(long, value_enum, default_value_t = ImportFormat::Auto)]
        format: ImportFormat,
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
    /// Export every route as JSON or CSV (what `import` reads back).
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
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
pub enum ListFormat {
    Text,
    Json,
    Csv,
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum ImportFormat {
    Auto,
    Json,
    Csv,
    Flex,
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum ExportFormat {
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
    /// refer, conference, twiml. Changing it drops the old action's own fields
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
            ("scope", &self.scope),
            ("description", &self.description),
        ]
    }
}

/// Fields whose value may be given as `@FILE`.
const FILE_FIELDS: [&str; 7] = [
    "parameters",
    "task_attributes",
    "twiml",
    "schedule",
    "callers",
    "targets",
    "final",
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

async fn all_routes(opened: &crate::source::Opened) -> anyhow::Result<Vec<Arc<Route>>> {
    Ok(opened
        .admin
        .list(None)
        .await?
        .into_iter()
        .map(|r| r.route)
        .collect())
}

fn line(r: &StoredRoute) -> String {
    format!("v{:<4} {}", r.meta.version, summary(&r.route))
}

pub async fn run(command: Command) -> CliResult {
    match command {
        Command::Resolve(args) => resolve::run(args).await,
        Command::Get { pattern, source } => {
            let plan = plan()?;
            let opened = source.open_read(&plan, Profile::Admin).await?;
            let pattern = byoc_core::route::route_key(&pattern, &plan);
            match opened.admin.get(&pattern).await? {
                Some(r) => {
                    print_json(&r.to_record())?;
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("byoc: no route `{pattern}` in {}", opened.description);
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::List {
            prefix,
            format,
            source,
        } => {
            let opened = source.open_read(&plan()?, Profile::Admin).await?;
            let routes = opened.admin.list(prefix.as_deref()).await?;
            let mut out = std::io::stdout().lock();
            match format {
                ListFormat::Text => {
                    for r in &routes {
                        writeln!(out, "{}", line(r))?;
                    }
                    // A file store's description already counts its routes: say it once.
                    let source = match opened.description.rsplit_once(" (") {
                        Some((name, count)) if count.ends_with(" routes)") => name,
                        _ => opened.description.as_str(),
                    };
                    let only = prefix
                        .as_deref()
                        .map(|p| format!(" starting with {p}"))
                        .unwrap_or_default();
                    eprintln!("{} route(s){only} in {source}", routes.len());
                }
                ListFormat::Json => {
                    let records = routes.iter().map(StoredRoute::to_record).collect();
                    write!(
                        out,
                        "{}",
                        byoc_core::route_file::records_to_route_file(records)
                    )?;
                }
                ListFormat::Csv => {
                    let plain: Vec<Arc<Route>> = routes.iter().map(|r| r.route.clone()).collect();
                    write!(out, "{}", import::to_csv(&plain))?;
                }
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
                return Ok(ExitCode::from(1));
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
        Command::Export {
            format,
            output,
            source,
        } => {
            let opened = source.open_read(&plan()?, Profile::Admin).await?;
            let routes = all_routes(&opened).await?;
            let text = match format {
                ExportFormat::Json => to_route_file(&routes),
                ExportFormat::Csv => import::to_csv(&routes),
            };
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
            eprintln!(
                "exported {} route(s) from {}",
                routes.len(),
                opened.description
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn put(args: PutArgs) -> CliResult {
    let plan = plan()?;
    let (pattern, scope_in_pattern) = match args.pattern.trim().rsplit_once('@') {
        Some((p, scope)) if !p.is_empty() => (p.to_string(), Some(scope.to_string())),
        _ => (args.pattern.trim().to_string(), None),
    };
    if let (Some(a), Some(b)) = (&args.scope, &scope_in_pattern) {
        if !a.trim().eq_ignore_ascii_case(b.trim()) {
            return Err(anyhow::anyhow!(
                "the pattern names the scope `{b}` and --scope `{a}`: name one"
            )
            .into());
        }
    }
    if let Some(field) = args.clear.iter().find(|f| {
        args.fields()
            .iter()
            .any(|(name, v)| name == &f.trim() && v.is_some())
    }) {
        return Err(anyhow::anyhow!("--{field} and --clear {field} both given: which one?").into());
    }
    let scope = args.scope.clone().or(scope_in_pattern);
    let key = byoc_core::route::route_key(
        &match &scope {
            Some(s) => format!("{pattern}@{s}"),
            None => pattern.clone(),
        },
        &plan,
    );
    let update = args.replace || args.expect_version.is_some();
    let opened = if args.dry_run {
        args.source.open_dry_run(&plan).await?
    } else {
        args.source.open_write(&plan).await?
    };
    let expect = match (args.replace, args.expect_version) {
        (true, _) => Expect::Any,
        (false, Some(v)) => Expect::Version(v),
        (false, None) => Expect::Absent,
    };
    let current = match opened.admin.get(&key).await {
        // A stored item this version cannot read: `--replace` writes over it with what the
        // flags give (nothing of it can be kept); the store checks its raw version.
        Err(byoc_store::StoreError::Corrupt { reason, .. }) if args.replace => {
            outln!(
                "the stored {key} cannot be read ({reason}): it is replaced by what the flags give"
            );
            None
        }
        other => other?,
    };
    // A stale version is reported as such, before the flags are merged into a route that moved
    // on (the store checks again when it writes).
    if current.is_some() || !args.replace {
        byoc_store::admin::check_expect(&key, expect, current.as_ref().map(|c| c.meta.version))?;
    }
    let before = current.as_ref().map(|c| c.to_record().without_metadata());

    let mut record = match &args.json {
        Some(json) => {
            let text = flag_value("json", json)?;
            let mut value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("--json: not JSON: {e}"))?;
            if let Some(object) = value.as_object_mut() {
                object.entry("pattern").or_insert_with(|| "".into());
            }
            let mut r = byoc_core::route::record_from_json(&value.to_string())
                .map_err(|e| anyhow::anyhow!("--json: {}", e.kind))?;
            if r.pattern.trim().is_empty() {
                r.pattern = pattern.clone();
            } else if byoc_core::route::route_key(&r.pattern, &plan)
                != byoc_core::route::route_key(&pattern, &plan)
            {
                return Err(anyhow::anyhow!(
                    "--json names the pattern `{}`, the command `{pattern}`",
                    r.pattern
                )
                .into());
            }
            r.without_metadata()
        }
        // An update changes only what the flags name.
        None if update => match &before {
            Some(b) => b.clone(),
            None => RouteRecord {
                pattern: pattern.clone(),
                ..RouteRecord::default()
            },
        },
        None => RouteRecord {
            pattern: pattern.clone(),
            ..RouteRecord::default()
        },
    };
    if let Some(action) = &args.action {
        // A new kind of action: the old action's own fields no longer apply.
        let old = record.action.as_deref().unwrap_or("redirect").to_string();
        if !old.trim().eq_ignore_ascii_case(action.trim()) {
            if let Some(fields) = byoc_core::route::action_fields(&old) {
                for field in fields {
                    record.set(field, None).map_err(anyhow::Error::msg)?;
                }
            }
        }
        record.action = Some(action.clone());
    }
    for (field, value) in args.fields() {
        if let Some(value) = value {
            record
                .set(field, Some(flag_value(field, value)?))
                .map_err(anyhow::Error::msg)?;
        }
    }
    if args.scope.is_none() && scope_is_given(&args.pattern) {
        record.scope = scope.clone();
    }
    for field in &args.clear {
        if field == "pattern" {
            return Err(anyhow::anyhow!("--clear pattern: a route always has a pattern").into());
        }
        record
            .set(field.trim(), None)
            .map_err(|e| anyhow::anyhow!("--clear: {e}"))?;
        // A failover chain copies its `byoc` and `timeout` into each target when it is read,
        // and stores them there: clearing the route's own means clearing theirs.
        if matches!(field.trim(), "byoc" | "timeout") {
            if let Some(text) = &record.targets {
                let mut targets: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| anyhow::anyhow!("--clear {field}: the targets: {e}"))?;
                for target in targets.as_array_mut().into_iter().flatten() {
                    if let Some(target) = target.as_object_mut() {
                        target.remove(field.trim());
                    }
                }
                record.targets = Some(targets.to_string());
            }
        }
    }
    let route = Route::from_record(record, &plan)?;
    // The scope is part of the route's key: changing it would write another route than the
    // one shown (and could overwrite the unscoped one).
    if route.key() != key {
        return Err(anyhow::anyhow!(
            "this would write the route `{}`, not `{key}`: the scope is part of the route's key; to move a route, put the new one and delete the old",
            route.key()
        )
        .into());
    }
    let after = route.to_record();
    let changed = print_changes(&key, before.as_ref(), &after);
    if args.dry_run {
        outln!("dry run: nothing written");
        return Ok(ExitCode::SUCCESS);
    }
    if !changed {
        // Writing the same route again would only bump its version under other editors.
        return Ok(ExitCode::SUCCESS);
    }
    // Merged into the version read: written only if it is still that version, even with
    // --replace (which waives the check on the version named, not a lost update).
    let expect = match (&args.json, &current) {
        (None, Some(c)) if update => Expect::Version(c.meta.version),
        _ => expect,
    };
    let stored = opened.admin.put(route, expect, &args.actor.get()).await?;
    outln!("saved {}", line(&stored));
    Ok(ExitCode::SUCCESS)
}

fn scope_is_given(pattern: &str) -> bool {
    pattern
        .trim()
        .rsplit_once('@')
        .is_some_and(|(p, _)| !p.is_empty())
}

/// What a write changes, field by field (`+` new, `-` removed, `~` changed); false when it
/// changes nothing.
fn print_changes(key: &str, before: Option<&RouteRecord>, after: &RouteRecord) -> bool {
    let fields = |r: Option<&RouteRecord>| -> serde_json::Map<String, serde_json::Value> {
        match r.map(serde_json::to_value) {
            Some(Ok(serde_json::Value::Object(map))) => map,
            _ => serde_json::Map::new(),
        }
    };
    let (old, new) = (fields(before), fields(Some(after)));
    if before.is_none() {
        outln!("new route {key}:");
    } else if old == new {
        outln!("no change to {key}: nothing written");
        return false;
    } else {
        outln!("changes to {key}:");
    }
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        match (old.get(name), new.get(name)) {
            (None, Some(v)) => outln!("  + {name}: {v}"),
            (Some(v), None) => outln!("  - {name}: {v}"),
            (Some(a), Some(b)) if a != b => outln!("  ~ {name}: {a} -> {b}"),
            _ => {}
        }
    }
    true
}

async fn import_file(
    file: PathBuf,
    format: ImportFormat,
    dry_run: bool,
    prune: bool,
    yes: bool,
    source: Source,
    actor: Actor,
) -> CliResult {
    let plan = plan()?;
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = import::decode_text(&bytes)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let format = match format {
        ImportFormat::Auto => Format::detect(&file.display().to_string(), &text),
        ImportFormat::Json => Format::Json,
        ImportFormat::Csv => Format::Csv,
        ImportFormat::Flex => Format::Flex,
    };
    let routes = import::parse(&text, format, &plan)
        .with_context(|| format!("{} ({} format)", file.display(), format.name()))?;
    for warning in import::warnings(&routes, &plan) {
        eprintln!("warning: {warning}");
    }
    let opened = if dry_run {
        source.open_dry_run(&plan).await?
    } else {
        source.open_write(&plan).await?
    };
    let stored = opened.admin.list(None).await?;
    let plan = byoc_store::plan_import(stored, &routes, prune);
    let diff = &plan.diff;
    let absent_note = if prune {
        "removed"
    } else {
        "kept; --prune removes them"
    };
    eprintln!(
        "{}: {} route(s) read ({} format); against {}: {} added, {} changed, {} unchanged, {} not in the file ({absent_note})",
        file.display(),
        routes.len(),
        format.name(),
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
        return Ok(ExitCode::SUCCESS);
    }
    // A prune that empties the table (a header-only file) or drops the catch-all must be meant.
    if let Some(what) = plan.prune_risk().filter(|_| !yes) {
        eprintln!(
            "byoc: --prune would delete {what}; nothing written. Check with --dry-run, then add --yes"
        );
        return Ok(ExitCode::from(2));
    }
    let ops = plan.ops;
    if ops.is_empty() {
        eprintln!("nothing to write");
        return Ok(ExitCode::SUCCESS);
    }
    let total = ops.len();
    // Drawn only when stderr is a terminal.
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} writes  {per_sec}  eta {eta}")
    {
        bar.set_style(style);
    }
    let started = Instant::now();
    let progress_bar = bar.clone();
    let applied = opened
        .admin
        .apply(ops, &actor.get(), &move |n| {
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
    Ok(ExitCode::from(3))
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
