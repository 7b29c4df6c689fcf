//! Routes in memory: the local server's store (loaded from a route file) and the reference
//! implementation of [`RouteAdmin`] semantics.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use byoc_core::route::RouteTable;
use byoc_core::route_file::{load_route_file, LoadedFile, RouteFileError};
use byoc_core::{Address, NumberPlan, Route, RouteMeta};

use crate::admin::{
    check_expect, is_conflict, Applied, Change, Expect, RouteAdmin, StoredRoute, WriteOp,
};
use crate::{now_rfc3339, Resolution, RouteStore, StoreError};

/// Every key in order, with its route.
type KeyOrder = Vec<(String, Arc<Route>)>;

#[derive(Debug, Default)]
struct State {
    table: RouteTable,
    meta: HashMap<String, RouteMeta>,
    history: Vec<Change>,
    /// [`RouteStore::routes_id`], computed when first asked after a change.
    routes_id: Option<String>,
    /// Every key in order with its route, sorted when first asked after a change: pages of a
    /// million routes start by a binary search instead of a sort, and a scan reads the routes
    /// in order instead of looking each up in the table.
    sorted_keys: Option<Arc<KeyOrder>>,
}

/// Routes held in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
    source: String,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self {
            state: RwLock::default(),
            source: "memory".to_string(),
        }
    }

    /// Parses route file text; `source` names it in [`RouteStore::describe`].
    pub fn from_json(text: &str, source: &str, plan: &NumberPlan) -> Result<Self, RouteFileError> {
        let store = Self {
            state: RwLock::default(),
            source: source.to_string(),
        };
        store.replace_all(load_route_file(text, plan)?);
        Ok(store)
    }

    /// Replaces every route (a reload), keeping metadata found in the records. A record
    /// without metadata gets none here: [`RouteMeta::unrecorded`] stands for it when read.
    pub(crate) fn replace_all(&self, loaded: LoadedFile) {
        let mut state = self.write();
        state.table = loaded.table;
        state.meta = loaded.meta.into_iter().collect();
    }

    /// Takes the changes recorded since the last call (the file store appends them to disk).
    pub(crate) fn drain_history(&self) -> Vec<Change> {
        std::mem::take(&mut self.write().history)
    }

    /// One route with its metadata.
    pub(crate) fn stored_route(&self, key: &str) -> Option<StoredRoute> {
        Self::stored_in(&self.read(), key)
    }

    /// Every route with metadata, sorted by pattern.
    pub fn stored(&self) -> Vec<StoredRoute> {
        let state = self.read();
        state
            .table
            .sorted()
            .into_iter()
            .map(|route| {
                let meta = state
                    .meta
                    .get(&route.key())
                    .cloned()
                    .unwrap_or_else(RouteMeta::unrecorded);
                StoredRoute::new(route, meta)
            })
            .collect()
    }

    /// All routes, sorted by pattern.
    pub fn routes(&self) -> Vec<Arc<Route>> {
        self.read().table.sorted()
    }

    pub fn len(&self) -> usize {
        self.read().table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A poisoned lock only means another thread panicked mid-operation; the data is still a
    // consistent table (every mutation is a single insert/remove), so keep serving it.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.routes_id = None;
        state.sorted_keys = None;
        state
    }

    /// Every key in order with its route (cached until the next change).
    fn sorted_keys(&self) -> Arc<KeyOrder> {
        if let Some(keys) = &self.read().sorted_keys {
            return keys.clone();
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if let Some(keys) = &state.sorted_keys {
            return keys.clone();
        }
        let mut keys: Vec<(String, Arc<Route>)> = state
            .table
            .entries()
            .map(|(key, route)| (key.to_string(), Arc::clone(route)))
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let keys = Arc::new(keys);
        state.sorted_keys = Some(keys.clone());
        keys
    }

    /// [`RouteAdmin::each`] over the cached key order: no copy of the routes is made.
    pub(crate) fn each_sorted(
        &self,
        prefix: Option<&str>,
        after: Option<&str>,
        each: &mut (dyn FnMut(StoredRoute) -> bool + Send),
    ) {
        let keys = self.sorted_keys();
        let start = match (after, prefix) {
            (Some(a), Some(p)) if a < p => keys.partition_point(|(k, _)| k.as_str() < p),
            (Some(a), _) => keys.partition_point(|(k, _)| k.as_str() <= a),
            (None, Some(p)) => keys.partition_point(|(k, _)| k.as_str() < p),
            (None, None) => 0,
        };
        for (key, cached) in &keys[start..] {
            if prefix.is_some_and(|p| !key.starts_with(p)) {
                break;
            }
            let stored = {
                let state = self.read();
                // The order's own route while no change has been made since it was sorted;
                // after one, the table's (a route deleted since is passed over).
                let current = state
                    .sorted_keys
                    .as_ref()
                    .is_some_and(|now| Arc::ptr_eq(now, &keys));
                let route = if current {
                    Some(cached)
                } else {
                    state.table.get(key)
                };
                route.map(|route| {
                    let meta = state
                        .meta
                        .get(key)
                        .cloned()
                        .unwrap_or_else(RouteMeta::unrecorded);
                    StoredRoute::new(route.clone(), meta)
                })
            };
            if let Some(stored) = stored {
                if !each(stored) {
                    break;
                }
            }
        }
    }

    pub(crate) fn put_now(
        &self,
        route: Route,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        Self::put_locked(&mut self.write(), route, expect, actor, "put")
    }

    pub(crate) fn delete_now(
        &self,
        pattern: &str,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        Self::delete_locked(&mut self.write(), pattern, expect, actor, "delete")
    }

    /// Applies the ops in order (a missing pattern to delete is an error).
    pub(crate) fn apply_now(
        &self,
        ops: Vec<WriteOp>,
        actor: &str,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Applied, StoreError> {
        self.apply_recording(ops, actor, progress, None)
    }

    /// [`MemoryStore::apply_now`], handing each change to `history` as it is made instead of
    /// keeping it (a million-route import into a file writes its history as it goes).
    pub(crate) fn apply_recording(
        &self,
        ops: Vec<WriteOp>,
        actor: &str,
        progress: &(dyn Fn(usize) + Send + Sync),
        mut history: Option<&mut dyn FnMut(Change) -> Result<(), StoreError>>,
    ) -> Result<Applied, StoreError> {
        let mut state = self.write();
        let mut applied = Applied::default();
        for (done, op) in ops.into_iter().enumerate() {
            if let Some(history) = history.as_mut() {
                for change in state.history.drain(..) {
                    history(change)?;
                }
            }
            let result = match op {
                WriteOp::Put(route, expect) => {
                    Self::put_locked(&mut state, route, expect, actor, "import").map(|_| ())
                }
                WriteOp::Delete(pattern, expect) => {
                    Self::delete_locked(&mut state, &pattern, expect, actor, "import").map(|_| ())
                }
            };
            match result {
                Ok(()) => applied.written += 1,
                Err(e) if is_conflict(&e) => applied.conflicts.push(e),
                Err(e) => return Err(e),
            }
            progress(done + 1);
        }
        if let Some(history) = history.as_mut() {
            for change in state.history.drain(..) {
                history(change)?;
            }
        }
        Ok(applied)
    }

    fn stored_in(state: &State, pattern: &str) -> Option<StoredRoute> {
        let route = state.table.get(pattern)?.clone();
        let meta = state
            .meta
            .get(pattern)
            .cloned()
            .unwrap_or_else(RouteMeta::unrecorded);
        Some(StoredRoute::new(route, meta))
    }

    fn put_locked(
        state: &mut State,
        route: Route,
        expect: Expect,
        actor: &str,
        op: &str,
    ) -> Result<StoredRoute, StoreError> {
        let key = route.key();
        let current = Self::stored_in(state, &key);
        check_expect(&key, expect, current.as_ref().map(|c| c.meta.version))?;
        let meta = RouteMeta {
            version: current.as_ref().map_or(1, |c| c.meta.version + 1),
            updated_at: now_rfc3339(),
            updated_by: actor.to_string(),
        };
        let route = Arc::new(route);
        let stored = StoredRoute::new(Arc::clone(&route), meta.clone());
        state.history.push(Change {
            pattern: key.clone(),
            at: meta.updated_at.clone(),
            by: actor.to_string(),
            op: op.to_string(),
            version: meta.version,
            before: current.map(|c| c.to_record()),
            after: Some(stored.to_record()),
        });
        state.table.insert_keyed(key.clone(), route);
        state.meta.insert(key, meta);
        Ok(stored)
    }

    fn delete_locked(
        state: &mut State,
        pattern: &str,
        expect: Expect,
        actor: &str,
        op: &str,
    ) -> Result<StoredRoute, StoreError> {
        let Some(current) = Self::stored_in(state, pattern) else {
            return Err(StoreError::NotFound {
                pattern: pattern.to_string(),
            });
        };
        check_expect(pattern, expect, Some(current.meta.version))?;
        state.table.remove(pattern);
        state.meta.remove(pattern);
        state.history.push(Change {
            pattern: pattern.to_string(),
            at: now_rfc3339(),
            by: actor.to_string(),
            op: op.to_string(),
            version: current.meta.version,
            before: Some(current.to_record()),
            after: None,
        });
        Ok(current)
    }
}

#[async_trait]
impl RouteStore for MemoryStore {
    async fn resolve(
        &self,
        address: &Address,
        scope: Option<&str>,
    ) -> Result<Resolution, StoreError> {
        let state = self.read();
        Ok(Resolution {
            matched: state.table.lookup_in(address, scope),
            catch_all: state.table.get("*").cloned(),
        })
    }

    fn resolve_in_memory(&self, address: &Address, scope: Option<&str>) -> Option<Resolution> {
        Some(Resolution {
            matched: self.read().table.lookup_in(address, scope),
            // Kept by the cache for a store that may fail later; this one cannot.
            catch_all: None,
        })
    }

    fn describe(&self) -> String {
        format!("{} ({} routes)", self.source, self.len())
    }

    /// `routes:N:HASH`: the number of routes and a hash of every route's record, in key order.
    fn routes_id(&self) -> String {
        // Under the write lock, so a change cannot slip between the hash and its caching.
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = &state.routes_id {
            return id.clone();
        }
        let routes = state.table.sorted();
        let hash = routes.iter().fold(crate::FNV_OFFSET, |hash, route| {
            let record = serde_json::to_vec(&route.to_record()).unwrap_or_default();
            crate::fnv1a(record, hash)
        });
        let id = format!("routes:{}:{hash:016x}", routes.len());
        state.routes_id = Some(id.clone());
        id
    }
}

#[async_trait]
impl RouteAdmin for MemoryStore {
    async fn get(&self, pattern: &str) -> Result<Option<StoredRoute>, StoreError> {
        Ok(Self::stored_in(&self.read(), pattern))
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<StoredRoute>, StoreError> {
        let mut routes = self.stored();
        if let Some(prefix) = prefix {
            routes.retain(|r| r.route.key().starts_with(prefix));
        }
        Ok(routes)
    }

    async fn each(
        &self,
        prefix: Option<&str>,
        after: Option<&str>,
        _page: Option<usize>,
        each: &mut (dyn FnMut(StoredRoute) -> bool + Send),
    ) -> Result<(), StoreError> {
        self.each_sorted(prefix, after, each);
        Ok(())
    }

    async fn put(
        &self,
        route: Route,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        self.put_now(route, expect, actor)
    }

    async fn delete(
        &self,
        pattern: &str,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        self.delete_now(pattern, expect, actor)
    }

    async fn history(&self, pattern: &str) -> Result<Vec<Change>, StoreError> {
        Ok(self
            .read()
            .history
            .iter()
            .filter(|c| c.pattern == pattern)
            .cloned()
            .collect())
    }

    async fn apply(
        &self,
        ops: Vec<WriteOp>,
        actor: &str,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Applied, StoreError> {
        self.apply_now(ops, actor, progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_routes_without_metadata_are_first_versions_that_can_be_edited() {
        let plan = NumberPlan::default();
        let store = MemoryStore::from_json(
            r#"{"routes":[
                {"pattern":"+13175551234","url":"https://a.example/x"},
                {"pattern":"*","url":"https://d.example/","version":7,"updated_by":"ops"}
            ]}"#,
            "test",
            &plan,
        )
        .unwrap();

        let plain = store.get("+13175551234").await.unwrap().expect("present");
        assert_eq!(plain.meta, RouteMeta::unrecorded());
        let recorded = store.get("*").await.unwrap().expect("present");
        assert_eq!(
            (recorded.meta.version, recorded.meta.updated_by.as_str()),
            (7, "ops")
        );
        assert_eq!(store.list(None).await.unwrap().len(), 2);

        // Version 1 is the one to name when editing it; a create is refused.
        let route = plain.route.as_ref().clone();
        assert!(store
            .put(route.clone(), Expect::Absent, "me")
            .await
            .is_err());
        let updated = store.put(route, Expect::Version(1), "me").await.unwrap();
        assert_eq!(
            (updated.meta.version, updated.meta.updated_by.as_str()),
            (2, "me")
        );
        let deleted = store.delete("+13175551234", Expect::Version(2), "me").await;
        assert!(deleted.is_ok(), "{deleted:?}");
        assert!(store.get("+13175551234").await.unwrap().is_none());
    }
}

#[cfg(test)]
mod routes_id {
    use super::*;

    const ROUTES: &str =
        r#"{"routes":[{"pattern":"*","action":"hangup"},{"pattern":"+1317*","action":"reject"}]}"#;

    /// The same routes give the same id whatever their source and order; a change gives
    /// another, at once.
    #[tokio::test]
    async fn the_same_routes_give_the_same_id_and_a_change_another() {
        let plan = NumberPlan::default();
        let a = MemoryStore::from_json(ROUTES, "a.json", &plan).unwrap();
        let reordered = r#"{"routes":[{"pattern":"+1317*","action":"reject"},{"pattern":"*","action":"hangup"}]}"#;
        let b = MemoryStore::from_json(reordered, "b.json", &plan).unwrap();
        assert_eq!(a.routes_id(), b.routes_id());
        assert!(a.routes_id().starts_with("routes:2:"), "{}", a.routes_id());
        let before = a.routes_id();
        let route = Route::from_record(
            serde_json::from_str(r#"{"pattern":"+1317*","action":"hangup"}"#).unwrap(),
            &plan,
        )
        .unwrap();
        a.put(route, Expect::Any, "ana").await.unwrap();
        assert_ne!(a.routes_id(), before);
        assert_ne!(a.routes_id(), b.routes_id());
    }
}
