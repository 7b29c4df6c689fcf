//! One route's change, as `byoc routes put` and the console's form make it: a whole record, or
//! some fields set and cleared on the stored route; planned (shown, checked) before written.

use byoc_core::route::{action_fields, record_from_json, route_key, split_scope};
use byoc_core::{NumberPlan, Route, RouteRecord};
use serde_json::Value;

use super::{check_expect, AdminError, Expect, RouteAdmin, StoredRoute};
use crate::StoreError;

/// What a person asks to change.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    /// The route's key as typed: a pattern in any form `route_key` reads, optionally
    /// `@SIP-DOMAIN` (its scope). Blank: the key of the `whole` record.
    pub key: String,
    /// The scope given on its own (`--scope`); it must agree with one in `key`.
    pub scope: Option<String>,
    /// The whole route as a flat JSON object, as in a route file. Fields the page shows beside
    /// a record (`key`, `kind`, `summary`, `version`, `updated_*`) are ignored; a
    /// missing `pattern` is the key's; `PATTERN@DOMAIN` in `pattern` names the scope.
    pub whole: Option<Value>,
    /// A new kind of action: the old action's own fields are dropped.
    pub action: Option<String>,
    /// Fields to set, by record field name.
    pub set: Vec<(String, String)>,
    /// Fields to remove.
    pub clear: Vec<String>,
    pub expect: Expect,
    /// The key the route was loaded with (a form's edit): the route written must keep it, as
    /// the pattern and scope are its key.
    pub loaded: Option<String>,
    /// Start from the stored route, changing only what `action`, `set` and `clear` name.
    pub merge: bool,
    /// A stored item this version cannot read may be written over (`--replace`, an expected
    /// version, a form's save of the flagged item): nothing of it can be kept.
    pub over_unreadable: bool,
}

/// One field a write changes.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// An edit, checked against the store and ready to write.
#[derive(Debug)]
pub struct PlannedEdit {
    /// The key of the route written.
    pub key: String,
    /// The stored route read, if any.
    pub current: Option<StoredRoute>,
    /// Why the stored item could not be read, when it is written over.
    pub unreadable: Option<String>,
    pub route: Route,
    /// What the write expects to find: a merge expects the version it merged into.
    pub expect: Expect,
}

/// Extra fields a page shows beside a record.
/// (`target`, the page's one-line summary of a route, is not among them: it is one letter from
/// the `targets` field, and a typo must be refused, not dropped.)
const SHOWN_FIELDS: [&str; 6] = [
    "key",
    "kind",
    "summary",
    "version",
    "updated_at",
    "updated_by",
];

fn edit_error(field: &str, message: impl Into<String>) -> AdminError {
    AdminError::Edit {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Reads the stored route `edit` changes and builds the route it would write; nothing is
/// written. A stale `expect` is reported here, before anything is merged into a route that
/// moved on (the store checks again when it writes).
pub async fn plan_edit(
    admin: &dyn RouteAdmin,
    plan: &NumberPlan,
    edit: Edit,
) -> Result<PlannedEdit, AdminError> {
    let typed = match &edit.whole {
        Some(whole) if edit.key.trim().is_empty() => key_of(whole),
        _ => edit.key.clone(),
    };
    let (pattern, key_scope) = split_scope(&typed);
    let pattern = pattern.to_string();
    if let (Some(a), Some(b)) = (&edit.scope, key_scope) {
        if !a.trim().eq_ignore_ascii_case(b) {
            return Err(edit_error(
                "scope",
                format!("the key names the scope `{b}` and the scope given is `{a}`: name one"),
            ));
        }
    }
    if let Some((field, _)) = edit
        .set
        .iter()
        .find(|(f, _)| edit.clear.iter().any(|c| c.trim() == f))
    {
        return Err(edit_error(
            field,
            format!("--{field} and --clear {field} both given: which one?"),
        ));
    }
    let scope = edit
        .scope
        .clone()
        .or(key_scope.map(str::to_string))
        .filter(|s| !s.trim().is_empty());
    let key = route_key(
        &match &scope {
            Some(s) => format!("{pattern}@{s}"),
            None => pattern.clone(),
        },
        plan,
    );
    let loaded = edit.loaded.as_deref().filter(|k| !k.trim().is_empty());
    if let Some(loaded) = loaded.map(|k| route_key(k, plan)) {
        if loaded != key {
            return Err(AdminError::Moved {
                from: loaded,
                to: key,
            });
        }
    }
    // What can be checked without the store is, first: a route with no pattern, a record
    // that is not one.
    if pattern.trim().is_empty() {
        return Err(AdminError::Route(byoc_core::RouteError {
            pattern: String::new(),
            kind: byoc_core::route::RouteErrorKind::EmptyPattern,
        }));
    }
    let whole = edit
        .whole
        .map(|whole| whole_record(whole, &pattern, plan))
        .transpose()?;
    let current = admin.get(&key).await?;
    // A stored item this version cannot read: an overwrite replaces it (nothing of it can be
    // kept); anything else must not merge into its stand-in.
    let unreadable = current.as_ref().and_then(|c| c.unreadable.clone());
    if let Some(reason) = unreadable.clone().filter(|_| !edit.over_unreadable) {
        return Err(StoreError::Corrupt {
            pattern: key,
            reason,
        }
        .into());
    }
    if current.is_some() || edit.expect != Expect::Any {
        check_expect(&key, edit.expect, current.as_ref().map(|c| c.meta.version))?;
    }
    let before = current
        .as_ref()
        .filter(|c| c.unreadable.is_none())
        .map(|c| c.to_record().without_metadata());
    let fresh = || RouteRecord {
        pattern: pattern.clone(),
        ..RouteRecord::default()
    };
    let mut record = match whole {
        Some(whole) => whole,
        None if edit.merge => before.clone().unwrap_or_else(fresh),
        None => fresh(),
    };
    if let Some(action) = &edit.action {
        let old = record.action.as_deref().unwrap_or("redirect").to_string();
        if !old.trim().eq_ignore_ascii_case(action.trim()) {
            for field in action_fields(&old).unwrap_or_default() {
                record.set(field, None).map_err(|e| edit_error(field, e))?;
            }
        }
        record.action = Some(action.clone());
    }
    for (field, value) in &edit.set {
        record
            .set(field, Some(value.clone()))
            .map_err(|e| edit_error(field, e))?;
    }
    if edit.scope.is_none() && key_scope.is_some() {
        record.scope = scope.clone();
    }
    for field in edit.clear.iter().map(|f| f.trim()) {
        clear(&mut record, field)?;
    }
    let route = Route::from_record(record, plan).map_err(|e| match &unreadable {
        // Nothing of the item could be kept: say why the flags alone are not a route.
        Some(reason) => edit_error(
            e.kind.field(),
            format!(
                "the stored `{key}` cannot be read ({reason}), so nothing of it is kept: give the whole route; {e}"
            ),
        ),
        None => AdminError::Route(e),
    })?;
    // The scope is part of the route's key: changing it would write another route than the
    // one read (and could overwrite the unscoped one).
    if route.key() != key {
        return Err(AdminError::Moved {
            from: key,
            to: route.key(),
        });
    }
    // Merged into the version read: written only if it is still that version, even with
    // `Expect::Any` (which waives the check on a version named, not a lost update).
    let expect = match &current {
        Some(c) if edit.merge => Expect::Version(c.meta.version),
        _ => edit.expect,
    };
    Ok(PlannedEdit {
        key,
        current,
        unreadable,
        route,
        expect,
    })
}

/// The key a whole record names: its `pattern`, and `@` its `scope` if it has one.
fn key_of(whole: &Value) -> String {
    let text = |name: &str| whole.get(name).and_then(Value::as_str).map(str::trim);
    match (text("pattern").unwrap_or_default(), text("scope")) {
        (pattern, Some(scope)) if !scope.is_empty() && !pattern.contains('@') => {
            format!("{pattern}@{scope}")
        }
        (pattern, _) => pattern.to_string(),
    }
}

/// A whole record given as JSON, read as the page and `--json` give it.
fn whole_record(
    mut value: Value,
    pattern: &str,
    plan: &NumberPlan,
) -> Result<RouteRecord, AdminError> {
    if let Some(map) = value.as_object_mut() {
        for shown in SHOWN_FIELDS {
            map.remove(shown);
        }
        map.entry("pattern").or_insert_with(|| pattern.into());
        // `PATTERN@DOMAIN`, as a key is typed, names the scope.
        if let Some(Value::String(given)) = map.get("pattern").cloned() {
            let scope_given = map.get("scope").is_some_and(|s| !s.is_null());
            if let (p, Some(scope)) = split_scope(&given) {
                if !scope_given {
                    map.insert("pattern".into(), p.into());
                    map.insert("scope".into(), scope.into());
                }
            }
        }
    }
    let mut record = record_from_json(&value.to_string())?;
    if record.pattern.trim().is_empty() {
        record.pattern = pattern.to_string();
    } else if route_key(&record.pattern, plan) != route_key(pattern, plan) {
        return Err(edit_error(
            "pattern",
            format!(
                "the route names the pattern `{}`, the key `{pattern}`",
                record.pattern
            ),
        ));
    }
    Ok(record.without_metadata())
}

fn clear(record: &mut RouteRecord, field: &str) -> Result<(), AdminError> {
    if field == "pattern" {
        return Err(edit_error("pattern", "a route always has a pattern"));
    }
    record
        .set(field, None)
        .map_err(|e| edit_error(field, format!("clear: {e}")))?;
    // A failover chain copies its `byoc` and `timeout` into each target when it is read, and
    // stores them there: clearing the route's own means clearing theirs.
    if matches!(field, "byoc" | "timeout") {
        if let Some(text) = &record.targets {
            let mut targets: Value = serde_json::from_str(text)
                .map_err(|e| edit_error("targets", format!("clear {field}: the targets: {e}")))?;
            for target in targets.as_array_mut().into_iter().flatten() {
                if let Some(target) = target.as_object_mut() {
                    target.remove(field);
                }
            }
            record.targets = Some(targets.to_string());
        }
    }
    Ok(())
}

impl PlannedEdit {
    /// What the write changes, field by field, sorted by field; empty when nothing.
    pub fn changes(&self) -> Vec<FieldChange> {
        let fields = |r: Option<RouteRecord>| match r.map(serde_json::to_value) {
            Some(Ok(Value::Object(map))) => map,
            _ => serde_json::Map::new(),
        };
        let old = fields(
            self.current
                .as_ref()
                .filter(|c| c.unreadable.is_none())
                .map(|c| c.to_record().without_metadata()),
        );
        let new = fields(Some(self.route.to_record()));
        let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter(|n| old.get(*n) != new.get(*n))
            .map(|n| FieldChange {
                field: n.clone(),
                before: old.get(n).cloned(),
                after: new.get(n).cloned(),
            })
            .collect()
    }

    /// Whether the route stored is already the route to write: writing it again would only
    /// bump its version under other editors.
    pub fn unchanged(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|c| c.unreadable.is_none() && *c.route == self.route)
    }

    /// Writes the route (unless [`PlannedEdit::unchanged`]: then the stored route comes back
    /// as it is), recording the change as `actor`'s.
    pub async fn apply(
        self,
        admin: &dyn RouteAdmin,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        if self.unchanged() {
            if let Some(current) = self.current {
                return Ok(current);
            }
        }
        admin.put(self.route, self.expect, actor).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::MemoryStore;

    fn plan() -> NumberPlan {
        NumberPlan::default()
    }

    async fn seeded() -> MemoryStore {
        let store = MemoryStore::new();
        let edit = Edit {
            key: "+13175551234".into(),
            set: vec![
                ("url".into(), "https://example.com/a".into()),
                ("description".into(), "Main line".into()),
                (
                    "callers".into(),
                    r#"[{"from":"+1900","action":"reject"}]"#.into(),
                ),
            ],
            ..Edit::default()
        };
        let planned = plan_edit(&store, &plan(), edit).await.unwrap();
        assert!(planned.current.is_none());
        planned.apply(&store, "ana").await.unwrap();
        store
    }

    fn set(field: &str, value: &str) -> (String, String) {
        (field.into(), value.into())
    }

    #[tokio::test]
    async fn a_merge_changes_only_what_it_names_and_expects_the_version_it_read() {
        let store = seeded().await;
        let edit = Edit {
            key: "3175551234".into(),
            set: vec![set("url", "https://example.com/b")],
            expect: Expect::Any,
            merge: true,
            ..Edit::default()
        };
        let planned = plan_edit(&store, &plan(), edit).await.unwrap();
        assert_eq!(planned.key, "+13175551234");
        assert_eq!(planned.expect, Expect::Version(1));
        let changes = planned.changes();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].field, "url");
        let stored = planned.apply(&store, "bo").await.unwrap();
        let record = stored.to_record();
        assert_eq!(record.description.as_deref(), Some("Main line"));
        assert!(record.callers.is_some());
        assert_eq!(stored.meta.version, 2);
    }

    #[tokio::test]
    async fn a_new_action_drops_the_old_actions_fields_and_the_same_route_writes_nothing() {
        let store = seeded().await;
        let edit = Edit {
            key: "+13175551234".into(),
            action: Some("say".into()),
            set: vec![set("text", "Hello")],
            expect: Expect::Version(1),
            merge: true,
            ..Edit::default()
        };
        let planned = plan_edit(&store, &plan(), edit.clone()).await.unwrap();
        let record = planned.route.to_record();
        assert!(record.url.is_none(), "{record:?}");
        assert_eq!(record.text.as_deref(), Some("Hello"));
        planned.apply(&store, "bo").await.unwrap();
        let again = plan_edit(
            &store,
            &plan(),
            Edit {
                expect: Expect::Version(2),
                ..edit
            },
        )
        .await
        .unwrap();
        assert!(again.unchanged());
        assert!(again.changes().is_empty());
        assert_eq!(again.apply(&store, "cy").await.unwrap().meta.version, 2);
    }

    #[tokio::test]
    async fn contradictions_and_stale_versions_are_refused_before_anything_is_written() {
        let store = seeded().await;
        let refused = |edit: Edit| {
            let store = &store;
            async move { plan_edit(store, &plan(), edit).await.unwrap_err() }
        };
        let both = refused(Edit {
            key: "+13175551234".into(),
            set: vec![set("description", "x")],
            clear: vec!["description".into()],
            expect: Expect::Any,
            merge: true,
            ..Edit::default()
        })
        .await;
        assert_eq!(both.field(), Some("description"));
        assert!(both.to_string().contains("both given"), "{both}");
        let pattern = refused(Edit {
            key: "+13175551234".into(),
            clear: vec!["pattern".into()],
            expect: Expect::Any,
            merge: true,
            ..Edit::default()
        })
        .await;
        assert_eq!(pattern.field(), Some("pattern"));
        let stale = refused(Edit {
            key: "+13175551234".into(),
            set: vec![set("url", "https://example.com/c")],
            expect: Expect::Version(7),
            merge: true,
            ..Edit::default()
        })
        .await;
        assert!(
            matches!(
                stale,
                AdminError::Store(StoreError::VersionMismatch { actual: 1, .. })
            ),
            "{stale}"
        );
        let exists = refused(Edit {
            key: "+13175551234".into(),
            set: vec![set("url", "https://example.com/c")],
            ..Edit::default()
        })
        .await;
        assert!(
            matches!(exists, AdminError::Store(StoreError::Exists { .. })),
            "{exists}"
        );
        let two_scopes = refused(Edit {
            key: "+1317*@a.sip.twilio.com".into(),
            scope: Some("b.sip.twilio.com".into()),
            action: Some("hangup".into()),
            ..Edit::default()
        })
        .await;
        assert_eq!(two_scopes.field(), Some("scope"));
        let invalid = refused(Edit {
            key: "+1317*".into(),
            set: vec![set("url", "ftp://example.com")],
            ..Edit::default()
        })
        .await;
        assert_eq!(invalid.field(), Some("url"), "{invalid}");
        assert_eq!(
            store
                .get("+13175551234")
                .await
                .unwrap()
                .unwrap()
                .meta
                .version,
            1
        );
        assert!(store.get("+1317*").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_whole_record_names_its_key_and_cannot_move_a_route() {
        let store = seeded().await;
        // As the console sends it: the fields it shows beside the record, `PATTERN@DOMAIN`.
        let record = json!({
            "pattern": "+1317*@Tenant-A.sip.twilio.com",
            "action": "hangup",
            "key": "ignored", "kind": "prefix", "summary": "s", "version": 9,
        });
        let planned = plan_edit(
            &store,
            &plan(),
            Edit {
                whole: Some(record),
                ..Edit::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(planned.key, "+1317*@tenant-a.sip.twilio.com");
        planned.apply(&store, "ana").await.unwrap();
        // `target` (what the page shows) is one letter from `targets`: refused, never dropped.
        let typo = plan_edit(
            &store,
            &plan(),
            Edit {
                whole: Some(json!({"pattern": "+1318*", "action": "dial", "target": []})),
                ..Edit::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(typo.field(), Some("target"), "{typo}");
        // Loaded as one route, saved as another: refused, naming both.
        let moved = plan_edit(
            &store,
            &plan(),
            Edit {
                loaded: Some("+1317*@tenant-a.sip.twilio.com".into()),
                whole: Some(json!({"pattern": "+1317*", "action": "reject"})),
                expect: Expect::Version(1),
                ..Edit::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(moved, AdminError::Moved { .. }), "{moved}");
        assert_eq!(moved.field(), Some("pattern"));
        let other = plan_edit(
            &store,
            &plan(),
            Edit {
                key: "+13175551234".into(),
                whole: Some(json!({"pattern": "+13175559999", "action": "reject"})),
                expect: Expect::Version(1),
                ..Edit::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(other.field(), Some("pattern"), "{other}");
    }
}
