//! Where routes live.
//!
//! - [`RouteStore`]: what a call needs, one [`RouteStore::resolve`] per call.
//! - [`RouteAdmin`]: what people need (get, list, put, delete with expected versions, history,
//!   bulk apply for imports).
//! - [`MemoryStore`]: routes in memory; [`FileStore`]: a JSON route file (the local server's
//!   store, and a supported small deployment bundled with the function).
//! - [`CachedStore`]: the in-process cache and time budget in front of a store on the call path,
//!   so a slow or failing store never leaves a call without an answer.
//!
//! The DynamoDB implementation lives in the `byoc-dynamodb` crate.

pub mod admin;
pub mod cache;
#[cfg(any(test, feature = "testing"))]
pub mod contract;
pub mod file;
pub mod memory;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use byoc_core::route_file::RouteFileError;
use byoc_core::{Address, Match, Route};

pub use admin::{
    AdminError, Applied, Change, Edit, Expect, ImportPlan, PlannedEdit, RouteAdmin, StoredRoute,
    WriteOp,
};
pub use cache::{CacheConfig, CachedStore, Lookup, StoreFailure};
pub use file::FileStore;
pub use memory::MemoryStore;

/// Why a store could not answer or refused a change.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read route file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write route file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("route file {path} is invalid")]
    RouteFile {
        path: PathBuf,
        #[source]
        source: RouteFileError,
    },
    #[error("route store unavailable: {0}")]
    Unavailable(String),
    #[error("table {table} does not exist in this region")]
    NoTable { table: String },
    #[error("route `{pattern}` already exists (version {version})")]
    Exists { pattern: String, version: u64 },
    #[error("route `{pattern}` does not exist")]
    NotFound { pattern: String },
    #[error("route `{pattern}` is at version {actual}, not the expected {expected}: someone changed it; re-read it and retry")]
    VersionMismatch {
        pattern: String,
        expected: u64,
        actual: u64,
    },
    #[error("route `{pattern}` changed while it was being written; retry")]
    Conflict { pattern: String },
    #[error("stored route `{pattern}` is invalid: {reason}")]
    Corrupt { pattern: String, reason: String },
}

/// What a lookup found: the best match, and the catch-all route if the store saw it (kept by the
/// cache as the answer of last resort when the store later fails).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub matched: Option<Match>,
    pub catch_all: Option<Arc<Route>>,
}

/// Finds routes for incoming calls.
#[async_trait]
pub trait RouteStore: Send + Sync {
    /// The best route for a call to `address` (exact/literal, then longest prefix, then `*`), if
    /// any. With a `scope` (the call's SIP domain), a route scoped to it wins over the unscoped
    /// route of the same pattern.
    async fn resolve(
        &self,
        address: &Address,
        scope: Option<&str>,
    ) -> Result<Resolution, StoreError>;

    /// The same answer at once, for a store that holds its routes in memory (a route file):
    /// then the cache has nothing to add (no round trip to save, no failure or time-out to
    /// cover), and the call skips its single-flight map, timer and back-off. `None` (the
    /// default): ask [`RouteStore::resolve`].
    fn resolve_in_memory(&self, _address: &Address, _scope: Option<&str>) -> Option<Resolution> {
        None
    }

    /// A short description for logs, e.g. `file infra/routes.example.json (3 routes)`.
    fn describe(&self) -> String;

    /// What identifies the routes this store answers with, for comparing two deployments
    /// (`byoc twilio connect` and `check`: is the fallback region's deployment on the same
    /// routes?): the table for DynamoDB (a global table has one name in every region), a hash
    /// of every route for routes held in memory. Default: [`RouteStore::describe`].
    fn routes_id(&self) -> String {
        self.describe()
    }
}

/// FNV-1a, 64 bits: a stable fingerprint (the same in every process and version), not a
/// defence against anyone.
pub(crate) fn fnv1a(bytes: impl IntoIterator<Item = u8>, mut hash: u64) -> u64 {
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Now, as RFC 3339 with milliseconds (`updated_at`, history).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
