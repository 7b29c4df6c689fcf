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
use std::time::Instant;

use byoc_core::{Address, NumberPlan};
use byoc_store::{
    CacheConfig, CachedStore, FileStore, MemoryStore, RouteAdmin, RouteStore, StoreError,
};

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
    /// The source named by `table` / `file` (flags), else by the environment, read through
    /// `env` (the process's is read in one place, `byoc_web::config::var`; tests pass a map).
    pub fn resolve(
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

/// The call path's store, opened and warmed up: what the inbound function answers from.
pub struct CallStore {
    pub store: Arc<CachedStore>,
    /// Creating the client (or loading the file), in milliseconds.
    pub open_ms: u64,
    /// `ok`, or why the warm-up lookup did not get an answer from the store.
    pub warmup: &'static str,
}

impl StoreSource {
    /// Opens the store for calls: every attempt bounded by the cache's budget; behind the cache
    /// and its fallbacks; [`StoreSource::None`] is an empty store (every call gets the default,
    /// said once in a warning).
    ///
    /// Then one warm-up lookup: it learns the `*` route for degraded answers and, for DynamoDB,
    /// sets up the connection and TLS during init. On an on-demand cold start the caller waits
    /// for init too, so this trades one extra round trip for doing the handshake while init has
    /// a full vCPU (a 128 MB function gets a fraction of one once invoked); with provisioned
    /// concurrency it is free. Its outcome does not stop the function.
    pub async fn open_for_calls(
        &self,
        plan: &NumberPlan,
        cache: CacheConfig,
    ) -> Result<CallStore, StoreError> {
        let started = Instant::now();
        let profile = Profile::CallPath {
            budget: cache.budget,
        };
        let store: Arc<dyn RouteStore> = match self.open(plan, profile, false).await? {
            Some(opened) => opened.store,
            None => {
                tracing::warn!(
                    "neither ROUTES_TABLE nor ROUTES_FILE is set: every call gets the default route"
                );
                Arc::new(MemoryStore::new())
            }
        };
        let open_ms = started.elapsed().as_millis() as u64;
        let store = Arc::new(CachedStore::new(store, cache));
        let warm = store
            .lookup(&Address::Literal("byoc-warmup".to_string()), None)
            .await;
        Ok(CallStore {
            store,
            open_ms,
            warmup: warm.degraded.map_or("ok", |f| f.as_str()),
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
            StoreSource::resolve(table.map(str::to_string), file.map(PathBuf::from), e)
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
