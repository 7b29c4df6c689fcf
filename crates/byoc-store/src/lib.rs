//! Where routes live. The inbound handler only needs [`RouteStore::resolve`]: one call per
//! incoming call, returning the best route by the precedence rules of `byoc_core::route`.
//!
//! - [`MemoryStore`]: a route table in memory, also what a JSON route file loads into
//!   ([`MemoryStore::from_file`]): the local server's store and a supported small deployment
//!   (a route file bundled with the function).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use byoc_core::route::{parse_route_file, RouteFileError, RouteTable};
use byoc_core::{Address, Match, NumberPlan, Route};

/// Why a store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read route file {path}")]
    Io {
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
}

/// Finds routes for incoming calls.
#[async_trait]
pub trait RouteStore: Send + Sync {
    /// The best route for `address` (exact/literal, then longest prefix, then `*`), if any.
    async fn resolve(&self, address: &Address) -> Result<Option<Match>, StoreError>;

    /// A short description for logs, e.g. `file infra/routes.example.json (3 routes)`.
    fn describe(&self) -> String;
}

/// Routes held in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    table: RouteTable,
    source: String,
}

impl MemoryStore {
    pub fn new(table: RouteTable) -> Self {
        Self {
            source: "memory".to_string(),
            table,
        }
    }

    /// Loads and validates a JSON route file; every invalid route is reported.
    pub fn from_file(path: &Path, plan: &NumberPlan) -> Result<Self, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string(), plan).map_err(|source| {
            StoreError::RouteFile {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Parses route file text; `source` names it in [`RouteStore::describe`].
    pub fn from_json(text: &str, source: &str, plan: &NumberPlan) -> Result<Self, RouteFileError> {
        Ok(Self {
            table: parse_route_file(text, plan)?,
            source: format!("file {source}"),
        })
    }

    pub fn table(&self) -> &RouteTable {
        &self.table
    }

    /// All routes, sorted by pattern.
    pub fn routes(&self) -> Vec<Arc<Route>> {
        self.table.sorted()
    }
}

#[async_trait]
impl RouteStore for MemoryStore {
    async fn resolve(&self, address: &Address) -> Result<Option<Match>, StoreError> {
        Ok(self.table.lookup(address))
    }

    fn describe(&self) -> String {
        format!("{} ({} routes)", self.source, self.table.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn a_route_file_loads_and_resolves() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        write!(
            f,
            r#"{{"routes":[{{"pattern":"+1317*","url":"https://example.com/a"}},{{"pattern":"*","action":"hangup"}}]}}"#
        )
        .unwrap();
        let store = MemoryStore::from_file(f.path(), &NumberPlan::default()).unwrap();
        assert!(store.describe().ends_with("(2 routes)"));
        let a = NumberPlan::default().normalize("+13175551234").unwrap();
        let m = store.resolve(&a).await.unwrap().unwrap();
        assert_eq!(m.route.pattern.key(), "+1317*");
        let a = NumberPlan::default().normalize("+12125551234").unwrap();
        assert_eq!(
            store
                .resolve(&a)
                .await
                .unwrap()
                .unwrap()
                .route
                .pattern
                .key(),
            "*"
        );
    }

    #[test]
    fn bad_files_name_the_path_and_the_problem() {
        let err = MemoryStore::from_file(
            Path::new("/nonexistent/routes.json"),
            &NumberPlan::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/routes.json"));
        let mut f = tempfile::NamedTempFile::new().unwrap();
        write!(f, r#"{{"routes":[{{"pattern":"+1317*","url":"nope"}}]}}"#).unwrap();
        let err = MemoryStore::from_file(f.path(), &NumberPlan::default()).unwrap_err();
        let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(text.starts_with(&format!("route file {} is invalid: ", f.path().display())));
        assert!(text.contains("routes[0]: route `+1317*`: `url`"), "{text}");
    }
}
