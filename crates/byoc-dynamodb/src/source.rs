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
//!
//! `DYNAMODB_ENDPOINT_URL` points a table at a local DynamoDB-API server (the template declares
//! it empty so `sam local invoke --env-vars` can set it). Under `sam local` (`AWS_SAM_LOCAL`),
//! the template's unresolved `!Ref RoutesTable` (the literal `RoutesTable`) with no endpoint is
//! never asked for: [`StoreSource::SamPlaceholder`].
//!
//! On the call path, `ROUTES_REPLICA_REGION` names another region holding a replica of the
//! table (a global table has the same name in every region): a key the home table cannot answer
//! is read there before any degraded answer ([`ReplicaSource`]; `DYNAMODB_REPLICA_ENDPOINT_URL`
//! points it at a local server).

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
    /// A DynamoDB table; `endpoint` (`DYNAMODB_ENDPOINT_URL`) points the client at a local
    /// DynamoDB-API server instead of AWS's regional endpoint.
    Table {
        name: String,
        endpoint: Option<String>,
    },
    File(PathBuf),
    None,
    /// `sam local` without `--env-vars`: `ROUTES_TABLE` is the template's `!Ref RoutesTable`,
    /// which SAM leaves as the literal logical ID. Never asked for: it would send the call path
    /// to AWS with whatever credentials SAM found. Calls get the default route.
    SamPlaceholder,
}

/// What `sam local` puts in `ROUTES_TABLE` for `!Ref RoutesTable`.
const SAM_PLACEHOLDER: &str = "RoutesTable";

/// Both stores named in the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("both ROUTES_TABLE and ROUTES_FILE are set: set one (a flag such as --table or --routes also decides)")]
pub struct BothStores;

/// The replica of the routes table the call path may read when the home table fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSource {
    /// Its region (`ROUTES_REPLICA_REGION`).
    pub region: String,
    /// A local stand-in (`DYNAMODB_REPLICA_ENDPOINT_URL`).
    pub endpoint: Option<String>,
}

/// A replica setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    #[error("ROUTES_REPLICA_REGION `{0}` is not an AWS region name (such as us-west-2)")]
    BadRegion(String),
    #[error("ROUTES_REPLICA_REGION is this function's own region ({0}): name the region of another replica of the table")]
    SameRegion(String),
    #[error("DYNAMODB_REPLICA_ENDPOINT_URL is set but ROUTES_REPLICA_REGION is not: set both, or neither")]
    EndpointWithoutRegion,
    #[error("ROUTES_REPLICA_REGION is set but the routes are not in a DynamoDB table (ROUTES_TABLE or --table): only a table has a replica")]
    NotATable,
}

impl ReplicaSource {
    /// The replica named by the environment, read through `env`, if any.
    pub fn resolve(env: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ReplicaError> {
        let set = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let endpoint = set("DYNAMODB_REPLICA_ENDPOINT_URL");
        let Some(region) = set("ROUTES_REPLICA_REGION") else {
            return match endpoint {
                Some(_) => Err(ReplicaError::EndpointWithoutRegion),
                None => Ok(None),
            };
        };
        if !is_region_name(&region) {
            return Err(ReplicaError::BadRegion(region));
        }
        // The same region is the same table, unless a local stand-in says otherwise.
        if endpoint.is_none() && set("AWS_REGION").as_deref() == Some(region.as_str()) {
            return Err(ReplicaError::SameRegion(region));
        }
        Ok(Some(Self { region, endpoint }))
    }
}

/// `us-west-2`, `ap-southeast-1`, `us-gov-west-1`: letters, dash-separated words, a number.
fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

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
        table_flag: Option<String>,
        file_flag: Option<PathBuf>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, BothStores> {
        let set = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let endpoint = set(env("DYNAMODB_ENDPOINT_URL"));
        let table = |name: String| Self::Table {
            name,
            endpoint: endpoint.clone(),
        };
        match (set(table_flag), file_flag) {
            (Some(name), _) => return Ok(table(name)),
            (None, Some(file)) => return Ok(Self::File(file)),
            (None, None) => {}
        }
        match (set(env("ROUTES_TABLE")), set(env("ROUTES_FILE"))) {
            (Some(_), Some(_)) => Err(BothStores),
            (Some(name), None)
                if name == SAM_PLACEHOLDER
                    && endpoint.is_none()
                    && set(env("AWS_SAM_LOCAL")).is_some() =>
            {
                Ok(Self::SamPlaceholder)
            }
            (Some(name), None) => Ok(table(name)),
            (None, Some(file)) => Ok(Self::File(PathBuf::from(file))),
            (None, None) => Ok(Self::None),
        }
    }

    pub fn is_table(&self) -> bool {
        matches!(self, Self::Table { .. })
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
            Self::Table { name, endpoint } => {
                let client = crate::client(profile, endpoint.as_deref()).await;
                Some(opened(DynamoStore::new(client, name.clone(), plan.clone())))
            }
            Self::File(path) => Some(opened(open_file(path, plan, create_file)?)),
            Self::None | Self::SamPlaceholder => None,
        })
    }
}

/// The call path's store, opened and warmed up: what the inbound function answers from.
pub struct CallStore {
    pub store: Arc<CachedStore>,
    /// What the store is, for logs (`DynamoDB table routes`, `route file r.json (12 routes)`).
    pub description: String,
    /// The replica read when the home table fails, for logs (`DynamoDB table routes in
    /// us-west-2`), if any.
    pub replica: Option<String>,
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
    ///
    /// `replica`: read when the home table fails (a table only; the client is created here,
    /// and connects on its first read).
    pub async fn open_for_calls(
        &self,
        plan: &NumberPlan,
        cache: CacheConfig,
        replica: Option<&ReplicaSource>,
    ) -> Result<CallStore, OpenError> {
        self.open_for_calls_or(plan, cache, None, replica).await
    }

    /// [`StoreSource::open_for_calls`], with `none` answering when no store is named (`byoc
    /// serve`'s embedded example) instead of an empty store.
    pub async fn open_for_calls_or(
        &self,
        plan: &NumberPlan,
        cache: CacheConfig,
        none: Option<OpenedStore>,
        replica: Option<&ReplicaSource>,
    ) -> Result<CallStore, OpenError> {
        let started = Instant::now();
        let profile = Profile::CallPath {
            budget: cache.budget,
        };
        let replica = match (self, replica) {
            (_, None) => None,
            (Self::Table { name, .. }, Some(replica)) => {
                let client =
                    crate::client_in(profile, replica.endpoint.as_deref(), Some(&replica.region))
                        .await;
                Some((
                    DynamoStore::new(client, name.clone(), plan.clone()),
                    replica.region.as_str(),
                ))
            }
            // `sam local` without --env-vars never reaches AWS, replica included.
            (Self::SamPlaceholder, Some(_)) => None,
            (Self::File(_) | Self::None, Some(_)) => return Err(ReplicaError::NotATable.into()),
        };
        let (store, description): (Arc<dyn RouteStore>, String) = match self
            .open(plan, profile, false)
            .await?
            .or(none)
        {
            Some(opened) => (opened.store, opened.description),
            None => {
                match self {
                    Self::SamPlaceholder => tracing::warn!(
                        "ROUTES_TABLE is the template's unresolved `!Ref RoutesTable` (sam local): \
                         nothing is sent to AWS and every call gets the default route; give \
                         ROUTES_TABLE and DYNAMODB_ENDPOINT_URL (a local DynamoDB-API server) \
                         with --env-vars, see events/README.md"
                    ),
                    _ => tracing::warn!(
                        "neither ROUTES_TABLE nor ROUTES_FILE is set: every call gets the default route"
                    ),
                }
                let empty = MemoryStore::new();
                let description = empty.describe();
                (Arc::new(empty), description)
            }
        };
        let open_ms = started.elapsed().as_millis() as u64;
        let mut cached = CachedStore::new(store, cache);
        let mut replica_description = None;
        if let Some((store, region)) = replica {
            replica_description = Some(format!("{} in {region}", store.describe()));
            cached = cached.with_replica(Arc::new(store));
        }
        let store = Arc::new(cached);
        let warm = store
            .lookup(&Address::Literal("byoc-warmup".to_string()), None)
            .await;
        Ok(CallStore {
            store,
            description,
            replica: replica_description,
            open_ms,
            warmup: warm.degraded.map_or("ok", |f| f.as_str()),
        })
    }
}

/// Why the call path's store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Replica(#[from] ReplicaError),
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
    use std::path::PathBuf;

    use super::{BothStores, StoreSource};

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
        let table = |name: &str| StoreSource::Table {
            name: name.into(),
            endpoint: None,
        };
        assert_eq!(
            r(Some("t"), None, env(None, Some("f.json"))),
            Ok(table("t"))
        );
        assert_eq!(
            r(None, Some("g.json"), env(Some("t"), None)),
            Ok(StoreSource::File("g.json".into()))
        );
        assert_eq!(r(None, None, env(Some("t"), Some("f"))), Err(BothStores));
        assert_eq!(r(None, None, env(Some("t"), Some(" "))), Ok(table("t")));
        assert_eq!(r(None, None, env(None, None)), Ok(StoreSource::None));
    }

    #[test]
    fn the_replica_setting_is_checked() {
        use super::{ReplicaError, ReplicaSource};
        fn r(vars: &[(&str, &str)]) -> Result<Option<ReplicaSource>, ReplicaError> {
            ReplicaSource::resolve(|name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            })
        }
        assert_eq!(r(&[]), Ok(None));
        assert_eq!(r(&[("ROUTES_REPLICA_REGION", " ")]), Ok(None));
        assert_eq!(
            r(&[
                ("ROUTES_REPLICA_REGION", "us-west-2"),
                ("AWS_REGION", "us-east-1")
            ]),
            Ok(Some(ReplicaSource {
                region: "us-west-2".into(),
                endpoint: None
            }))
        );
        assert!(r(&[("ROUTES_REPLICA_REGION", "us-gov-west-1")]).is_ok());
        for bad in [
            "uswest2",
            "us-west",
            "US-WEST-2",
            "us-west-2a",
            "us--2",
            "u-west-2",
        ] {
            assert_eq!(
                r(&[("ROUTES_REPLICA_REGION", bad)]),
                Err(ReplicaError::BadRegion(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            r(&[
                ("ROUTES_REPLICA_REGION", "us-east-1"),
                ("AWS_REGION", "us-east-1")
            ]),
            Err(ReplicaError::SameRegion("us-east-1".into()))
        );
        // A local stand-in may share the region name.
        assert!(r(&[
            ("ROUTES_REPLICA_REGION", "us-east-1"),
            ("AWS_REGION", "us-east-1"),
            ("DYNAMODB_REPLICA_ENDPOINT_URL", "http://127.0.0.1:9"),
        ])
        .is_ok());
        assert_eq!(
            r(&[("DYNAMODB_REPLICA_ENDPOINT_URL", "http://127.0.0.1:9")]),
            Err(ReplicaError::EndpointWithoutRegion)
        );
    }

    #[test]
    fn sam_locals_unresolved_table_ref_is_never_a_table() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let r = |vars| StoreSource::resolve(None, None, env(vars));
        let sam = &[("AWS_SAM_LOCAL", "true"), ("ROUTES_TABLE", "RoutesTable")];
        assert_eq!(r(sam), Ok(StoreSource::SamPlaceholder));
        // A real deployment whose table happens to have that name is still a table.
        assert!(r(&[("ROUTES_TABLE", "RoutesTable")]).unwrap().is_table());
        // With a local endpoint, or a real table named, sam local reads it.
        assert_eq!(
            r(&[
                ("AWS_SAM_LOCAL", "true"),
                ("ROUTES_TABLE", "routes"),
                ("DYNAMODB_ENDPOINT_URL", " http://127.0.0.1:8000 "),
            ]),
            Ok(StoreSource::Table {
                name: "routes".into(),
                endpoint: Some("http://127.0.0.1:8000".into())
            })
        );
        assert!(
            r(&[("AWS_SAM_LOCAL", "true"), ("ROUTES_TABLE", "prod-routes")])
                .unwrap()
                .is_table()
        );
    }
}
