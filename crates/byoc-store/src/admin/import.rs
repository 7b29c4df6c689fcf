//! Imports and exports: read an input in any format, plan it against the store, apply it.

use std::collections::HashMap;

use byoc_core::import::{self, Diff, Format};
use byoc_core::{NumberPlan, Route};

use super::{AdminError, Applied, Expect, RouteAdmin, StoredRoute, WriteOp};
use crate::StoreError;

/// An import's input, read and validated: nothing has touched the store yet.
#[derive(Debug)]
pub struct ImportInput {
    pub format: Format,
    pub routes: Vec<Route>,
    /// Routes that are valid but will not work as their authors expect ([`import::warnings`]).
    pub warnings: Vec<String>,
}

/// Reads an import: `format` names one (`auto`, blank or `None` detects it from `file_name`
/// and `text`); every bad row is reported at once.
pub fn read_import(
    text: &str,
    file_name: &str,
    format: Option<&str>,
    plan: &NumberPlan,
) -> Result<ImportInput, AdminError> {
    let format = Format::for_import(format, file_name, text)?;
    let routes = import::parse(text, format, plan).map_err(|rows| AdminError::Rows {
        format: format.name(),
        rows,
    })?;
    let warnings = import::warnings(&routes, plan);
    Ok(ImportInput {
        format,
        routes,
        warnings,
    })
}

/// An import, planned: what it changes. The writes are made from the difference itself when
/// applied ([`ImportPlan::apply`]): the routes are not held twice.
#[derive(Debug)]
pub struct ImportPlan {
    pub diff: Diff,
    /// The version of each stored route read now: each write expects it, so a route someone
    /// changes before the import writes it is reported as a conflict, not overwritten.
    versions: HashMap<String, u64>,
    /// How many routes the store had.
    pub stored: usize,
    pub prune: bool,
}

/// A prune deleting more than this many routes (and over a tenth of them) must be confirmed.
const PRUNE_UNCONFIRMED_MAX: usize = 10;

impl ImportPlan {
    /// How many writes applying the plan makes.
    pub fn writes(&self) -> usize {
        self.diff.added.len()
            + self.diff.changed.len()
            + if self.prune {
                self.diff.absent.len()
            } else {
                0
            }
    }

    /// The writes, made from the difference as they are taken (its routes moved, not copied,
    /// and no second list of them built).
    fn into_ops(self) -> impl Iterator<Item = WriteOp> + Send {
        let ImportPlan {
            diff,
            versions,
            prune,
            ..
        } = self;
        // Shared by the two maps below, not copied for each.
        let versions = std::sync::Arc::new(versions);
        let read = move |key: &str| {
            versions
                .get(key)
                .map_or(Expect::Absent, |v| Expect::Version(*v))
        };
        let absent = if prune { diff.absent } else { Vec::new() };
        let deletes = absent.into_iter().map({
            let read = read.clone();
            move |r| {
                let key = r.key();
                let expect = read(&key);
                WriteOp::Delete(key, expect)
            }
        });
        diff.added
            .into_iter()
            .map(|r| WriteOp::Put(r, Expect::Absent))
            .chain(diff.changed.into_iter().map(move |(_, new)| {
                let expect = read(&new.key());
                WriteOp::Put(new, expect)
            }))
            .chain(deletes)
    }

    /// Plans importing `routes` against what `admin` holds now.
    pub async fn against(
        admin: &dyn RouteAdmin,
        routes: &[Route],
        prune: bool,
    ) -> Result<ImportPlan, StoreError> {
        Self::against_owned(admin, routes.to_vec(), prune).await
    }

    /// [`ImportPlan::against`], taking the input's routes. The store is read one route at a
    /// time ([`RouteAdmin::each`]): what is held beside the input is the routes it changes or
    /// lacks, not the store (an empty store costs nothing; a million stored routes that the
    /// input repeats cost an index of its keys).
    pub async fn against_owned(
        admin: &dyn RouteAdmin,
        routes: Vec<Route>,
        prune: bool,
    ) -> Result<ImportPlan, StoreError> {
        // What the store holds for each input route, by its place in the input.
        const ADDED: u8 = 0;
        const UNCHANGED: u8 = 1;
        const CHANGED: u8 = 2;
        let mut state = vec![ADDED; routes.len()];
        let mut index: Option<HashMap<String, usize>> = None;
        let mut before: HashMap<usize, Route> = HashMap::new();
        let mut versions: HashMap<String, u64> = HashMap::new();
        let mut absent: Vec<Route> = Vec::new();
        let mut stored = 0;
        {
            let input = &routes;
            admin
                .each(None, None, None, &mut |s| {
                    stored += 1;
                    let index = index.get_or_insert_with(|| {
                        input
                            .iter()
                            .enumerate()
                            .map(|(i, r)| (r.key(), i))
                            .collect()
                    });
                    let key = s.route.key();
                    match index.get(&key) {
                        Some(&i) if *s.route == input[i] => state[i] = UNCHANGED,
                        Some(&i) => {
                            state[i] = CHANGED;
                            before.insert(i, s.route.as_ref().clone());
                            versions.insert(key, s.meta.version);
                        }
                        None => {
                            absent.push(s.route.as_ref().clone());
                            versions.insert(key, s.meta.version);
                        }
                    }
                    true
                })
                .await?;
        }
        drop(index);
        // The input routes the store has are taken out in place; those left are the added.
        let mut added = routes;
        let taken: Vec<usize> = (0..state.len()).filter(|&i| state[i] != ADDED).collect();
        let mut seen = 0;
        let mut diff = Diff::default();
        let out = added.extract_if(.., |_| {
            seen += 1;
            state[seen - 1] != ADDED
        });
        for (i, new) in taken.into_iter().zip(out) {
            match before.remove(&i) {
                Some(old) if state[i] == CHANGED => diff.changed.push((old, new)),
                _ => diff.unchanged += 1,
            }
        }
        diff.added = added;
        diff.absent = absent;
        Ok(ImportPlan {
            diff,
            versions,
            stored,
            prune,
        })
    }

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

    /// Writes the plan. A risky prune ([`ImportPlan::prune_risk`]) is refused unless
    /// `confirmed`; routes changed since the plan was read come back as conflicts.
    pub async fn apply(
        self,
        admin: &dyn RouteAdmin,
        actor: &str,
        confirmed: bool,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Applied, AdminError> {
        if let Some(risk) = self.prune_risk().filter(|_| !confirmed) {
            return Err(AdminError::PruneUnconfirmed(risk));
        }
        if self.writes() == 0 {
            return Ok(Applied::default());
        }
        let Some(chunk) = admin.apply_chunk() else {
            return Ok(admin
                .apply(self.into_ops().collect(), actor, progress)
                .await?);
        };
        // A store that writes in batches gets one at a time: the writes are made from the
        // routes as they are taken, never a second list of a million.
        let mut ops = self.into_ops();
        let mut applied = Applied::default();
        loop {
            let batch: Vec<WriteOp> = ops.by_ref().take(chunk.max(1)).collect();
            if batch.is_empty() {
                return Ok(applied);
            }
            let done = applied.written + applied.conflicts.len();
            match admin.apply(batch, actor, &|n| progress(done + n)).await {
                Ok(part) => {
                    applied.written += part.written;
                    applied.conflicts.extend(part.conflicts);
                }
                Err(source) if applied.written > 0 => {
                    return Err(AdminError::Partial {
                        written: applied.written,
                        source,
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Every route of a store, written in one format.
#[derive(Debug)]
pub struct Exported {
    pub format: Format,
    pub text: String,
    pub routes: usize,
    /// Stored items this version cannot read, left out (their stand-ins would come back as
    /// real routes): each key, version and reason.
    pub left_out: Vec<StoredRoute>,
}

/// Exports every route of `admin` as `format` (`json` or `csv`): what an import reads back.
pub async fn export(admin: &dyn RouteAdmin, format: &str) -> Result<Exported, AdminError> {
    let format = Format::for_export(format)?;
    let written = export_to(admin, format, Vec::new()).await?;
    Ok(Exported {
        format,
        text: String::from_utf8(written.out).map_err(|e| {
            AdminError::Store(StoreError::Unavailable(format!("export is not UTF-8: {e}")))
        })?,
        routes: written.routes,
        left_out: written.left_out,
    })
}

/// What [`export_to`] wrote.
#[derive(Debug)]
pub struct Written<W> {
    pub out: W,
    pub routes: usize,
    pub left_out: Vec<StoredRoute>,
}

/// The writer of one export format.
enum FormatWriter<W: std::io::Write> {
    Json(byoc_core::route_file::RouteFileWriter<W>),
    // Boxed: the CSV writer's buffer state is large beside the JSON writer.
    Csv(Box<byoc_core::import::CsvRoutes<W>>),
}

/// Exports every route of `admin` as `format` into `out`, one route at a time (a store that
/// reads pages holds one page): what an import reads back. Only the unreadable items left out
/// are kept, to be reported.
pub async fn export_to<W: std::io::Write + Send>(
    admin: &dyn RouteAdmin,
    format: Format,
    out: W,
) -> Result<Written<W>, AdminError> {
    let mut writer = match format {
        Format::Json => FormatWriter::Json(byoc_core::route_file::RouteFileWriter::new(out)),
        Format::Csv => FormatWriter::Csv(Box::new(byoc_core::import::CsvRoutes::new(out))),
        Format::Flex => {
            return Err(AdminError::Format(
                byoc_core::import::FormatError::NotWritable(format),
            ))
        }
    };
    let mut routes = 0;
    let mut left_out = Vec::new();
    let mut failed: Option<std::io::Error> = None;
    admin
        .each(None, None, None, &mut |stored| {
            if stored.unreadable.is_some() {
                left_out.push(stored);
                return true;
            }
            let record = stored.route.to_record();
            let done = match &mut writer {
                FormatWriter::Json(w) => w.push(&record),
                FormatWriter::Csv(w) => w.push(&record),
            };
            match done {
                Ok(()) => {
                    routes += 1;
                    true
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })
        .await?;
    let finished = match (failed, writer) {
        (Some(e), _) => Err(e),
        (None, FormatWriter::Json(w)) => w.finish(),
        (None, FormatWriter::Csv(w)) => w.finish(),
    };
    let out = finished.map_err(AdminError::Write)?;
    Ok(Written {
        out,
        routes,
        left_out,
    })
}

#[cfg(test)]
mod tests {
    use byoc_core::import::FormatError;

    use super::*;
    use crate::MemoryStore;

    fn plan() -> NumberPlan {
        NumberPlan::default()
    }

    #[tokio::test]
    async fn an_import_is_read_planned_confirmed_and_exported_back() {
        let store = MemoryStore::new();
        let csv = "pattern,action,url\n+13175551234,redirect,https://example.com/a\n*,reject,\n";
        let input = read_import(csv, "routes.csv", None, &plan()).unwrap();
        assert_eq!(input.format, Format::Csv);
        let planned = ImportPlan::against(&store, &input.routes, false)
            .await
            .unwrap();
        assert_eq!((planned.diff.added.len(), planned.writes()), (2, 2));
        let applied = planned.apply(&store, "ana", false, &|_| {}).await.unwrap();
        assert_eq!(applied.written, 2);

        // A prune that drops the `*` route must be confirmed.
        let only = read_import(
            r#"{"routes":[{"pattern":"+13175551234","url":"https://example.com/a"}]}"#,
            "r.json",
            Some("auto"),
            &plan(),
        )
        .unwrap();
        let planned = ImportPlan::against(&store, &only.routes, true)
            .await
            .unwrap();
        assert!(planned.prune_risk().unwrap().contains("the * route"));
        let refused = planned
            .apply(&store, "ana", false, &|_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(refused, AdminError::PruneUnconfirmed(_)),
            "{refused}"
        );
        assert_eq!(store.list(None).await.unwrap().len(), 2);
        let planned = ImportPlan::against(&store, &only.routes, true)
            .await
            .unwrap();
        let applied = planned.apply(&store, "ana", true, &|_| {}).await.unwrap();
        assert_eq!(applied.written, 1);

        let exported = export(&store, "json").await.unwrap();
        assert_eq!(exported.routes, 1);
        let back = read_import(&exported.text, "export.json", None, &plan()).unwrap();
        assert_eq!(back.routes, only.routes);
        assert!(matches!(
            export(&store, "flex").await,
            Err(AdminError::Format(FormatError::NotWritable(Format::Flex)))
        ));
    }

    /// The plan reads the store one route at a time: added, changed (with the version it
    /// read), unchanged and absent, each in its order; the writes expect what was read.
    #[tokio::test]
    async fn a_plan_finds_added_changed_unchanged_and_absent() {
        let store = MemoryStore::new();
        let old = read_import(
            "pattern,action,url\n*,redirect,https://x/a\n+1*,hangup,\n+44*,hangup,\n+61*,hangup,\n",
            "old.csv",
            None,
            &plan(),
        )
        .unwrap();
        let planned = ImportPlan::against(&store, &old.routes, false)
            .await
            .unwrap();
        assert_eq!((planned.stored, planned.diff.added.len()), (0, 4));
        planned.apply(&store, "ana", false, &|_| {}).await.unwrap();
        let new = read_import(
            "pattern,action,url\n+33*,hangup,\n*,redirect,https://x/b\n+44*,hangup,\n+1212*,hangup,\n",
            "new.csv",
            None,
            &plan(),
        )
        .unwrap();
        let planned = ImportPlan::against(&store, &new.routes, true)
            .await
            .unwrap();
        let keys = |routes: &[Route]| routes.iter().map(|r| r.key()).collect::<Vec<_>>();
        assert_eq!(planned.stored, 4);
        assert_eq!(keys(&planned.diff.added), ["+33*", "+1212*"]);
        assert_eq!(planned.diff.changed.len(), 1);
        assert_eq!(
            (
                planned.diff.changed[0].0.key(),
                &planned.diff.changed[0].0.action
            ),
            ("*".to_string(), &old.routes[0].action)
        );
        assert_eq!(planned.diff.changed[0].1, new.routes[1]);
        assert_eq!(planned.diff.unchanged, 1);
        assert_eq!(keys(&planned.diff.absent), ["+1*", "+61*"]);
        assert_eq!(planned.writes(), 5);
        // Someone changes `*` after the plan read it: that write is a conflict, the rest land.
        let mut edited = old.routes[0].clone();
        edited.description = Some("meanwhile".into());
        store.put(edited, Expect::Any, "bob").await.unwrap();
        let applied = planned.apply(&store, "ana", true, &|_| {}).await.unwrap();
        assert_eq!((applied.written, applied.conflicts.len()), (4, 1));
        assert_eq!(
            keys(
                &store
                    .routes()
                    .iter()
                    .map(|r| r.as_ref().clone())
                    .collect::<Vec<_>>()
            ),
            ["*", "+1212*", "+33*", "+44*"]
        );
    }

    /// A store that writes in batches is given one batch at a time, the progress counting on
    /// across them; when it fails part-way the error says how many writes were made.
    #[tokio::test]
    async fn a_batching_store_gets_batches_and_a_failure_says_what_was_written() {
        struct Batches {
            inner: MemoryStore,
            sizes: std::sync::Mutex<Vec<usize>>,
            fail_at: usize,
        }
        #[async_trait::async_trait]
        impl RouteAdmin for Batches {
            async fn get(&self, p: &str) -> Result<Option<StoredRoute>, StoreError> {
                self.inner.get(p).await
            }
            async fn list(&self, p: Option<&str>) -> Result<Vec<StoredRoute>, StoreError> {
                self.inner.list(p).await
            }
            async fn put(&self, r: Route, e: Expect, a: &str) -> Result<StoredRoute, StoreError> {
                self.inner.put(r, e, a).await
            }
            async fn delete(&self, p: &str, e: Expect, a: &str) -> Result<StoredRoute, StoreError> {
                self.inner.delete(p, e, a).await
            }
            async fn history(&self, p: &str) -> Result<Vec<super::super::Change>, StoreError> {
                self.inner.history(p).await
            }
            fn apply_chunk(&self) -> Option<usize> {
                Some(2)
            }
            async fn apply(
                &self,
                ops: Vec<WriteOp>,
                actor: &str,
                progress: &(dyn Fn(usize) + Send + Sync),
            ) -> Result<Applied, StoreError> {
                let batch = {
                    let mut sizes = self.sizes.lock().unwrap();
                    sizes.push(ops.len());
                    sizes.len()
                };
                if batch == self.fail_at {
                    return Err(StoreError::Unavailable("throttled".into()));
                }
                self.inner.apply(ops, actor, progress).await
            }
        }
        let csv =
            "pattern,action\n+1*,hangup\n+44*,hangup\n+61*,hangup\n+33*,hangup\n+49*,hangup\n";
        let input = read_import(csv, "r.csv", None, &plan()).unwrap();
        let store = Batches {
            inner: MemoryStore::new(),
            sizes: Default::default(),
            fail_at: 0,
        };
        let seen = std::sync::Mutex::new(Vec::new());
        let planned = ImportPlan::against(&store, &input.routes, false)
            .await
            .unwrap();
        let applied = planned
            .apply(&store, "ana", false, &|n| seen.lock().unwrap().push(n))
            .await
            .unwrap();
        assert_eq!(applied.written, 5);
        assert_eq!(*store.sizes.lock().unwrap(), [2, 2, 1]);
        assert_eq!(*seen.lock().unwrap(), [1, 2, 3, 4, 5]);

        let store = Batches {
            inner: MemoryStore::new(),
            sizes: Default::default(),
            fail_at: 2,
        };
        let planned = ImportPlan::against(&store, &input.routes, false)
            .await
            .unwrap();
        let failed = planned
            .apply(&store, "ana", false, &|_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(failed, AdminError::Partial { written: 2, .. }),
            "{failed}"
        );
        assert!(
            failed
                .to_string()
                .contains("after 2 change(s) were written"),
            "{failed}"
        );
        assert_eq!(store.inner.len(), 2);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_format() {
        let csv = "pattern,action,url\nnot a number,redirect,https://example.com\n+1317*,dial,\n";
        let err = read_import(csv, "r.csv", Some("csv"), &plan()).unwrap_err();
        let AdminError::Rows { format, rows } = &err else {
            panic!("{err}")
        };
        assert_eq!(*format, "csv");
        assert_eq!(rows.errors.len(), 2, "{err}");
        assert!(matches!(
            read_import(csv, "r.csv", Some("xml"), &plan()),
            Err(AdminError::Format(FormatError::Unknown { .. }))
        ));
    }
}
