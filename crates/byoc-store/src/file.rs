//! A JSON route file as a store. Writes reload the file under an exclusive lock, apply the
//! change, and replace the file atomically (write + rename), so concurrent `byoc` runs do not
//! lose updates; the history goes to `<file>.history.jsonl` beside it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use byoc_core::route::{load_route_file, records_to_route_file};
use byoc_core::{Address, NumberPlan, Route};

use crate::admin::{Change, Expect, RouteAdmin, StoredRoute, WriteOp};
use crate::{MemoryStore, Resolution, RouteStore, StoreError};

/// A route file store.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    plan: NumberPlan,
    inner: MemoryStore,
}

impl FileStore {
    /// Loads and validates `path`; every invalid route is reported.
    pub fn open(path: &Path, plan: &NumberPlan) -> Result<Self, StoreError> {
        let store = Self {
            path: path.to_path_buf(),
            plan: plan.clone(),
            inner: MemoryStore::from_json(
                "{\"routes\":[]}",
                &format!("file {}", path.display()),
                plan,
            )
            .expect("an empty route file is valid"),
        };
        store.reload()?;
        Ok(store)
    }

    /// Opens `path`, creating an empty route file if it does not exist.
    pub fn open_or_create(path: &Path, plan: &NumberPlan) -> Result<Self, StoreError> {
        if !path.exists() {
            std::fs::write(path, "{\n  \"routes\": []\n}\n").map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Self::open(path, plan)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The in-memory view (for lookups and listing).
    pub fn memory(&self) -> &MemoryStore {
        &self.inner
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn reload(&self) -> Result<(), StoreError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
        let routes =
            load_route_file(&text, &self.plan).map_err(|source| StoreError::RouteFile {
                path: self.path.clone(),
                source,
            })?;
        self.inner.replace_all(routes);
        Ok(())
    }

    fn history_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".history.jsonl");
        PathBuf::from(name)
    }

    /// Runs `change` on the freshly reloaded routes under an exclusive lock, then saves.
    fn locked<T>(
        &self,
        change: impl FnOnce(&MemoryStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut lock_name = self.path.as_os_str().to_owned();
        lock_name.push(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(PathBuf::from(lock_name))
            .map_err(|e| self.io(e))?;
        lock.lock().map_err(|e| self.io(e))?;
        self.reload()?;
        let _ = self.inner.drain_history();
        // On failure nothing is saved: the file keeps its previous routes (an import that fails
        // half-way writes nothing). The next operation reloads from disk.
        let value = change(&self.inner)?;
        self.save()?;
        drop(lock);
        Ok(value)
    }

    fn save(&self) -> Result<(), StoreError> {
        let records = self.inner.stored().iter().map(|r| r.to_record()).collect();
        let text = records_to_route_file(records);
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let mut file = File::create(&tmp).map_err(|e| self.io(e))?;
        file.write_all(text.as_bytes()).map_err(|e| self.io(e))?;
        file.sync_all().map_err(|e| self.io(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        let changes = self.inner.drain_history();
        if !changes.is_empty() {
            let mut history = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.history_path())
                .map_err(|e| self.io(e))?;
            let mut lines = String::new();
            for change in changes {
                // A Change is plain strings and numbers: serializing cannot fail.
                lines.push_str(&serde_json::to_string(&change).expect("change serializes"));
                lines.push('\n');
            }
            history
                .write_all(lines.as_bytes())
                .map_err(|e| self.io(e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl RouteStore for FileStore {
    async fn resolve(
        &self,
        address: &Address,
        scope: Option<&str>,
    ) -> Result<Resolution, StoreError> {
        self.inner.resolve(address, scope).await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[async_trait]
impl RouteAdmin for FileStore {
    async fn get(&self, pattern: &str) -> Result<Option<StoredRoute>, StoreError> {
        self.inner.get(pattern).await
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<StoredRoute>, StoreError> {
        self.inner.list(prefix).await
    }

    async fn put(
        &self,
        route: Route,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        self.locked(|m| m.put_now(route, expect, actor))
    }

    async fn delete(
        &self,
        pattern: &str,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        self.locked(|m| m.delete_now(pattern, expect, actor))
    }

    async fn history(&self, pattern: &str) -> Result<Vec<Change>, StoreError> {
        let text = match std::fs::read_to_string(self.history_path()) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str::<Change>(line).ok())
            .filter(|c| c.pattern == pattern)
            .collect())
    }

    async fn apply(
        &self,
        ops: Vec<WriteOp>,
        actor: &str,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<usize, StoreError> {
        self.locked(|m| m.apply_now(ops, actor, progress))
    }
}
