//! Imports and exports: read an input in any format, plan it against the store, apply it.

use std::collections::HashMap;
use std::sync::Arc;

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
    /// Plans importing `routes` over `stored` (the store's routes as just listed); with
    /// `prune`, routes absent from the input are deleted.
    pub fn new(stored: Vec<StoredRoute>, routes: &[Route], prune: bool) -> ImportPlan {
        Self::new_owned(stored, routes.to_vec(), prune)
    }

    /// [`ImportPlan::new`], taking the input's routes (moved into the plan, not copied).
    pub fn new_owned(stored: Vec<StoredRoute>, routes: Vec<Route>, prune: bool) -> ImportPlan {
        let versions: HashMap<String, u64> = stored
            .iter()
            .map(|r| (r.route.key(), r.meta.version))
            .collect();
        let count = stored.len();
        let current: Vec<Arc<Route>> = stored.into_iter().map(|r| r.route).collect();
        let diff = import::diff_owned(&current, routes);
        ImportPlan {
            diff,
            versions,
            stored: count,
            prune,
        }
    }

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

    /// The writes, made from the difference (its routes moved, not copied).
    fn into_ops(self) -> Vec<WriteOp> {
        let ImportPlan {
            diff,
            versions,
            prune,
            ..
        } = self;
        let read = |key: &str| {
            versions
                .get(key)
                .map_or(Expect::Absent, |v| Expect::Version(*v))
        };
        let mut ops: Vec<WriteOp> = Vec::with_capacity(diff.added.len() + diff.changed.len());
        ops.extend(
            diff.added
                .into_iter()
                .map(|r| WriteOp::Put(r, Expect::Absent)),
        );
        for (_, new) in diff.changed {
            let expect = read(&new.key());
            ops.push(WriteOp::Put(new, expect));
        }
        if prune {
            ops.extend(
                diff.absent
                    .iter()
                    .map(|r| WriteOp::Delete(r.key(), read(&r.key()))),
            );
        }
        ops
    }

    /// Plans importing `routes` against what `admin` holds now.
    pub async fn against(
        admin: &dyn RouteAdmin,
        routes: &[Route],
        prune: bool,
    ) -> Result<ImportPlan, StoreError> {
        Ok(Self::new(admin.list(None).await?, routes, prune))
    }

    /// [`ImportPlan::against`], taking the input's routes.
    pub async fn against_owned(
        admin: &dyn RouteAdmin,
        routes: Vec<Route>,
        prune: bool,
    ) -> Result<ImportPlan, StoreError> {
        Ok(Self::new_owned(admin.list(None).await?, routes, prune))
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
        Ok(admin.apply(self.into_ops(), actor, progress).await?)
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
