//! The console's JSON API, over the admin layer `byoc routes` uses (`byoc_store::admin`).
//! Every answer is JSON; errors are `{"error": …}` (plus `field` for a route field, `current`
//! for a conflict, `errors` for an import's bad rows, `fix` for a missing table).
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/info` | the store, whether it is read-only, the actor, actions and their fields |
//! | `GET /api/routes?prefix=&text=&action=&scope=&after=&limit=` | a page of routes in key order, filtered on the server, with `next` (the cursor of the next page) |
//! | `GET /api/routes/count?prefix=&text=&action=&scope=` | `{matched, total}` |
//! | `GET /api/route?key=K` | one route |
//! | `POST /api/route` `{record, version}` | create (`version: null`) or update that version |
//! | `POST /api/route/delete` `{key, version}` | delete that version |
//! | `GET /api/history?key=K` | the route's changes, oldest first |
//! | `POST /api/resolve` `{number, from, scope, at, tz, country}` | what `byoc routes resolve` prints, as lines |
//! | `POST /api/import` `{text, name, format, prune, apply}` | the dry-run difference, or what was written |
//! | `GET /api/import/progress` | `{done, total}` of the import being applied |
//! | `GET /api/export?format=json\|csv` | every route as a file |
//! | `GET /api/calls?since=&until=&number=&outcome=&limit=` | the Calls tab: summary and recent calls (`calls.rs`); with `call=CA…` that call's lines |

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use byoc_core::route::{route_key, ACTIONS, RECORD_COLUMNS};
use byoc_core::schedule::call_time;
use byoc_core::Route;
use byoc_store::admin::{self, AdminError, Edit, ImportPlan};
use byoc_store::{Expect, StoreError, StoredRoute};
use http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json, refuse, Console, BODY_MAX, IMPORT_BODY_MAX};
use crate::resolve::{self, summary};

/// A JSON body of type `T` (unknown fields refused) of at most `MAX` bytes; else the 413 or
/// 400 that says why not.
pub(super) struct Body<T, const MAX: usize = BODY_MAX>(T);

impl<S: Send + Sync, T: DeserializeOwned, const MAX: usize> FromRequest<S> for Body<T, MAX> {
    type Rejection = Response;

    async fn from_request(request: Request, _: &S) -> Result<Self, Response> {
        // A body somewhat over the limit is still read to its end before the 413, so that the
        // client, still sending, gets the answer rather than a closed connection.
        let too_large = || {
            refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is over {MAX} bytes"),
            )
        };
        let bytes = axum::body::to_bytes(request.into_body(), MAX + DRAIN_MAX)
            .await
            .map_err(|_| too_large())?;
        if bytes.len() > MAX {
            return Err(too_large());
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut de)
            .map(Body)
            .map_err(|e| {
                let at = e.path().to_string();
                let at = if at == "." {
                    String::new()
                } else {
                    format!(" at `{at}`")
                };
                refuse(
                    StatusCode::BAD_REQUEST,
                    &format!("bad JSON body{at}: {}", e.inner()),
                )
            })
    }
}

/// How far past its limit a body is still read (and dropped) to answer 413 cleanly.
const DRAIN_MAX: usize = 1024 * 1024;

type Shared = State<Arc<Console>>;

/// A route file changed by someone else (the CLI, an editor) is read again before a request.
pub(super) async fn refresh(State(console): Shared, request: Request, next: Next) -> Response {
    match console.opened.admin.refresh().await {
        Ok(()) => next.run(request).await,
        Err(e) => store_error(&e),
    }
}

/// The `key` query parameter as the CLI takes keys (`+1 317…` forms, `PATTERN@DOMAIN` in any
/// case), or the 400 that asks for it.
#[allow(clippy::result_large_err)]
fn key(console: &Console, query: Option<String>) -> Result<String, Response> {
    query
        .as_deref()
        .and_then(|q| byoc_core::params::query_param(q, "key"))
        .filter(|k| !k.trim().is_empty())
        .map(|k| route_key(&k, &console.config.inbound.plan))
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "the `key` query parameter is missing (a pattern such as %2B13175551234 or %2B1317*)",
            )
        })
}

/// A store error as an HTTP answer: conflicts 409, a missing route 404, the store itself 503.
fn store_error(e: &StoreError) -> Response {
    let mut value = json!({ "error": admin::cause_chain(e) });
    if let Some(fix) = admin::hint(e).filter(|_| matches!(e, StoreError::NoTable { .. })) {
        value["fix"] = fix.into();
    }
    json(store_status(e), &value)
}

/// The HTTP status of a store error.
fn store_status(e: &StoreError) -> StatusCode {
    match e {
        StoreError::Exists { .. }
        | StoreError::VersionMismatch { .. }
        | StoreError::Conflict { .. } => StatusCode::CONFLICT,
        StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        StoreError::Unavailable(_)
        | StoreError::NoTable { .. }
        | StoreError::Io { .. }
        | StoreError::RouteFile { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An admin error as an HTTP answer: the store's as [`store_error`], bad input 422 with the
/// field it is about.
fn admin_error(e: &AdminError) -> Response {
    match e {
        AdminError::Store(e) => store_error(e),
        AdminError::Partial { written, source } => json(
            store_status(source),
            &json!({ "error": e.to_string(), "written": written }),
        ),
        AdminError::Format(e) => refuse(StatusCode::BAD_REQUEST, &e.to_string()),
        e => {
            let mut value = json!({ "error": e.to_string() });
            if let Some(field) = e.field() {
                value["field"] = field.into();
            }
            if let AdminError::Route(route) = e {
                value["message"] = route.kind.to_string().into();
            }
            json(StatusCode::UNPROCESSABLE_ENTITY, &value)
        }
    }
}

fn read_only(console: &Console) -> Option<Response> {
    console.read_only.then(|| {
        refuse(
            StatusCode::FORBIDDEN,
            "read-only: this console shows the embedded example; restart it with --routes FILE or --table NAME to edit",
        )
    })
}

pub(super) async fn info(State(console): Shared) -> Response {
    let actions: Vec<Value> = ACTIONS
        .iter()
        .map(|(name, fields)| json!({ "name": name, "fields": fields }))
        .collect();
    json(
        StatusCode::OK,
        &json!({
            "store": console.opened.store.describe(),
            "read_only": console.read_only,
            "actor": console.actor,
            "actions": actions,
            "columns": RECORD_COLUMNS,
            "json_fields": ["schedule", "targets", "final", "shares", "callers", "task_attributes"],
            "default_country_code": console.config.inbound.plan.country_code(),
            "calls": console.calls.as_ref().map(|logs| logs.describe()),
        }),
    )
}

/// A stored route as the API shows it: its record with metadata, plus `key`, `kind`, `summary`,
/// `target`, and `unreadable` (the reason) for an item this version cannot read.
fn shown(stored: &StoredRoute) -> Value {
    let mut value = serde_json::to_value(stored.to_record()).unwrap_or_default();
    value["key"] = stored.route.key().into();
    value["kind"] = stored.route.pattern.kind().into();
    value["summary"] = summary(&stored.route).into();
    value["target"] = resolve::target(&stored.route).into();
    if let Some(reason) = &stored.unreadable {
        value["unreadable"] = reason.as_str().into();
    }
    value
}

/// The linter's findings on these routes ([`byoc_core::lint`]), by route key: on a page, the
/// findings about a route itself (the checks across routes, a chain looping through another or
/// a route that repeats the catch-all, need every route: `byoc routes lint` makes them).
fn lint_by_route(console: &Console, routes: &[StoredRoute]) -> Vec<byoc_core::lint::Finding> {
    let readable: Vec<std::sync::Arc<byoc_core::Route>> = routes
        .iter()
        .filter(|r| r.unreadable.is_none())
        .map(|r| r.route.clone())
        .collect();
    let base = byoc_web::config::var("PUBLIC_BASE_URL");
    // A base URL or account that cannot be used leaves those two checks out here; the CLI
    // says why.
    let ctx = crate::routes::lint_context(base).unwrap_or_default();
    let mut findings = byoc_core::lint::lint(&readable, &console.config.inbound.plan, &ctx);
    findings.retain(|f| !ACROSS_ROUTES.contains(&f.kind));
    findings
}

/// The lint kinds whose finding depends on routes besides the one it names.
const ACROSS_ROUTES: [&str; 2] = ["chain_loop", "repeats_catch_all"];

fn warnings_of(findings: &[byoc_core::lint::Finding], key: &str) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.route == key)
        .map(|f| format!("{}: {}", f.kind, f.message))
        .collect()
}

/// A page of routes is this many at most.
const PAGE_MAX: usize = 500;

thread_local! {
    /// The text a route is searched in ([`RouteFilter::matches`]).
    static HAY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The routes list's filters, as the page sends them.
struct RouteFilter {
    prefix: Option<String>,
    /// Lower case: matched in the key, the summary and the description, case-insensitively.
    text: Option<String>,
    action: Option<String>,
    scope: Option<String>,
}

impl RouteFilter {
    fn from_query(fields: &std::collections::HashMap<String, String>) -> Self {
        let field = |name: &str| {
            fields
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Self {
            prefix: field("prefix"),
            text: field("text").map(|t| t.to_lowercase()),
            action: field("action"),
            scope: field("scope").map(|s| s.to_lowercase()),
        }
    }

    /// The filters besides the prefix (which the store applies).
    fn matches(&self, r: &StoredRoute) -> bool {
        if let Some(action) = &self.action {
            if r.route.action.kind() != action {
                return false;
            }
        }
        if let Some(scope) = &self.scope {
            if !r
                .route
                .scope
                .as_deref()
                .unwrap_or("")
                .to_lowercase()
                .contains(scope)
            {
                return false;
            }
        }
        if let Some(text) = &self.text {
            // One buffer for every route of a scan (a million summaries, not a million
            // allocations); lower-cased in place when ASCII, as `to_lowercase` would.
            HAY.with_borrow_mut(|hay| {
                hay.clear();
                crate::resolve::summary_into(&r.route, hay);
                if let Some(d) = &r.route.description {
                    hay.push(' ');
                    hay.push_str(d);
                }
                if hay.is_ascii() {
                    hay.make_ascii_lowercase();
                    hay.contains(text.as_str())
                } else {
                    hay.to_lowercase().contains(text.as_str())
                }
            })
        } else {
            true
        }
    }
}

fn query_fields(query: Option<String>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One page of routes in key order: those the filters take after the cursor `after`, at most
/// `limit` (50 by default), and `next`, the cursor of the page after (none on the last). The
/// store is read from the cursor on and no further than the page: a million routes are never
/// held, on DynamoDB never read for one page. The counts come from `/api/routes/count`.
pub(super) async fn list(State(console): Shared, RawQuery(query): RawQuery) -> Response {
    let fields = query_fields(query);
    let limit = match fields.get("limit").map(|l| l.parse::<usize>()) {
        None => 50,
        Some(Ok(n)) if (1..=PAGE_MAX).contains(&n) => n,
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("limit: a whole number from 1 to {PAGE_MAX}"),
            )
        }
    };
    let filter = RouteFilter::from_query(&fields);
    let after = fields.get("after").filter(|a| !a.is_empty()).cloned();
    let hint = (filter.text.is_none() && filter.action.is_none() && filter.scope.is_none())
        .then_some(limit + 1);
    let mut page: Vec<StoredRoute> = Vec::with_capacity(limit);
    let mut more = false;
    let listed = console
        .opened
        .admin
        // A page hint only when every route read is one of the page's: with other filters a
        // store reading small pages for a rare match would ask many times over.
        .each(filter.prefix.as_deref(), after.as_deref(), hint, &mut |r| {
            if !filter.matches(&r) {
                return true;
            }
            if page.len() == limit {
                more = true;
                return false;
            }
            page.push(r);
            true
        })
        .await;
    if let Err(e) = listed {
        return store_error(&e);
    }
    let findings = lint_by_route(&console, &page);
    let next = if more {
        page.last().map(|r| r.route.key())
    } else {
        None
    };
    let shown: Vec<Value> = page
        .iter()
        .map(|r| {
            let mut v = shown(r);
            let warnings = warnings_of(&findings, &r.route.key());
            if !warnings.is_empty() {
                v["warnings"] = warnings.into();
            }
            v
        })
        .collect();
    json(
        StatusCode::OK,
        &json!({ "routes": shown, "next": next, "order": "key" }),
    )
}

/// `{matched, total}`: how many routes the filters take, of how many; counted one route at a
/// time (on DynamoDB a read of the whole index, which the page asks for after drawing).
pub(super) async fn count(State(console): Shared, RawQuery(query): RawQuery) -> Response {
    let fields = query_fields(query);
    let filter = RouteFilter::from_query(&fields);
    let (mut matched, mut total) = (0u64, 0u64);
    let counted = console
        .opened
        .admin
        .each(None, None, None, &mut |r| {
            total += 1;
            if filter
                .prefix
                .as_deref()
                .is_none_or(|p| r.route.key().starts_with(p))
                && filter.matches(&r)
            {
                matched += 1;
            }
            true
        })
        .await;
    match counted {
        Ok(()) => json(
            StatusCode::OK,
            &json!({ "matched": matched, "total": total }),
        ),
        Err(e) => store_error(&e),
    }
}

pub(super) async fn get(State(console): Shared, RawQuery(query): RawQuery) -> Response {
    let key = match key(&console, query) {
        Ok(key) => key,
        Err(refused) => return refused,
    };
    match console.opened.admin.get(&key).await {
        Ok(Some(stored)) => json(StatusCode::OK, &json!({ "route": shown(&stored) })),
        Ok(None) => refuse(
            StatusCode::NOT_FOUND,
            &format!("route `{key}` does not exist"),
        ),
        Err(e) => store_error(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Save {
    record: Value,
    /// `null`: create; a number: update exactly that version.
    version: Option<u64>,
    /// The key the form was loaded with (an edit); the pattern and scope may not change.
    #[serde(default)]
    key: Option<String>,
}

pub(super) async fn save(State(console): Shared, Body(save): Body<Save>) -> Response {
    if let Some(refused) = read_only(&console) {
        return refused;
    }
    let edit = Edit {
        whole: Some(save.record),
        loaded: save.key,
        // The page shows an unreadable item flagged, with its version: saving the form over
        // it is how it is fixed.
        over_unreadable: true,
        expect: save.version.map_or(Expect::Absent, Expect::Version),
        ..Edit::default()
    };
    let admin = console.opened.admin.as_ref();
    let planned = match admin::plan_edit(admin, &console.config.inbound.plan, edit).await {
        Ok(planned) => planned,
        Err(AdminError::Store(e)) => {
            let key = match &e {
                StoreError::Exists { pattern, .. }
                | StoreError::VersionMismatch { pattern, .. }
                | StoreError::NotFound { pattern } => pattern.clone(),
                _ => return store_error(&e),
            };
            return conflict_or_error(&console, &key, &e).await;
        }
        Err(e) => return admin_error(&e),
    };
    // Saving what is already stored writes nothing (as the CLI's "no change: nothing
    // written"): no new version, no empty history entry.
    let unchanged = planned.unchanged();
    let key = planned.key.clone();
    match planned.apply(admin, &console.actor).await {
        Ok(stored) => {
            // The linter's findings on the saved route: said, never refused.
            let warnings = match admin.list(None).await {
                Ok(all) => warnings_of(&lint_by_route(&console, &all), &stored.route.key()),
                Err(_) => Vec::new(),
            };
            json(
                StatusCode::OK,
                &json!({ "route": shown(&stored), "unchanged": unchanged, "warnings": warnings }),
            )
        }
        Err(e) => conflict_or_error(&console, &key, &e).await,
    }
}

/// A conflict answered with the route as it is now, so the page can show both versions.
async fn conflict_or_error(console: &Console, key: &str, e: &StoreError) -> Response {
    if !byoc_store::admin::is_conflict(e) {
        return store_error(e);
    }
    let current = match console.opened.admin.get(key).await {
        Ok(current) => current.as_ref().map(shown),
        Err(_) => None,
    };
    json(
        StatusCode::CONFLICT,
        &json!({ "error": e.to_string(), "current": current }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Delete {
    key: String,
    version: u64,
}

pub(super) async fn delete(State(console): Shared, Body(delete): Body<Delete>) -> Response {
    if let Some(refused) = read_only(&console) {
        return refused;
    }
    let key = route_key(&delete.key, &console.config.inbound.plan);
    match console
        .opened
        .admin
        .delete(&key, Expect::Version(delete.version), &console.actor)
        .await
    {
        Ok(removed) => json(StatusCode::OK, &json!({ "deleted": shown(&removed) })),
        Err(e @ StoreError::NotFound { .. }) => store_error(&e),
        Err(e) => conflict_or_error(&console, &key, &e).await,
    }
}

pub(super) async fn history(State(console): Shared, RawQuery(query): RawQuery) -> Response {
    let key = match key(&console, query) {
        Ok(key) => key,
        Err(refused) => return refused,
    };
    match console.opened.admin.history(&key).await {
        Ok(changes) => json(StatusCode::OK, &json!({ "key": key, "changes": changes })),
        Err(e) => store_error(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Resolve {
    number: String,
    #[serde(default)]
    from: Option<String>,
    /// Twilio's `StirVerstat`, for `verstat` caller conditions.
    #[serde(default)]
    verstat: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    /// RFC 3339 (`2026-12-24T19:00:00Z`), or a local date-time (`2026-12-24T19:00`) in `tz`.
    #[serde(default)]
    at: Option<String>,
    /// An IANA time zone for a local `at` (`America/Indiana/Indianapolis`).
    #[serde(default)]
    tz: Option<String>,
    /// The home country to read the number in (`44`, `GB`); blank: the configured one.
    #[serde(default)]
    country: Option<String>,
}

pub(super) async fn resolve_call(State(console): Shared, Body(call): Body<Resolve>) -> Response {
    let at = match call_time(call.at.as_deref(), call.tz.as_deref()) {
        Ok(at) => at,
        Err(reason) => {
            return json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({ "error": reason.to_string(), "field": "at" }),
            )
        }
    };
    let country = match call.country.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => match byoc_core::NumberPlan::new(c) {
            Ok(plan) => Some(plan),
            Err(e) => {
                return json(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &json!({ "error": e.to_string(), "field": "country" }),
                )
            }
        },
    };
    let query = resolve::Query {
        number: call.number,
        from: call.from,
        verstat: call.verstat,
        scope: call.scope,
        at,
        country,
    };
    match resolve::explain(&console.opened, &console.config.inbound, &query).await {
        Ok(explained) => {
            let lines: Vec<Value> = explained
                .lines
                .iter()
                .map(|(label, value)| json!([label, value]))
                .collect();
            json(
                StatusCode::OK,
                &json!({ "lines": lines, "address_ok": explained.address_ok, "at": at.to_string() }),
            )
        }
        Err(e) => store_error(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Import {
    text: String,
    /// The file's name, for format detection and messages.
    #[serde(default)]
    name: String,
    /// `auto` (default), `json`, `csv` or `flex`.
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    prune: bool,
    /// `false` (default): only the difference; `true`: write it.
    #[serde(default)]
    apply: bool,
    /// A prune that deletes the `*` route or many routes must say so (as `--yes` does).
    #[serde(default)]
    confirm_prune: bool,
}

pub(super) async fn import_routes(
    State(console): Shared,
    Body(request): Body<Import, IMPORT_BODY_MAX>,
) -> Response {
    if request.apply {
        if let Some(refused) = read_only(&console) {
            return refused;
        }
    }
    let plan = &console.config.inbound.plan;
    let input = match admin::read_import(
        &request.text,
        &request.name,
        request.format.as_deref(),
        plan,
    ) {
        Ok(input) => input,
        Err(AdminError::Rows { format, rows }) => {
            let errors: Vec<Value> = rows
                .errors
                .iter()
                .map(|r| json!({ "line": r.line, "message": r.message }))
                .collect();
            return json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({ "error": rows.to_string(), "format": format, "errors": errors }),
            );
        }
        Err(e) => return admin_error(&e),
    };
    let admin = console.opened.admin.as_ref();
    let planned = match ImportPlan::against(admin, &input.routes, request.prune).await {
        Ok(planned) => planned,
        Err(e) => return store_error(&e),
    };
    let records = |routes: &[Route]| -> Vec<Value> {
        routes
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r.to_record()).unwrap_or_default();
                v["key"] = r.key().into();
                v["summary"] = summary(r).into();
                v
            })
            .collect()
    };
    let changed: Vec<Value> = planned
        .diff
        .changed
        .iter()
        .map(|(old, new)| {
            json!({
                "key": new.key(),
                "before": serde_json::to_value(old.to_record()).unwrap_or_default(),
                "after": serde_json::to_value(new.to_record()).unwrap_or_default(),
                "summary": summary(new),
            })
        })
        .collect();
    let mut answer = json!({
        "format": input.format.name(),
        "read": input.routes.len(),
        "added": records(&planned.diff.added),
        "changed": changed,
        "absent": records(&planned.diff.absent),
        "unchanged": planned.diff.unchanged,
        "prune": request.prune,
        "writes": planned.writes(),
        "prune_risk": planned.prune_risk(),
        "warnings": input.warnings,
    });
    if !request.apply {
        return json(StatusCode::OK, &answer);
    }
    console.import_done.store(0, Ordering::Relaxed);
    console
        .import_total
        .store(planned.writes(), Ordering::Relaxed);
    let applied = planned
        .apply(admin, &console.actor, request.confirm_prune, &|n| {
            console.import_done.store(n, Ordering::Relaxed)
        })
        .await;
    console.import_total.store(0, Ordering::Relaxed);
    console.import_done.store(0, Ordering::Relaxed);
    let applied = match applied {
        Ok(applied) => applied,
        Err(AdminError::PruneUnconfirmed(risk)) => {
            answer["error"] =
                format!("the prune would delete {risk}; nothing written: confirm it to go on")
                    .into();
            return json(StatusCode::CONFLICT, &answer);
        }
        Err(e) => return admin_error(&e),
    };
    answer["written"] = applied.written.into();
    answer["conflicts"] = applied
        .conflicts
        .iter()
        .map(|c| Value::from(c.to_string()))
        .collect::<Vec<_>>()
        .into();
    json(StatusCode::OK, &answer)
}

pub(super) async fn progress(State(console): Shared) -> Response {
    json(
        StatusCode::OK,
        &json!({
            "done": console.import_done.load(Ordering::Relaxed),
            "total": console.import_total.load(Ordering::Relaxed),
        }),
    )
}

pub(super) async fn export(State(console): Shared, RawQuery(query): RawQuery) -> Response {
    let format = query
        .as_deref()
        .and_then(|q| byoc_core::params::query_param(q, "format"))
        .map_or_else(|| "json".to_string(), |f| f.into_owned());
    let exported = match admin::export(console.opened.admin.as_ref(), &format).await {
        Ok(exported) => exported,
        Err(e) => return admin_error(&e),
    };
    let file = format!("routes.{}", exported.format.name());
    (
        [
            (
                header::CONTENT_TYPE,
                exported.format.content_type().to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        exported.text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text filter matches as `to_lowercase` would, whether the route's text is ASCII
    /// (lower-cased in place) or not, in the key, the summary and the description.
    #[test]
    fn the_text_filter_matches_case_insensitively_in_any_script() {
        let plan = byoc_core::NumberPlan::default();
        let stored = |json: &str| {
            let route = Route::from_record(serde_json::from_str(json).unwrap(), &plan).unwrap();
            StoredRoute::new(
                std::sync::Arc::new(route),
                byoc_core::RouteMeta::unrecorded(),
            )
        };
        let filter = |text: &str| {
            let fields = std::collections::HashMap::from([("text".to_string(), text.to_string())]);
            RouteFilter::from_query(&fields)
        };
        let ascii = stored(
            r#"{"pattern":"+13175551234","url":"https://Example.com/Main","description":"Sales Line"}"#,
        );
        let zurich = stored(
            r#"{"pattern":"+41445551234","action":"hangup","description":"ZÜRICH \u212a desk"}"#,
        );
        for (text, route, matched) in [
            ("sales line", &ascii, true),
            ("EXAMPLE.COM/main", &ascii, true),
            ("+1317555", &ascii, true),
            ("redirect", &ascii, true),
            ("zürich", &zurich, true),
            ("Zürich", &zurich, true),
            ("k desk", &zurich, true),
            ("hangup", &zurich, true),
            ("sales", &zurich, false),
            ("zzz", &ascii, false),
        ] {
            assert_eq!(filter(text).matches(route), matched, "{text}");
        }
    }
}
