//! Which route store a process uses, decided in one place for the inbound function, `byoc
//! serve`, `byoc routes` and whatever comes next.
//!
//! Precedence, written once:
//! 1. a store named on the command line (`--table NAME` or `--routes FILE`; naming both is an
//!    error the argument parser reports);
//! 2. else the environment: `ROUTES_TABLE` or `ROUTES_FILE` (blank counts as unset); both set
//!    is an error, never a silent choice;
//! 3. else none: the caller decides what that means (the inbound function answers every call
//!    with the default route; read-only `byoc` commands use the embedded example file).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use byoc_core::NumberPlan;
use byoc_store::{FileStore, RouteAdmin, RouteStore, StoreError};

use crate::{DynamoStore, Profile};

/// Where routes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSource {
    Table(String),
    File(PathBuf),
    None,
}

/// Both stores named in the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("both ROUTES_TABLE and ROUTES_FILE are set: set one (a flag such as --table or --routes also decides)")]
pub struct BothStores;

/// An opened store: the call-path and admin views of it, and a description for logs.
pub struct OpenedStore {
    pub store: Arc<dyn RouteStore>,
    pub admin: Arc<dyn RouteAdmin>,
    pub description: String,
}

impl StoreSource {
    /// The source named by `table` / `file` (flags), else by the environment.
    pub fn resolve(table: Option<String>, file: Option<PathBuf>) -> Result<Self, BothStores> {
        Self::resolve_with(table, file, |name| std::env::var(name).ok())
    }

    /// [`StoreSource::resolve`] with the environment read through `env` (tests).
    pub fn resolve_with(
        table: Option<String>,
        file: Option<PathBuf>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, BothStores> {
        let set = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        match (set(table), file) {
            (Some(table), _) => return Ok(Self::Table(table.trim().to_string())),
            (None, Some(file)) => return Ok(Self::File(file)),
            (None, None) => {}
        }
        match (set(env("ROUTES_TABLE")), set(env("ROUTES_FILE"))) {
            (Some(_), Some(_)) => Err(BothStores),
            (Some(table), None) => Ok(Self::Table(table.trim().to_string())),
            (None, Some(file)) => Ok(Self::File(PathBuf::from(file.trim()))),
            (None, None) => Ok(Self::None),
        }
    }

    pub fn is_table(&self) -> bool {
        matches!(self, Self::Table(_))
    }

    /// Opens the store (`None` for [`StoreSource::None`]). `create_file`: a missing route file
    /// is created empty (for writes). The TLS trust set-up is the caller's, before threads
    /// start, and only for a table (see [`crate::use_system_ca_bundle`]).
    pub async fn open(
        &self,
        plan: &NumberPlan,
        profile: Profile,
        create_file: bool,
    ) -> Result<Option<OpenedStore>, StoreError> {
        Ok(match self {
            Self::Table(table) => {
                let client = crate::client(profile).await;
                Some(opened(DynamoStore::new(
                    client,
                    table.clone(),
                    plan.clone(),
                )))
            }
            Self::File(path) => Some(opened(open_file(path, plan, create_file)?)),
            Self::None => None,
        })
    }
}

fn open_file(path: &Path, plan: &NumberPlan, create: bool) -> Result<FileStore, StoreError> {
    if create {
        FileStore::open_or_create(path, plan)
    } else {
        FileStore::open(path, plan)
    }
}

fn opened<T: RouteStore + RouteAdmin + 'static>(store: T) -> OpenedStore {
    let store = Arc::new(store);
    OpenedStore {
        description: store.describe(),
        store: store.clone(),
        admin: store,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_environment_and_both_in_the_environment_is_an_error() {
        let env = |t: Option<&'static str>, f: Option<&'static str>| {
            move |name: &str| match name {
                "ROUTES_TABLE" => t.map(str::to_string),
                "ROUTES_FILE" => f.map(str::to_string),
                _ => None,
            }
        };
        let r = |table: Option<&str>, file: Option<&str>, e| {
            StoreSource::resolve_with(table.map(str::to_string), file.map(PathBuf::from), e)
        };
        assert_eq!(
            r(Some("t"), None, env(None, Some("f.json"))),
            Ok(StoreSource::Table("t".into()))
        );
        assert_eq!(
            r(None, Some("g.json"), env(Some("t"), None)),
            Ok(StoreSource::File("g.json".into()))
        );
        assert_eq!(r(None, None, env(Some("t"), Some("f"))), Err(BothStores));
        assert_eq!(
            r(None, None, env(Some("t"), Some(" "))),
            Ok(StoreSource::Table("t".into()))
        );
        assert_eq!(r(None, None, env(None, None)), Ok(StoreSource::None));
    }
}
