//! Managing routes: the operations `byoc routes …` runs against any store.

use std::sync::Arc;

use async_trait::async_trait;
use byoc_core::{Route, RouteMeta, RouteRecord};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// What a write expects to find, so two people editing at once cannot lose an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Create only: refuse if the pattern exists.
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
}

impl StoredRoute {
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

/// An import, planned: what it changes and the writes that do it.
pub struct ImportPlan {
    pub diff: byoc_core::import::Diff,
    /// Each write expects the version read now, so a route someone changes before the import
    /// writes it is reported as a conflict, not overwritten.
    pub ops: Vec<WriteOp>,
    /// How many routes the store had.
    pub stored: usize,
    pub prune: bool,
}

/// A prune deleting more than this many routes (and over a tenth of them) must be confirmed.
const PRUNE_UNCONFIRMED_MAX: usize = 10;

impl ImportPlan {
    /// What a prune would delete that must be confirmed first (the `*` route, or many routes:
    /// a header-only or truncated file), e.g. "12 of 40 routes"; `None` when nothing risky.
    pub fn prune_risk(&self) -> Option<String> {
        let absent = self.diff.absent.len();
        let catch_all = self.diff.absent.iter().any(|r| r.key() == "*");
        let many = absent > PRUNE_UNCONFIRMED_MAX && absent * 10 > self.stored;
        if !self.prune {
            return None;
        }
        match (catch_all, many) {
            (true, true) => Some(format!(
                "{absent} routes, the * route among them (calls no route matches would be rejected)"
            )),
            (true, false) => {
                Some("the * route (calls no route matches would be rejected)".to_string())
            }
            (false, true) => Some(format!("{absent} of {} routes", self.stored)),
            (false, false) => None,
        }
    }
}

/// Plans importing `routes` over `stored` (the store's routes as just listed); with `prune`,
/// routes absent from the input are deleted.
pub fn plan_import(stored: Vec<StoredRoute>, routes: &[Route], prune: bool) -> ImportPlan {
    let versions: std::collections::HashMap<String, u64> = stored
        .iter()
        .map(|r| (r.route.key(), r.meta.version))
        .collect();
    let count = stored.len();
    let current: Vec<Arc<Route>> = stored.into_iter().map(|r| r.route).collect();
    let diff = byoc_core::import::diff(&current, routes);
    let read = |key: &str| {
        versions
            .get(key)
            .map_or(Expect::Absent, |v| Expect::Version(*v))
    };
    let mut ops: Vec<WriteOp> = diff
        .added
        .iter()
        .map(|r| WriteOp::Put(r.clone(), Expect::Absent))
        .collect();
    ops.extend(
        diff.changed
            .iter()
            .map(|(_, new)| WriteOp::Put(new.clone(), read(&new.key()))),
    );
    if prune {
        ops.extend(
            diff.absent
                .iter()
                .map(|r| WriteOp::Delete(r.key(), read(&r.key()))),
        );
    }
    ImportPlan {
        diff,
        ops,
        stored: count,
        prune,
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
