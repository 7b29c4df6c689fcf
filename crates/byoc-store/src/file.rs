//! A JSON route file as a store. Writes reload the file under an exclusive lock, apply the
//! change, and replace the file atomically (write + rename), so concurrent `byoc` runs do not
//! lose updates; the history goes to `<file>.history.jsonl` beside it.

use std::fs::{File, OpenOptions};
use std::hash::Hasher;
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
    /// The file's modification time and length as last read or written (see `refresh`).
    seen: std::sync::Mutex<Option<(std::time::SystemTime, u64)>>,
    /// A digest of the file's text as last read or written: a write reads the file again
    /// (parses it, noticing hand edits) only when its text differs.
    digest: std::sync::Mutex<Option<u64>>,
}

impl FileStore {
    /// Loads and validates `path`; every invalid route is reported.
    pub fn open(path: &Path, plan: &NumberPlan) -> Result<Self, StoreError> {
        let store = Self::empty(path, plan);
        store.reload()?;
        Ok(store)
    }

    /// Opens `path`; when it does not exist, an empty store that the first write creates (a
    /// write that fails leaves no file behind).
    pub fn open_or_create(path: &Path, plan: &NumberPlan) -> Result<Self, StoreError> {
        if path.exists() {
            return Self::open(path, plan);
        }
        let store = Self::empty(path, plan);
        *store.digest.lock().unwrap_or_else(|e| e.into_inner()) = Some(digest(b""));
        Ok(store)
    }

    /// A store of no routes at `path`, nothing read yet.
    fn empty(path: &Path, plan: &NumberPlan) -> Self {
        Self {
            path: path.to_path_buf(),
            plan: plan.clone(),
            inner: MemoryStore::from_json(
                "{\"routes\":[]}",
                &format!("file {}", path.display()),
                plan,
            )
            .expect("an empty route file is valid"),
            seen: std::sync::Mutex::default(),
            digest: std::sync::Mutex::default(),
        }
    }

    /// Memory as the file is, after a failed change: read again, or no routes when the file
    /// is not there (a store whose first write failed).
    fn reset_to_disk(&self) {
        if self.path.exists() {
            let _ = self.read_file(false);
        } else if let Ok(empty) =
            byoc_core::route_file::load_route_file("{\"routes\":[]}", &self.plan)
        {
            self.inner.replace_all(empty);
            *self.digest.lock().unwrap_or_else(|e| e.into_inner()) = Some(digest(b""));
        }
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
        self.load_text(&text, stamp, notice)
    }

    /// [`FileStore::read_file`] of the text just read.
    fn load_text(
        &self,
        text: &str,
        stamp: Option<(std::time::SystemTime, u64)>,
        notice: bool,
    ) -> Result<bool, StoreError> {
        let mut routes =
            load_route_file(text, &self.plan).map_err(|source| StoreError::RouteFile {
                path: self.path.clone(),
                source,
            })?;
        let edited = notice && self.notice_hand_edits(&mut routes);
        self.inner.replace_all(routes);
        // The text itself is not kept: a write reads it again (a million routes' text is
        // hundreds of megabytes that a console would hold for nothing between writes).
        *self.digest.lock().unwrap_or_else(|e| e.into_inner()) = Some(digest(text.as_bytes()));
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

    /// Writes the route file after a change, from `text` (the file as it was) into `out`: the
    /// routes in the order the file had them (new ones at the end, in pattern order),
    /// unchanged routes in their own text, and no empty metadata, so a change is a small diff
    /// in version control. Item after item, straight into `out`: nothing the size of the file
    /// is built beside it.
    fn render_to(&self, text: &str, out: &mut (impl Write + Send)) -> std::io::Result<()> {
        let mut first = true;
        let mut push = |out: &mut dyn Write, item: &str| -> std::io::Result<()> {
            out.write_all(if first {
                b"{\n  \"routes\": [\n"
            } else {
                b",\n"
            })?;
            first = false;
            out.write_all(item.as_bytes())
        };
        #[derive(serde::Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            routes: Vec<&'a serde_json::value::RawValue>,
        }
        // The keys the file already had: their routes keep their place.
        let mut in_file: std::collections::HashSet<String> = std::collections::HashSet::new();
        if let Ok(raw) = serde_json::from_str::<Raw>(text) {
            for item in raw.routes {
                let Ok(record) = byoc_core::route::record_from_json(item.get()) else {
                    continue;
                };
                let Ok(route) = Route::from_record(record.clone(), &self.plan) else {
                    continue;
                };
                let key = route.key();
                let Some(now) = self.inner.stored_route(&key) else {
                    continue; // deleted
                };
                if !in_file.insert(key) {
                    continue; // written already
                }
                let as_read = RouteRecord {
                    version: record.version,
                    updated_at: record.updated_at,
                    updated_by: record.updated_by,
                    ..route.to_record()
                };
                if as_read == file_record(&now) {
                    push(out, "    ")?;
                    out.write_all(item.get().as_bytes())?;
                } else {
                    push(out, &pretty_item(&file_record(&now)))?;
                }
            }
        }
        let mut written = Ok(());
        self.inner.each_sorted(None, None, &mut |stored| {
            if in_file.contains(&stored.route.key()) {
                return true;
            }
            written = push(out, &pretty_item(&file_record(&stored)));
            written.is_ok()
        });
        written?;
        if first {
            out.write_all(b"{\n  \"routes\": []\n}\n")
        } else {
            out.write_all(b"\n  ]\n}\n")
        }
    }

    fn history_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".history.jsonl");
        PathBuf::from(name)
    }

    /// Where a bulk apply writes its history until the route file is saved.
    fn pending_history_path(&self) -> PathBuf {
        let mut name = self.history_path().into_os_string();
        name.push(".partial");
        PathBuf::from(name)
    }

    /// Runs `change` on the routes as the file has them, under an exclusive lock, then saves.
    /// The file is read again only when it changed since this store last read or wrote it.
    fn locked<T>(
        &self,
        change: impl FnOnce(&MemoryStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut lock_name = self.path.as_os_str().to_owned();
        lock_name.push(".lock");
        let lock_path = PathBuf::from(lock_name);
        let lock_error = |source| StoreError::Write {
            path: lock_path.clone(),
            source,
        };
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(lock_error)?;
        lock.lock().map_err(lock_error)?;
        // No other writer runs now: a bulk apply's history left beside the file is from one
        // that was killed before its save, and records nothing that happened.
        let _ = std::fs::remove_file(self.pending_history_path());
        // A hand edit noticed now is written with its new version before the change is tried,
        // so that a refused change (a conflict) does not forget it.
        let read = |store: &Self| {
            let stamp = store.stamp();
            match std::fs::read_to_string(&store.path) {
                Ok(text) => Ok((text, stamp)),
                // Not created yet (`open_or_create`): the first write creates it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((String::new(), None)),
                Err(e) => Err(store.io(e)),
            }
        };
        let (mut text, stamp) = read(self)?;
        let known = *self.digest.lock().unwrap_or_else(|e| e.into_inner());
        if known != Some(digest(text.as_bytes())) && self.load_text(&text, stamp, true)? {
            self.save(&text)?;
            text = read(self)?.0;
        }
        let _ = self.inner.drain_history();
        // On failure nothing is saved: the file keeps its previous routes (an import that fails
        // half-way writes nothing). The next operation reloads from disk.
        // A failed change or save leaves memory as the file is: reloaded, not half-changed.
        let value = match change(&self.inner).and_then(|value| self.save(&text).map(|()| value)) {
            Ok(value) => value,
            Err(e) => {
                let _ = std::fs::remove_file(self.pending_history_path());
                self.reset_to_disk();
                return Err(e);
            }
        };
        drop(lock);
        Ok(value)
    }

    /// Writes the routes over the file whose text was `text` (its order and its unchanged
    /// routes' text are kept), then appends the history.
    fn save(&self, text: &str) -> Result<(), StoreError> {
        let write_error = |path: &Path, source| StoreError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let to_tmp = File::create(&tmp)
            .and_then(|file| {
                let mut out = Digesting {
                    out: std::io::BufWriter::with_capacity(1 << 20, file),
                    digest: std::hash::DefaultHasher::new(),
                };
                self.render_to(text, &mut out)?;
                let written = out.digest.finish();
                out.out
                    .into_inner()
                    .map_err(|e| e.into_error())?
                    .sync_all()?;
                Ok(written)
            })
            .map_err(|source| write_error(&tmp, source));
        let written = match to_tmp.and_then(|written| {
            std::fs::rename(&tmp, &self.path)
                .map(|()| written)
                .map_err(|source| write_error(&self.path, source))
        }) {
            Ok(written) => written,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        *self.digest.lock().unwrap_or_else(|e| e.into_inner()) = Some(written);
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = self.stamp();
        let changes = self.inner.drain_history();
        let pending = self.pending_history_path();
        let pending = pending.exists().then_some(pending);
        if changes.is_empty() && pending.is_none() {
            return Ok(());
        }
        let appended = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(self.history_path())
            .and_then(|mut history| {
                // A line cut short by an earlier failure (a full disk) is ended first, so that
                // the lines after it stay readable.
                use std::io::{Read, Seek, SeekFrom};
                if history.seek(SeekFrom::End(0))? > 0 {
                    let mut last = [0u8];
                    history.seek(SeekFrom::End(-1))?;
                    history.read_exact(&mut last)?;
                    if last != *b"\n" {
                        history.write_all(b"\n")?;
                    }
                }
                // Line by line through a buffer: an import's history is one line per route.
                let mut out = std::io::BufWriter::new(history);
                for change in &changes {
                    write_change(&mut out, change)?;
                }
                if let Some(path) = &pending {
                    // A bulk apply's history, written as it went: appended now that its
                    // routes are.
                    std::io::copy(&mut File::open(path)?, &mut out)?;
                }
                out.flush()
            });
        match appended {
            Ok(()) => {
                if let Some(path) = &pending {
                    let _ = std::fs::remove_file(path);
                }
                Ok(())
            }
            // The routes are written: say so, and keep the import's history where it can be
            // found (the next write would discard it as a killed import's).
            Err(e) => {
                let mut unsaved = self.history_path().into_os_string();
                unsaved.push(".unsaved");
                let unsaved = PathBuf::from(unsaved);
                let kept = pending
                    .filter(|path| std::fs::rename(path, &unsaved).is_ok())
                    .map(|_| {
                        format!(
                            "; its lines are kept in {} (some may be in the history already)",
                            unsaved.display()
                        )
                    })
                    .unwrap_or_default();
                Err(StoreError::Unavailable(format!(
                    "the routes were written to {}, but not all of their history: cannot write {}: {e}{kept}",
                    self.path.display(),
                    self.history_path().display()
                )))
            }
        }
    }
}

/// The digest of a route file's text (see `FileStore::digest`).
fn digest(text: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(text);
    hasher.finish()
}

/// A writer that digests what goes through it, as [`digest`] does the whole text: the same
/// bytes in pieces give the same digest, as `Hasher::write` only streams them.
struct Digesting<W> {
    out: W,
    digest: std::hash::DefaultHasher,
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.digest.write(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// One change as a line of the history file.
fn write_change(out: &mut impl Write, change: &Change) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, change).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
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
        use std::io::BufRead;
        let file = match File::open(self.history_path()) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        // Line by line, and only lines that name the pattern are parsed: after a million-route
        // import the history is hundreds of megabytes, and one route's is a few lines of it.
        // (A pattern that JSON would escape is looked for in every line.)
        let plain = !pattern.contains(|c: char| c == '"' || c == '\\' || c.is_control());
        let mut changes = Vec::new();
        let mut line = Vec::new();
        let mut reader = std::io::BufReader::new(file);
        loop {
            line.clear();
            if reader
                .read_until(b'\n', &mut line)
                .map_err(|e| self.io(e))?
                == 0
            {
                return Ok(changes);
            }
            if plain && !std::str::from_utf8(&line).is_ok_and(|text| text.contains(pattern)) {
                continue;
            }
            if let Ok(change) = serde_json::from_slice::<Change>(&line) {
                if change.pattern == pattern {
                    changes.push(change);
                }
            }
        }
    }

    async fn apply(
        &self,
        ops: Vec<WriteOp>,
        actor: &str,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Applied, StoreError> {
        self.locked(|m| {
            // The history goes to a file beside it as the ops are applied, not held: the save
            // appends it once the routes are written, and a failure removes it.
            let path = self.pending_history_path();
            let write_error = |source| StoreError::Write {
                path: path.clone(),
                source,
            };
            let mut out = std::io::BufWriter::new(File::create(&path).map_err(write_error)?);
            let applied = m.apply_recording(
                ops,
                actor,
                progress,
                Some(&mut |change| write_change(&mut out, &change).map_err(write_error)),
            )?;
            out.flush().map_err(write_error)?;
            Ok(applied)
        })
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

    /// A hand edit right after a write, of the same length (the file's time stamp may not
    /// move on a coarse clock), is noticed by its text: a writer holding the version it read
    /// before meets a conflict instead of overwriting it.
    #[tokio::test]
    async fn a_same_length_hand_edit_is_noticed_by_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        std::fs::write(
            &path,
            r#"{"routes": [{"pattern": "*", "action": "say", "text": "aaaa"}]}"#,
        )
        .unwrap();
        let plan = NumberPlan::default();
        let store = FileStore::open(&path, &plan).unwrap();
        let say = |text: &str| {
            let json = format!(r#"{{"pattern":"*","action":"say","text":"{text}"}}"#);
            Route::from_record(serde_json::from_str(&json).unwrap(), &plan).unwrap()
        };
        store
            .put(say("bbbb"), Expect::Version(1), "ana")
            .await
            .unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, written.replace("bbbb", "cccc")).unwrap();
        let refused = store.put(say("dddd"), Expect::Version(2), "ana").await;
        assert!(
            matches!(refused, Err(StoreError::VersionMismatch { actual: 3, .. })),
            "{refused:?}"
        );
        let now = store.get("*").await.unwrap().unwrap();
        assert_eq!(now.route.as_ref(), &say("cccc"));
        // And the file says so at once.
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("\"version\": 3"));
    }

    /// An import's history is written as it goes and appended once the routes are saved; a
    /// save that fails leaves neither routes nor history behind.
    #[tokio::test]
    async fn an_import_s_history_follows_its_routes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        let plan = NumberPlan::default();
        let store = FileStore::open_or_create(&path, &plan).unwrap();
        let route = |n: u32| {
            let json = format!(r#"{{"pattern":"+1317555{n:04}","action":"hangup"}}"#);
            WriteOp::Put(
                Route::from_record(serde_json::from_str(&json).unwrap(), &plan).unwrap(),
                Expect::Absent,
            )
        };
        let history = |store: &FileStore| {
            std::fs::read_to_string(store.history_path())
                .unwrap_or_default()
                .lines()
                .count()
        };
        let applied = store
            .apply((0..3).map(route).collect(), "ana", &|_| {})
            .await
            .unwrap();
        assert_eq!(applied.written, 3);
        assert_eq!(history(&store), 3);
        assert!(!store.pending_history_path().exists());
        assert_eq!(store.history("+13175550001").await.unwrap()[0].op, "import");

        // The save cannot write its temporary file: nothing changes, nothing is recorded.
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::create_dir(&tmp).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        let failed = store
            .apply((3..6).map(route).collect(), "ana", &|_| {})
            .await;
        assert!(
            matches!(failed, Err(StoreError::Write { .. })),
            "{failed:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        assert_eq!(history(&store), 3);
        assert!(!store.pending_history_path().exists());
        assert_eq!(store.list(None).await.unwrap().len(), 3);
    }

    /// A killed import's history is discarded by the next write, not recorded; a line cut
    /// short (a full disk) does not swallow the next one; a history that cannot be written
    /// after the routes were is said so, and the import's lines are kept; a first write that
    /// fails leaves no route file.
    #[tokio::test]
    async fn the_history_survives_killed_imports_and_full_disks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        let plan = NumberPlan::default();
        let route = |n: u32| {
            let json = format!(r#"{{"pattern":"+1317555{n:04}","action":"hangup"}}"#);
            Route::from_record(serde_json::from_str(&json).unwrap(), &plan).unwrap()
        };

        // A first write that fails creates nothing, and memory stays empty.
        let store = FileStore::open_or_create(&path, &plan).unwrap();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::create_dir(&tmp).unwrap();
        let failed = store.put(route(1), Expect::Absent, "ana").await;
        assert!(
            matches!(&failed, Err(StoreError::Write { path: p, .. }) if p.ends_with("routes.json.tmp")),
            "{failed:?}"
        );
        assert!(!path.exists());
        assert!(store.list(None).await.unwrap().is_empty());
        std::fs::remove_dir(&tmp).unwrap();

        // A killed import left its history, cut mid-line: the next write discards it.
        std::fs::write(
            store.pending_history_path(),
            "{\"pattern\":\"+13175559999\",\"op\":\"import\"}\n{\"pattern\":\"+1317",
        )
        .unwrap();
        store.put(route(1), Expect::Absent, "ana").await.unwrap();
        assert!(!store.pending_history_path().exists());
        let lines = std::fs::read_to_string(store.history_path()).unwrap();
        assert_eq!(lines.lines().count(), 1, "{lines}");

        // A line cut short in the history itself: the next change stays readable.
        let mut history = OpenOptions::new()
            .append(true)
            .open(store.history_path())
            .unwrap();
        history.write_all(b"{\"pattern\":\"+1317").unwrap();
        drop(history);
        store.put(route(2), Expect::Absent, "ana").await.unwrap();
        assert_eq!(store.history("+13175550002").await.unwrap().len(), 1);

        // The history cannot be written at all: the routes are, and the error says so.
        std::fs::remove_file(store.history_path()).unwrap();
        std::fs::create_dir(store.history_path()).unwrap();
        let ops = (3..6)
            .map(|n| WriteOp::Put(route(n), Expect::Absent))
            .collect();
        let failed = store.apply(ops, "ana", &|_| {}).await.unwrap_err();
        let message = failed.to_string();
        assert!(message.contains("the routes were written to"), "{message}");
        assert!(message.contains("history.jsonl.unsaved"), "{message}");
        let mut unsaved = store.history_path().into_os_string();
        unsaved.push(".unsaved");
        assert_eq!(
            std::fs::read_to_string(PathBuf::from(unsaved))
                .unwrap()
                .lines()
                .count(),
            3
        );
        let again = FileStore::open(&path, &plan).unwrap();
        assert_eq!(again.list(None).await.unwrap().len(), 5);
        assert_eq!(store.list(None).await.unwrap().len(), 5);
    }

    #[test]
    fn a_digest_is_the_same_in_pieces() {
        let text = "{\n  \"routes\": []\n}\n".repeat(1000);
        let mut out = Digesting {
            out: Vec::new(),
            digest: std::hash::DefaultHasher::new(),
        };
        for piece in text.as_bytes().chunks(7) {
            out.write_all(piece).unwrap();
        }
        assert_eq!(out.digest.finish(), digest(text.as_bytes()));
        assert_ne!(digest(b"a"), digest(b"b"));
    }
}
