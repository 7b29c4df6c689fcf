//! A JSON route file as a store. Writes reload the file under an exclusive lock, apply the
//! change, and replace the file atomically (write + rename), so concurrent `byoc` runs do not
//! lose updates; the history goes to `<file>.history.jsonl` beside it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use byoc_core::route_file::load_route_file;
use byoc_core::{Address, NumberPlan, Route, RouteRecord};

use crate::admin::{Applied, Change, Expect, RouteAdmin, StoredRoute, WriteOp};
use crate::{MemoryStore, Resolution, RouteStore, StoreError};

/// A route file store.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    plan: NumberPlan,
    inner: MemoryStore,
    /// The file's text as last read: a save keeps its order and the text of unchanged routes.
    text: std::sync::Mutex<String>,
    /// The file's modification time and length as last read or written (see `refresh`).
    seen: std::sync::Mutex<Option<(std::time::SystemTime, u64)>>,
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
            text: std::sync::Mutex::default(),
            seen: std::sync::Mutex::default(),
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

    fn stamp(&self) -> Option<(std::time::SystemTime, u64)> {
        let meta = std::fs::metadata(&self.path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// Reads the file again; true when it noticed a hand edit (see `notice_hand_edits`).
    fn reload(&self) -> Result<bool, StoreError> {
        self.read_file(true)
    }

    /// Reads the file; `notice`: compare with what memory holds for hand edits (not after a
    /// failed change, when memory holds that change, not the file as last seen).
    fn read_file(&self, notice: bool) -> Result<bool, StoreError> {
        let stamp = self.stamp();
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
        let mut routes =
            load_route_file(&text, &self.plan).map_err(|source| StoreError::RouteFile {
                path: self.path.clone(),
                source,
            })?;
        let edited = notice && self.notice_hand_edits(&mut routes);
        self.inner.replace_all(routes);
        *self.text.lock().unwrap_or_else(|e| e.into_inner()) = text;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = stamp;
        Ok(edited)
    }

    /// A route edited by hand in the file since this store last read it, with its `version`
    /// left as it was, is a change all the same: it gets the next version here (and in the file
    /// at the next save), so a writer holding the version it read before the edit meets a
    /// conflict instead of overwriting the edit. Noticed by content, not by the version field.
    fn notice_hand_edits(&self, loaded: &mut byoc_core::route_file::LoadedFile) -> bool {
        let before: std::collections::HashMap<String, StoredRoute> = self
            .inner
            .stored()
            .into_iter()
            .map(|s| (s.route.key(), s))
            .collect();
        if before.is_empty() {
            return false;
        }
        let mut edited = false;
        let mut meta: std::collections::HashMap<String, byoc_core::RouteMeta> =
            std::mem::take(&mut loaded.meta).into_iter().collect();
        for route in loaded.table.sorted() {
            let key = route.key();
            let Some(previous) = before.get(&key) else {
                continue;
            };
            let version = meta.get(&key).map_or(1, |m| m.version);
            if *previous.route == *route {
                if previous.meta.version > version {
                    // An edit noticed by an earlier read, not saved yet: it keeps its version.
                    meta.insert(key, previous.meta.clone());
                    edited = true;
                }
                continue;
            }
            // Changed, at a version this store has already seen (or below one it gave): a
            // hand edit. It gets a version above both, even after an earlier unsaved one.
            if previous.meta.version >= version {
                edited = true;
                meta.insert(
                    key,
                    byoc_core::RouteMeta {
                        version: previous.meta.version + 1,
                        updated_at: crate::now_rfc3339(),
                        updated_by: "(edited in the file)".to_string(),
                    },
                );
            }
        }
        loaded.meta = meta.into_iter().collect();
        edited
    }

    /// The route file after a change: the routes in the order the file had them (new ones at
    /// the end), unchanged routes in their own text, and no empty metadata, so a change is a
    /// small diff in version control.
    fn render(&self) -> String {
        let stored = self.inner.stored();
        // Read under the lock, not copied: at a million routes the file's text is hundreds of
        // megabytes.
        let text = self.text.lock().unwrap_or_else(|e| e.into_inner());
        let mut by_key: std::collections::HashMap<String, &StoredRoute> =
            stored.iter().map(|s| (s.route.key(), s)).collect();
        // Written straight into the new text, item after item (no list of items joined).
        let mut out = String::with_capacity(text.len() + 64);
        out.push_str("{\n  \"routes\": [\n");
        let mut first = true;
        let mut push = |out: &mut String, item: &str| {
            if !first {
                out.push_str(",\n");
            }
            first = false;
            out.push_str(item);
        };
        #[derive(serde::Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            routes: Vec<&'a serde_json::value::RawValue>,
        }
        if let Ok(raw) = serde_json::from_str::<Raw>(&text) {
            for item in raw.routes {
                let Ok(record) = byoc_core::route::record_from_json(item.get()) else {
                    continue;
                };
                let Ok(route) = Route::from_record(record.clone(), &self.plan) else {
                    continue;
                };
                let Some(now) = by_key.remove(&route.key()) else {
                    continue; // deleted
                };
                let as_read = RouteRecord {
                    version: record.version,
                    updated_at: record.updated_at,
                    updated_by: record.updated_by,
                    ..route.to_record()
                };
                if as_read == file_record(now) {
                    push(&mut out, "    ");
                    out.push_str(item.get());
                } else {
                    push(&mut out, &pretty_item(&file_record(now)));
                }
            }
        }
        drop(text);
        // New routes, in pattern order, after the file's own.
        for s in &stored {
            if by_key.contains_key(&s.route.key()) {
                push(&mut out, &pretty_item(&file_record(s)));
            }
        }
        if first {
            "{\n  \"routes\": []\n}\n".to_string()
        } else {
            out.push_str("\n  ]\n}\n");
            out
        }
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
        // A hand edit noticed now is written with its new version before the change is tried,
        // so that a refused change (a conflict) does not forget it.
        if self.reload()? {
            self.save()?;
        }
        let _ = self.inner.drain_history();
        // On failure nothing is saved: the file keeps its previous routes (an import that fails
        // half-way writes nothing). The next operation reloads from disk.
        // A failed change or save leaves memory as the file is: reloaded, not half-changed.
        let value = match change(&self.inner).and_then(|value| self.save().map(|()| value)) {
            Ok(value) => value,
            Err(e) => {
                let _ = self.read_file(false);
                return Err(e);
            }
        };
        drop(lock);
        Ok(value)
    }

    fn save(&self) -> Result<(), StoreError> {
        let text = self.render();
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let written = File::create(&tmp)
            .and_then(|mut file| {
                file.write_all(text.as_bytes())?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(StoreError::Write {
                path: self.path.clone(),
                source,
            });
        }
        *self.text.lock().unwrap_or_else(|e| e.into_inner()) = text;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = self.stamp();
        let changes = self.inner.drain_history();
        if !changes.is_empty() {
            let history = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.history_path())
                .map_err(|source| StoreError::Write {
                    path: self.history_path(),
                    source,
                })?;
            // Line by line through a buffer: an import's history is one line per route.
            let mut out = std::io::BufWriter::new(history);
            let written = changes
                .iter()
                .try_for_each(|change| {
                    serde_json::to_writer(&mut out, change).map_err(std::io::Error::other)?;
                    out.write_all(b"\n")
                })
                .and_then(|()| out.flush());
            written.map_err(|source| StoreError::Write {
                path: self.history_path(),
                source,
            })?;
        }
        Ok(())
    }
}

/// A route as the file keeps it: metadata only when there is some (a route no one has
/// changed through `byoc` has none, and gets none written).
fn file_record(stored: &StoredRoute) -> RouteRecord {
    let meta = &stored.meta;
    let recorded = meta.version != 1 || !meta.updated_at.is_empty() || !meta.updated_by.is_empty();
    RouteRecord {
        version: recorded.then_some(meta.version),
        updated_at: Some(meta.updated_at.clone()).filter(|s| !s.is_empty()),
        updated_by: Some(meta.updated_by.clone()).filter(|s| !s.is_empty()),
        ..stored.route.to_record()
    }
}

/// One route, pretty-printed at the route file's indentation.
fn pretty_item(record: &RouteRecord) -> String {
    // A RouteRecord is strings, numbers and JSON values: serializing cannot fail.
    let text = serde_json::to_string_pretty(record).expect("route records serialize");
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
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

    fn resolve_in_memory(&self, address: &Address, scope: Option<&str>) -> Option<Resolution> {
        self.inner.resolve_in_memory(address, scope)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn routes_id(&self) -> String {
        self.inner.routes_id()
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

    async fn each(
        &self,
        prefix: Option<&str>,
        after: Option<&str>,
        page: Option<usize>,
        each: &mut (dyn FnMut(StoredRoute) -> bool + Send),
    ) -> Result<(), StoreError> {
        self.inner.each(prefix, after, page, each).await
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

    async fn refresh(&self) -> Result<(), StoreError> {
        let seen = *self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match self.stamp() {
            Some(now) if Some(now) == seen => Ok(()),
            // Changed (or gone: the read names the problem). A hand edit noticed here is
            // written with its new version at once, under the write lock, so that every
            // process sees the same version for it.
            _ => {
                if self.reload()? {
                    self.locked(|_| Ok(()))?;
                }
                Ok(())
            }
        }
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
    ) -> Result<Applied, StoreError> {
        self.locked(|m| m.apply_now(ops, actor, progress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write keeps the file's order and the text of the routes it did not
    /// change, and writes no empty metadata.
    #[tokio::test]
    async fn a_write_is_a_small_diff() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        let original = r#"{
  "routes": [
    {"pattern": "+1317*", "action": "hangup"},
    {
      "pattern": "*",
      "action": "say",
      "text": "Hello"
    },
    {"pattern": "+13175551234", "url": "https://example.com/a"}
  ]
}
"#;
        std::fs::write(&path, original).unwrap();
        let plan = NumberPlan::default();
        let store = FileStore::open(&path, &plan).unwrap();
        let route =
            |json: &str| Route::from_record(serde_json::from_str(json).unwrap(), &plan).unwrap();
        store
            .put(
                route(r#"{"pattern":"+13175551234","url":"https://example.com/b"}"#),
                Expect::Version(1),
                "ana",
            )
            .await
            .unwrap();
        store
            .put(
                route(r#"{"pattern":"+1212*","action":"hangup"}"#),
                Expect::Absent,
                "ana",
            )
            .await
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // Untouched routes keep their own text and place.
        assert!(
            text.contains(r#"{"pattern": "+1317*", "action": "hangup"}"#),
            "{text}"
        );
        assert!(text.contains("    {\n      \"pattern\": \"*\",\n      \"action\": \"say\",\n      \"text\": \"Hello\"\n    }"), "{text}");
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {text}"))
        };
        assert!(
            at("+1317*") < at("\"*\"")
                && at("\"*\"") < at("+13175551234")
                && at("+13175551234") < at("+1212*")
        );
        // Metadata only where there is some.
        assert!(!text.contains("\"updated_at\": \"\""), "{text}");
        assert_eq!(text.matches("\"version\"").count(), 2, "{text}");
        assert!(text.contains("\"updated_by\": \"ana\""), "{text}");
        // The file reads back to the same routes.
        let again = FileStore::open(&path, &plan).unwrap();
        assert_eq!(
            again.list(None).await.unwrap(),
            store.list(None).await.unwrap()
        );
        // Deleting drops the route's lines and nothing else.
        store.delete("*", Expect::Any, "ana").await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("Hello"), "{text}");
        assert!(
            text.contains(r#"{"pattern": "+1317*", "action": "hangup"}"#),
            "{text}"
        );
    }
}
