//! Routes and their history as DynamoDB items: keys, attribute mapping, list shards.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use byoc_core::route::scoped_key;
use byoc_core::{NumberPlan, Route, RouteMeta, RouteRecord};
use byoc_store::{Change, StoreError, StoredRoute};

/// The sort key of a route item.
pub const SK_ROUTE: &str = "route";
/// The index that lists routes without reading their history: only route items carry
/// [`LIST_SHARD`], so the index holds routes alone and `list` costs O(routes).
pub const ROUTES_INDEX: &str = "routes";
/// The index's partition key: one of [`LIST_SHARDS`] values, so that an import's writes spread
/// over several index partitions; its sort key is `pattern`, so a prefix is a key condition.
pub const LIST_SHARD: &str = "list_shard";
/// How many `list_shard` values there are (`0` to `7`).
pub const LIST_SHARDS: u32 = 8;
/// The item that says every route carries its `list_shard` (written by `byoc table create` and
/// `byoc table migrate`): until it exists, the index may lack routes written before it, so a
/// listing scans instead. Not a route (its `sk` is not `route`), never read on the call path.
pub(crate) const INDEX_READY_PK: &str = "#meta";
pub(crate) const INDEX_READY_SK: &str = "routes-index-ready";

/// The `list_shard` of a route key: FNV-1a, stable across versions and processes (the table
/// outlives any one binary).
pub fn list_shard(key: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % LIST_SHARDS).to_string()
}
/// The prefix of history sort keys.
pub const SK_HISTORY_PREFIX: &str = "h#";

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn key(pattern: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pattern".to_string(), s(pattern)),
        ("sk".to_string(), s(sk)),
    ])
}

/// A record as item attributes (strings as S, numbers as N).
pub fn record_to_item(record: &RouteRecord) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::new();
    // A RouteRecord is a flat object of strings and numbers, plus JSON objects (schedule,
    // task attributes) that are stored as their text.
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(record) {
        for (k, v) in map {
            let value = match v {
                serde_json::Value::String(text) => s(text),
                serde_json::Value::Number(n) => AttributeValue::N(n.to_string()),
                // Schedules and task attributes: kept as JSON text.
                v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_)) => {
                    s(v.to_string())
                }
                _ => continue,
            };
            item.insert(k, value);
        }
    }
    // The partition key is the route's store key: a scoped route's pattern carries its scope.
    let key = match &record.scope {
        Some(scope) => scoped_key(&record.pattern, scope),
        None => record.pattern.clone(),
    };
    item.insert(LIST_SHARD.to_string(), s(list_shard(&key)));
    item.insert("pattern".into(), s(key));
    item.insert("sk".to_string(), s(SK_ROUTE));
    item
}

/// Item attributes back to a record; `sk` is dropped, anything unexpected is an error.
pub fn item_to_record(item: &HashMap<String, AttributeValue>) -> Result<RouteRecord, String> {
    let mut map = serde_json::Map::new();
    for (k, v) in item {
        if k == "sk" || k == LIST_SHARD {
            continue;
        }
        let value = match v {
            AttributeValue::S(text) => serde_json::Value::String(text.clone()),
            AttributeValue::N(n) => n
                .parse::<u64>()
                .map(serde_json::Value::from)
                .map_err(|_| format!("attribute `{k}`: `{n}` is not a whole number"))?,
            _ => return Err(format!("attribute `{k}` has an unexpected type")),
        };
        map.insert(k.clone(), value);
    }
    // A scoped route's partition key is `pattern@scope`: the record's pattern is the part before.
    if let (Some(serde_json::Value::String(pattern)), Some(serde_json::Value::String(scope))) =
        (map.get("pattern"), map.get("scope"))
    {
        if let Some(bare) = pattern.strip_suffix(&format!("@{scope}")) {
            let bare = bare.to_string();
            map.insert("pattern".into(), bare.into());
        }
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
}

pub(crate) fn stored_from_item(
    item: &HashMap<String, AttributeValue>,
    plan: &NumberPlan,
) -> Result<StoredRoute, StoreError> {
    let pattern = match item.get("pattern") {
        Some(AttributeValue::S(p)) => p.clone(),
        _ => String::new(),
    };
    let corrupt = |reason: String| StoreError::Corrupt {
        pattern: pattern.clone(),
        reason,
    };
    let mut record = item_to_record(item).map_err(corrupt)?;
    let meta = record.take_meta().unwrap_or_else(RouteMeta::unrecorded);
    let route = Route::from_record(record, plan).map_err(|e| corrupt(e.to_string()))?;
    Ok(StoredRoute::new(Arc::new(route), meta))
}

/// A route item as people see it (`get`, `list`): one this version cannot read is its
/// flagged stand-in ([`StoredRoute::unreadable`]) with the item's own version, so that it can
/// be shown, replaced and deleted.
pub(crate) fn shown_from_item(
    item: &HashMap<String, AttributeValue>,
    plan: &NumberPlan,
) -> Result<StoredRoute, StoreError> {
    match stored_from_item(item, plan) {
        Err(StoreError::Corrupt { pattern, reason }) => {
            let version = match item.get("version") {
                Some(AttributeValue::N(n)) => n.parse::<u64>().unwrap_or(0),
                _ => 0,
            };
            StoredRoute::unreadable(&pattern, version, &reason, plan)
        }
        other => other,
    }
}

pub(crate) fn history_sk(version: u64) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("{SK_HISTORY_PREFIX}{ms:013}#{version:010}")
}

pub(crate) fn history_item(change: &Change) -> HashMap<String, AttributeValue> {
    let mut item = key(&change.pattern, &history_sk(change.version));
    item.insert("at".into(), s(&change.at));
    item.insert("by".into(), s(&change.by));
    item.insert("op".into(), s(&change.op));
    item.insert(
        "version".into(),
        AttributeValue::N(change.version.to_string()),
    );
    for (name, record) in [("before", &change.before), ("after", &change.after)] {
        if let Some(record) = record {
            // Plain strings and numbers: serializing cannot fail.
            item.insert(
                name.into(),
                s(serde_json::to_string(record).expect("record serializes")),
            );
        }
    }
    item
}

pub(crate) fn change_from_item(item: &HashMap<String, AttributeValue>) -> Option<Change> {
    let text = |k: &str| match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    let record = |k: &str| text(k).and_then(|j| serde_json::from_str(&j).ok());
    Some(Change {
        pattern: text("pattern")?,
        at: text("at").unwrap_or_default(),
        by: text("by").unwrap_or_default(),
        op: text("op").unwrap_or_default(),
        version: match item.get("version") {
            Some(AttributeValue::N(n)) => n.parse().ok()?,
            _ => 0,
        },
        before: record("before"),
        after: record("after"),
    })
}

/// The route to write (None for a delete) and its history entry, given what is stored.
pub(crate) fn plan_change(
    pattern: &str,
    route: Option<Route>,
    before: Option<&StoredRoute>,
    actor: &str,
    at: &str,
    op: &str,
) -> Result<(Option<StoredRoute>, Change), StoreError> {
    let version = match (&route, before) {
        (Some(_), Some(b)) => b.meta.version + 1,
        (Some(_), None) => 1,
        (None, Some(b)) => b.meta.version,
        (None, None) => {
            return Err(StoreError::NotFound {
                pattern: pattern.to_string(),
            })
        }
    };
    let after = route.map(|r| {
        StoredRoute::new(
            Arc::new(r),
            RouteMeta {
                version,
                updated_at: at.to_string(),
                updated_by: actor.to_string(),
            },
        )
    });
    let change = Change {
        pattern: pattern.to_string(),
        at: at.to_string(),
        by: actor.to_string(),
        op: op.to_string(),
        version,
        before: before.map(StoredRoute::to_record),
        after: after.as_ref().map(StoredRoute::to_record),
    };
    Ok((after, change))
}
