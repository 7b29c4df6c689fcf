//! `byoc routes …` and `byoc table …`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use byoc_core::import::{self, Format};
use byoc_core::route::to_route_file;
use byoc_core::{NumberPlan, Route, RouteRecord};
use byoc_dynamodb::{DynamoStore, Profile};
use byoc_store::{Expect, StoredRoute, WriteOp};
use byoc_web::{Config, Runtime};

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
    #[arg(long = "actor", env = "BYOC_ACTOR")]
    pub name: Option<String>,
}

impl Actor {
    fn get(&self) -> String {
        self.name
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

#[derive(clap::Args)]
pub struct PutArgs {
    pub pattern: String,
    /// redirect (default), dial, sip, say, reject, hangup
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
    pub timeout: Option<u32>,
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
    #[arg(long)]
    pub description: Option<String>,
    /// Replace the route whatever its version
    #[arg(long, conflicts_with = "expect_version")]
    pub replace: bool,
    /// Update only if the route is at this version (no lost updates)
    #[arg(long)]
    pub expect_version: Option<u64>,
    #[command(flatten)]
    pub source: Source,
    #[command(flatten)]
    pub actor: Actor,
}

fn plan() -> anyhow::Result<NumberPlan> {
    Ok(Config::from_env(Runtime::Local)
        .context("invalid configuration")?
        .inbound
        .plan)
}

fn print_json(record: &RouteRecord) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(record)?);
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
            let opened = source.open_read(&plan()?, Profile::Admin).await?;
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
                    eprintln!("{} route(s) in {}", routes.len(), opened.description);
                }
                ListFormat::Json => {
                    let records = routes.iter().map(StoredRoute::to_record).collect();
                    write!(out, "{}", byoc_core::route::records_to_route_file(records))?;
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
            let opened = source.open_write(&plan()?).await?;
            let expect = expect_version.map_or(Expect::Any, Expect::Version);
            let removed = opened.admin.delete(&pattern, expect, &actor.get()).await?;
            println!("deleted {}", line(&removed));
            Ok(ExitCode::SUCCESS)
        }
        Command::History { pattern, source } => {
            let opened = source.open_read(&plan()?, Profile::Admin).await?;
            let changes = opened.admin.history(&pattern).await?;
            if changes.is_empty() {
                eprintln!("byoc: no history for `{pattern}` in {}", opened.description);
                return Ok(ExitCode::from(1));
            }
            for c in changes {
                println!("{} v{} {} by {}", c.at, c.version, c.op, c.by);
                let show = |r: &Option<RouteRecord>| {
                    r.as_ref()
                        .and_then(|r| serde_json::to_string(&r.clone().without_metadata()).ok())
                        .unwrap_or_else(|| "(none)".to_string())
                };
                println!("  before: {}", show(&c.before));
                println!("  after:  {}", show(&c.after));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            format,
            dry_run,
            prune,
            source,
            actor,
        } => import_file(file, format, dry_run, prune, source, actor).await,
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
    let record = RouteRecord {
        pattern: args.pattern.clone(),
        action: args.action,
        url: args.url,
        method: args.method,
        number: args.number,
        byoc: args.byoc,
        caller_id: args.caller_id,
        timeout: args.timeout,
        uri: args.uri,
        text: args.text,
        voice: args.voice,
        language: args.language,
        reason: args.reason,
        description: args.description,
        ..RouteRecord::default()
    };
    let route = Route::from_record(record, &plan)?;
    let expect = match (args.replace, args.expect_version) {
        (true, _) => Expect::Any,
        (false, Some(v)) => Expect::Version(v),
        (false, None) => Expect::Absent,
    };
    let opened = args.source.open_write(&plan).await?;
    let stored = opened.admin.put(route, expect, &args.actor.get()).await?;
    println!("saved {}", line(&stored));
    Ok(ExitCode::SUCCESS)
}

async fn import_file(
    file: PathBuf,
    format: ImportFormat,
    dry_run: bool,
    prune: bool,
    source: Source,
    actor: Actor,
) -> CliResult {
    let plan = plan()?;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let format = match format {
        ImportFormat::Auto => Format::detect(&file.display().to_string(), &text),
        ImportFormat::Json => Format::Json,
        ImportFormat::Csv => Format::Csv,
        ImportFormat::Flex => Format::Flex,
    };
    let routes = import::parse(&text, format, &plan)
        .with_context(|| format!("{} ({} format)", file.display(), format.name()))?;
    let opened = if dry_run {
        source.open_read(&plan, Profile::Admin).await?
    } else {
        source.open_write(&plan).await?
    };
    let current = all_routes(&opened).await?;
    let diff = import::diff(&current, &routes);
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
            println!("+ {}", summary(r));
        }
        for (old, new) in &diff.changed {
            println!("~ {}\n  was {}", summary(new), summary(old));
        }
        for r in &diff.absent {
            println!("{} {}", if prune { "-" } else { "=" }, summary(r));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut ops: Vec<WriteOp> = diff.added.into_iter().map(WriteOp::Put).collect();
    ops.extend(diff.changed.into_iter().map(|(_, new)| WriteOp::Put(new)));
    if prune {
        ops.extend(diff.absent.iter().map(|r| WriteOp::Delete(r.key())));
    }
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
    let done = opened
        .admin
        .apply(ops, &actor.get(), &move |n| {
            progress_bar.set_position(n as u64)
        })
        .await?;
    bar.finish_and_clear();
    eprintln!(
        "imported: {done} of {total} change(s) written in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn run_table(command: TableCommand) -> CliResult {
    match command {
        TableCommand::Create { table } => {
            if table.trim().is_empty() {
                return Err(anyhow::anyhow!("the table name is empty").into());
            }
            let client = byoc_dynamodb::client(Profile::Admin).await;
            let store = DynamoStore::new(client, table.clone(), plan()?);
            if store.create_table().await? {
                println!("created table {table}");
            } else {
                println!("table {table} already exists");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
