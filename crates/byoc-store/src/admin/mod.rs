//! Managing routes: the one admin layer under `byoc routes …` and `byoc console`.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`RouteAdmin`], what a store offers people: reads, versioned writes, history, bulk apply |
//! | `import.rs` | an import: read the input, plan it against the store, apply it; an export |
//! | `edit.rs` | one route's change: a whole record or some fields merged into the stored route |
//! | `error.rs` | [`AdminError`], and what to do about a store error |

use std::sync::Arc;

use async_trait::async_trait;
use byoc_core::{Route, RouteMeta, RouteRecord};
use serde::{Deserialize, Serialize};

use crate::StoreError;

mod edit;
mod error;
mod import;

pub use edit::{plan_edit, Edit, FieldChange, PlannedEdit};
pub use error::{cause_chain, hint, AdminError};
pub use import::{export, export_to, read_import, Exported, ImportInput, ImportPlan, Written};

/// Lints every readable route of a store ([`byoc_core::lint`]): what `byoc routes lint`, the
/// import and the console show. Unreadable routes are left out (the listing reports them).
pub async fn lint(
    admin: &dyn RouteAdmin,
    plan: &byoc_core::NumberPlan,
    ctx: &byoc_core::lint::LintContext,
) -> Result<Vec<byoc_core::lint::Finding>, AdminError> {
    let routes: Vec<std::sync::Arc<byoc_core::Route>> = admin
        .list(None)
        .await?
        .into_iter()
        .filter(|r| r.unreadable.is_none())
        .map(|r| r.route)
        .collect();
    Ok(byoc_core::lint::lint(&routes, plan, ctx))
}

/// What a write expects to find, so two people editing at once cannot lose an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expect {
    /// Create only: refuse if the pattern exists.
    #[default]
    Absent,
    /// Update or delete only that version.
    Version(u64),
    /// Whatever is there (`--replace`, imports).
    Any,
}

/// A route with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoute {
    pub route: Arc<Route>,
    pub meta: RouteMeta,
    /// Why the stored item cannot be read by this version (written by another tool or an older
    /// version), when it cannot: then `route` is a stand-in (`hangup`, the reason as its
    /// description) and only its key and `meta.version` are the item's, so that it can be
    /// listed, flagged, replaced and deleted like any route.
    pub unreadable: Option<String>,
}

impl StoredRoute {
    pub fn new(route: Arc<Route>, meta: RouteMeta) -> Self {
        Self {
            route,
            meta,
            unreadable: None,
        }
    }

    /// The stand-in for an item at `key` this version cannot read, for `reason`; `version` is
    /// the item's own (0 when it has none).
    pub fn unreadable(
        key: &str,
        version: u64,
        reason: &str,
        plan: &byoc_core::NumberPlan,
    ) -> Result<Self, StoreError> {
        let (pattern, scope) = byoc_core::route::split_scope(key);
        let stand_in = RouteRecord {
            pattern: pattern.to_string(),
            scope: scope.map(str::to_string),
            action: Some("hangup".into()),
            description: Some(
                format!("(unreadable item: {reason})")
                    .chars()
                    .take(200)
                    .collect(),
            ),
            ..RouteRecord::default()
        };
        let route = Route::from_record(stand_in, plan).map_err(|e| StoreError::Corrupt {
            pattern: key.to_string(),
            reason: format!("{reason}; and its key cannot be written either: {e}"),
        })?;
        Ok(Self {
            route: Arc::new(route),
            meta: RouteMeta {
                version,
                updated_at: String::new(),
                updated_by: String::new(),
            },
            unreadable: Some(reason.to_string()),
        })
    }

    /// The error of reading this route as a route, when it is an unreadable item's stand-in.
    pub fn readable(self) -> Result<Self, StoreError> {
        match &self.unreadable {
            Some(reason) => Err(StoreError::Corrupt {
                pattern: self.route.key(),
                reason: reason.clone(),
            }),
            None => Ok(self),
        }
    }

    /// The flat record with metadata (what `get` prints and DynamoDB stores).
    pub fn to_record(&self) -> RouteRecord {
        self.route.to_record().with_meta(&self.meta)
    }
}

/// One change in a route's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub pattern: String,
    pub at: String,
    pub by: String,
    /// `put`, `delete` or `import`.
    pub op: String,
    /// The version written (for a delete, the version removed).
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<RouteRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<RouteRecord>,
}

/// One write of a bulk apply, with what it expects to find (an import expects the versions it
/// read, so a change made meanwhile is reported, not overwritten).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Put(Route, Expect),
    /// Delete the route with this pattern key.
    Delete(String, Expect),
}

impl WriteOp {
    pub fn key(&self) -> String {
        match self {
            WriteOp::Put(route, _) => route.key(),
            WriteOp::Delete(key, _) => key.clone(),
        }
    }
}

/// What a bulk apply did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Writes made.
    pub written: usize,
    /// Writes not made because the route was not as expected (changed, created or deleted
    /// since it was read): [`StoreError::VersionMismatch`], [`StoreError::Exists`],
    /// [`StoreError::NotFound`] or [`StoreError::Conflict`].
    pub conflicts: Vec<StoreError>,
}

/// Whether an error is a write's expectation not being met (reported, not fatal, in a bulk
/// apply).
pub fn is_conflict(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::VersionMismatch { .. }
            | StoreError::Exists { .. }
            | StoreError::NotFound { .. }
            | StoreError::Conflict { .. }
    )
}

/// Route management over any store.
#[async_trait]
pub trait RouteAdmin: Send + Sync {
    async fn get(&self, pattern: &str) -> Result<Option<StoredRoute>, StoreError>;

    /// Every route, sorted by pattern; only those whose pattern starts with `prefix` if given.
    async fn list(&self, prefix: Option<&str>) -> Result<Vec<StoredRoute>, StoreError>;

    /// Every route in key order (as [`RouteAdmin::list`]) whose key starts with `prefix` and
    /// comes after `after` (a page's cursor), handed to `each` one at a time until it returns
    /// false: listings, exports and the console's pages, which must not hold a million routes
    /// at once. Stores that read pages (DynamoDB) hold a page at a time and start at `after`;
    /// `page` says how many routes the caller means to take, when it means to stop early (a
    /// console page), so that such a store reads no bigger pages than that. The default holds
    /// what `list` gives.
    async fn each(
        &self,
        prefix: Option<&str>,
        after: Option<&str>,
        _page: Option<usize>,
        each: &mut (dyn FnMut(StoredRoute) -> bool + Send),
    ) -> Result<(), StoreError> {
        walk(self.list(prefix).await?, after, each);
        Ok(())
    }

    /// Creates or updates a route as `expect` allows; records the change in its history.
    async fn put(
        &self,
        route: Route,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError>;

    /// Deletes a route as `expect` allows; records the change in its history.
    async fn delete(
        &self,
        pattern: &str,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError>;

    /// The changes to a pattern, oldest first.
    async fn history(&self, pattern: &str) -> Result<Vec<Change>, StoreError>;

    /// Brings what this process holds up to date with the store, for long-running readers (the
    /// console) that others change underneath: a route file changed by someone else is read
    /// again. Stores read on every call (DynamoDB) have nothing to do.
    async fn refresh(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// How many writes [`RouteAdmin::apply`] should be given at a time by an import of many:
    /// a store that writes in batches anyway (DynamoDB) says its batch, and then never holds a
    /// second list of a million writes; `None` (the default): all at once (a route file is
    /// written once, whatever the number of writes).
    fn apply_chunk(&self) -> Option<usize> {
        None
    }

    /// Applies many writes (an import): batched, each recorded in history as `import`, each
    /// only if its route is as the op expects (the others are returned as conflicts).
    /// `progress` is called with the number of ops handled so far.
    async fn apply(
        &self,
        ops: Vec<WriteOp>,
        actor: &str,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Applied, StoreError>;
}

/// Hands `routes` (a listing, in key order) to `each` from after the cursor `after` until it
/// returns false: [`RouteAdmin::each`] over a store that lists all at once.
pub fn walk(
    routes: Vec<StoredRoute>,
    after: Option<&str>,
    each: &mut (dyn FnMut(StoredRoute) -> bool + Send),
) {
    for route in routes {
        if after.is_some_and(|a| route.route.key().as_str() <= a) {
            continue;
        }
        if !each(route) {
            break;
        }
    }
}

/// Checks `expect` against what is stored (`current` = its version, if any).
pub fn check_expect(pattern: &str, expect: Expect, current: Option<u64>) -> Result<(), StoreError> {
    match (expect, current) {
        (Expect::Any, _) | (Expect::Absent, None) => Ok(()),
        (Expect::Absent, Some(version)) => Err(StoreError::Exists {
            pattern: pattern.to_string(),
            version,
        }),
        (Expect::Version(_), None) => Err(StoreError::NotFound {
            pattern: pattern.to_string(),
        }),
        (Expect::Version(expected), Some(actual)) if expected != actual => {
            Err(StoreError::VersionMismatch {
                pattern: pattern.to_string(),
                expected,
                actual,
            })
        }
        (Expect::Version(_), Some(_)) => Ok(()),
    }
}
