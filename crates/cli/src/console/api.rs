//! The console's JSON API. Every answer is JSON; errors are `{"error": …}` (plus `field` for a
//! route field, `current` for a conflict, `errors` for an import's bad rows).
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/info` | the store, whether it is read-only, the actor, actions and their fields |
//! | `GET /api/routes` | every route as a record with `version`, `updated_*`, `key`, `summary`, matcher order |
//! | `GET /api/route?key=K` | one route |
//! | `POST /api/route` `{record, version}` | create (`version: null`) or update that version |
//! | `POST /api/route/delete` `{key, version}` | delete that version |
//! | `GET /api/history?key=K` | the route's changes, oldest first |
//! | `POST /api/resolve` `{number, from, scope, at, tz, country}` | what `byoc routes resolve` prints, as lines |
//! | `POST /api/import` `{text, name, format, prune, apply}` | the dry-run difference, or what was written |
//! | `GET /api/import/progress` | `{done, total}` of the import being applied |
//! | `GET /api/export?format=json\|csv` | every route as a file |

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use byoc_core::import::{self, Format};
use byoc_core::route::{record_from_json, Pattern, ACTIONS, RECORD_COLUMNS};
use byoc_core::Route;
use byoc_store::{Expect, StoreError, StoredRoute};
use http::{header, Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json, refuse, Console};
use crate::resolve::{self, summary};

pub(crate) async fn handle(
    console: &Console,
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> Response {
    let param = |name: &str| byoc_core::params::query_param(query, name).map(|v| v.into_owned());
    // A route file changed by someone else (the CLI, an editor) is read again first.
    if path != "/api/import/progress" {
        if let Err(e) = console.opened.admin.refresh().await {
            return store_error(&e);
        }
    }
    let plan = &console.config.inbound.plan;
    // Keys as the CLI takes them: `+1 317…` forms, `PATTERN@DOMAIN` in any case.
    let key = || {
        param("key")
            .filter(|k| !k.trim().is_empty())
            .map(|k| byoc_core::route::route_key(&k, plan))
    };
    let needs_key = || {
        refuse(
            StatusCode::BAD_REQUEST,
            "the `key` query parameter is missing (a pattern such as %2B13175551234 or %2B1317*)",
        )
    };
    match (method.clone(), path) {
        (Method::GET, "/api/info") => info(console),
        (Method::GET, "/api/routes") => list(console).await,
        (Method::GET, "/api/route") => match key() {
            Some(key) => get(console, &key).await,
            None => needs_key(),
        },
        (Method::POST, "/api/route") => save(console, body).await,
        (Method::POST, "/api/route/delete") => delete(console, body).await,
        (Method::GET, "/api/history") => match key() {
            Some(key) => history(console, &key).await,
            None => needs_key(),
        },
        (Method::POST, "/api/resolve") => resolve_call(console, body).await,
        (Method::POST, "/api/import") => import_routes(console, body).await,
        (Method::GET, "/api/import/progress") => json(
            StatusCode::OK,
            &json!({
                "done": console.import_done.load(Ordering::Relaxed),
                "total": console.import_total.load(Ordering::Relaxed),
            }),
        ),
        (Method::GET, "/api/export") => {
            export(console, param("format").as_deref().unwrap_or("json")).await
        }
        (_, "/api/info" | "/api/routes" | "/api/route" | "/api/route/delete" | "/api/history")
        | (_, "/api/resolve" | "/api/import" | "/api/export") => {
            refuse(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        }
        _ => refuse(StatusCode::NOT_FOUND, "no such API"),
    }
}

/// A JSON body of type `T` (unknown fields refused), or the 400 that says why not.
#[allow(clippy::result_large_err)]
fn body<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Response> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
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

/// A store error as an HTTP answer: conflicts 409, a missing route 404, the store itself 503.
fn store_error(e: &StoreError) -> Response {
    let status = match e {
        StoreError::Exists { .. }
        | StoreError::VersionMismatch { .. }
        | StoreError::Conflict { .. } => StatusCode::CONFLICT,
        StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        StoreError::Unavailable(_)
        | StoreError::NoTable { .. }
        | StoreError::Io { .. }
        | StoreError::RouteFile { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    let mut value = json!({ "error": text });
    if let StoreError::NoTable { table } = e {
        value["fix"] = format!(
            "byoc table create --table {table}  (or deploy template.yaml; check AWS_REGION)"
        )
        .into();
    }
    json(status, &value)
}

fn read_only(console: &Console) -> Option<Response> {
    console.read_only.then(|| {
        refuse(
            StatusCode::FORBIDDEN,
            "read-only: this console shows the embedded example; restart it with --routes FILE or --table NAME to edit",
        )
    })
}

fn info(console: &Console) -> Response {
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
            "json_fields": ["schedule", "targets", "final", "callers", "task_attributes"],
            "default_country_code": console.config.inbound.plan.country_code(),
        }),
    )
}

/// The matcher's precedence as a sort key: exact numbers and literals, then prefixes longest
/// first, then `*`; a scoped route before the unscoped one of the same pattern.
fn rank(route: &Route) -> (u8, std::cmp::Reverse<usize>, String, bool) {
    let (class, len) = match &route.pattern {
        Pattern::Exact(_) | Pattern::Literal(_) => (0, 0),
        Pattern::Prefix(p) => (1, p.len()),
        Pattern::CatchAll => (2, 0),
    };
    (
        class,
        std::cmp::Reverse(len),
        route.pattern.key(),
        route.scope.is_none(),
    )
}

fn kind(route: &Route) -> &'static str {
    match &route.pattern {
        Pattern::Exact(_) => "exact",
        Pattern::Literal(_) => "literal",
        Pattern::Prefix(_) => "prefix",
        Pattern::CatchAll => "catch_all",
    }
}

/// A stored route as the API shows it: its record with metadata, plus `key`, `kind`, `summary`.
fn shown(stored: &StoredRoute) -> Value {
    let mut value = serde_json::to_value(stored.to_record()).unwrap_or_default();
    value["key"] = stored.route.key().into();
    value["kind"] = kind(&stored.route).into();
    value["summary"] = summary(&stored.route).into();
    value["target"] = resolve::target(&stored.route).into();
    value
}

async fn list(console: &Console) -> Response {
    match console.opened.admin.list(None).await {
        Ok(mut routes) => {
            routes.sort_by_cached_key(|r| rank(&r.route));
            let shown: Vec<Value> = routes.iter().map(shown).collect();
            json(
                StatusCode::OK,
                &json!({ "routes": shown, "total": shown.len() }),
            )
        }
        Err(e) => store_error(&e),
    }
}

async fn get(console: &Console, key: &str) -> Response {
    match console.opened.admin.get(key).await {
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
struct Save {
    record: Value,
    /// `null`: create; a number: update exactly that version.
    version: Option<u64>,
    /// The key the form was loaded with (an edit); the pattern and scope may not change.
    #[serde(default)]
    key: Option<String>,
}

async fn save(console: &Console, bytes: &[u8]) -> Response {
    if let Some(refused) = read_only(console) {
        return refused;
    }
    let save: Save = match body(bytes) {
        Ok(save) => save,
        Err(refused) => return refused,
    };
    let mut record_value = save.record;
    // What the page shows beside the record is not part of it.
    if let Some(map) = record_value.as_object_mut() {
        // `PATTERN@DOMAIN`, as the CLI takes it, names the scope.
        if let Some(Value::String(pattern)) = map.get("pattern").cloned() {
            let scope_given = map.get("scope").is_some_and(|s| !s.is_null());
            match pattern.rsplit_once('@') {
                Some((p, scope)) if !p.is_empty() && !scope_given => {
                    map.insert("pattern".into(), p.into());
                    map.insert("scope".into(), scope.into());
                }
                _ => {}
            }
        }
        for extra in [
            "key",
            "kind",
            "summary",
            "version",
            "updated_at",
            "updated_by",
        ] {
            map.remove(extra);
        }
    }
    let route = match record_from_json(&record_value.to_string())
        .and_then(|record| Route::from_record(record, &console.config.inbound.plan))
    {
        Ok(route) => route,
        Err(e) => {
            return json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({ "error": e.to_string(), "field": e.kind.field(), "message": e.kind.to_string() }),
            )
        }
    };
    let key = route.key();
    let loaded = save
        .key
        .as_deref()
        .map(|k| byoc_core::route::route_key(k, &console.config.inbound.plan));
    if let Some(loaded) = loaded.filter(|k| *k != key) {
        return json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({
                "error": format!("an edit cannot move route `{loaded}` to `{key}`: create the new route, then delete this one"),
                "field": "pattern",
            }),
        );
    }
    // Saving what is already stored, from the version stored, writes nothing (as the CLI's
    // "no change: nothing written"): no new version, no empty history entry.
    if let Some(version) = save.version {
        if let Ok(Some(current)) = console.opened.admin.get(&key).await {
            if current.meta.version == version && *current.route == route {
                return json(
                    StatusCode::OK,
                    &json!({ "route": shown(&current), "unchanged": true }),
                );
            }
        }
    }
    let expect = save.version.map_or(Expect::Absent, Expect::Version);
    match console
        .opened
        .admin
        .put(route, expect, &console.actor)
        .await
    {
        Ok(stored) => json(StatusCode::OK, &json!({ "route": shown(&stored) })),
        Err(e) => conflict_or_error(console, &key, &e).await,
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
struct Delete {
    key: String,
    version: u64,
}

async fn delete(console: &Console, bytes: &[u8]) -> Response {
    if let Some(refused) = read_only(console) {
        return refused;
    }
    let delete: Delete = match body(bytes) {
        Ok(d) => d,
        Err(refused) => return refused,
    };
    let key = byoc_core::route::route_key(&delete.key, &console.config.inbound.plan);
    match console
        .opened
        .admin
        .delete(&key, Expect::Version(delete.version), &console.actor)
        .await
    {
        Ok(removed) => json(StatusCode::OK, &json!({ "deleted": shown(&removed) })),
        Err(e @ StoreError::NotFound { .. }) => store_error(&e),
        Err(e) => conflict_or_error(console, &key, &e).await,
    }
}

async fn history(console: &Console, key: &str) -> Response {
    match console.opened.admin.history(key).await {
        Ok(changes) => json(StatusCode::OK, &json!({ "key": key, "changes": changes })),
        Err(e) => store_error(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resolve {
    number: String,
    #[serde(default)]
    from: Option<String>,
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

async fn resolve_call(console: &Console, bytes: &[u8]) -> Response {
    let call: Resolve = match body(bytes) {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let at = match resolve::call_time(call.at.as_deref(), call.tz.as_deref()) {
        Ok(at) => at,
        Err(reason) => {
            return json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({ "error": reason, "field": "at" }),
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
struct Import {
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

async fn import_routes(console: &Console, bytes: &[u8]) -> Response {
    let request: Import = match body(bytes) {
        Ok(i) => i,
        Err(refused) => return refused,
    };
    if request.apply {
        if let Some(refused) = read_only(console) {
            return refused;
        }
    }
    let format = match request.format.as_deref().unwrap_or("auto") {
        "auto" => Format::detect(&request.name, &request.text),
        "json" => Format::Json,
        "csv" => Format::Csv,
        "flex" => Format::Flex,
        other => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("format `{other}`: expected auto, json, csv or flex"),
            )
        }
    };
    let routes = match import::parse(&request.text, format, &console.config.inbound.plan) {
        Ok(routes) => routes,
        Err(e) => {
            let errors: Vec<Value> = e
                .errors
                .iter()
                .map(|r| json!({ "line": r.line, "message": r.message }))
                .collect();
            return json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({ "error": e.to_string(), "format": format.name(), "errors": errors }),
            );
        }
    };
    let stored = match console.opened.admin.list(None).await {
        Ok(stored) => stored,
        Err(e) => return store_error(&e),
    };
    let plan = byoc_store::plan_import(stored, &routes, request.prune);
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
    let changed: Vec<Value> = plan
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
        "format": format.name(),
        "read": routes.len(),
        "added": records(&plan.diff.added),
        "changed": changed,
        "absent": records(&plan.diff.absent),
        "unchanged": plan.diff.unchanged,
        "prune": request.prune,
        "writes": plan.ops.len(),
        "prune_risk": plan.prune_risk(),
        "warnings": byoc_core::import::warnings(&routes, &console.config.inbound.plan),
    });
    if !request.apply {
        return json(StatusCode::OK, &answer);
    }
    if let Some(risk) = plan.prune_risk().filter(|_| !request.confirm_prune) {
        answer["error"] =
            format!("the prune would delete {risk}; nothing written: confirm it to go on").into();
        return json(StatusCode::CONFLICT, &answer);
    }
    console.import_done.store(0, Ordering::Relaxed);
    console
        .import_total
        .store(plan.ops.len(), Ordering::Relaxed);
    let applied = console
        .opened
        .admin
        .apply(plan.ops, &console.actor, &|n| {
            console.import_done.store(n, Ordering::Relaxed)
        })
        .await;
    console.import_total.store(0, Ordering::Relaxed);
    console.import_done.store(0, Ordering::Relaxed);
    let applied = match applied {
        Ok(applied) => applied,
        Err(e) => return store_error(&e),
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

async fn export(console: &Console, format: &str) -> Response {
    let routes: Vec<Arc<Route>> = match console.opened.admin.list(None).await {
        Ok(stored) => stored.into_iter().map(|r| r.route).collect(),
        Err(e) => return store_error(&e),
    };
    let (text, content_type, file) = match format {
        "json" => (
            byoc_core::route_file::to_route_file(&routes),
            "application/json",
            "routes.json",
        ),
        "csv" => (
            import::to_csv(&routes),
            "text/csv; charset=utf-8",
            "routes.csv",
        ),
        other => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("format `{other}`: expected json or csv"),
            )
        }
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        text,
    )
        .into_response()
}
