//! The DynamoDB route store.
//!
//! # Item design
//! One table, partition key `pattern` (S), sort key `sk` (S):
//! - the route: `sk = "route"`; the route's flat record as attributes (`action`, `url`, `method`,
//!   `number`, `byoc`, `caller_id`, `timeout` (N), `uri`, `text`, `voice`, `language`, `reason`,
//!   `description`) plus `version` (N), `updated_at`, `updated_by`: the same mapping as a JSON
//!   route file record;
//! - its history: `sk = "h#<unix ms, 13 digits>#<version, 10 digits>"` with `at`, `by`, `op`,
//!   `version` and `before` / `after` (the records as JSON). Only `byoc routes history` reads
//!   these; the call path never does.
//! - route items also carry `list_shard` (`0`–`7`), the partition key of the `routes` index
//!   (sort key `pattern`): history items have none, so listings read routes alone;
//! - `pattern = "#meta"`, `sk = "routes-index-ready"`: written once every route carries its
//!   `list_shard` (`byoc table create`, `byoc table migrate`); without it listings scan.
//!
//! A call costs at most one `BatchGetItem` (the exact key, every `prefix*` of the number and `*`:
//! at most 17 keys of the 100 allowed), whatever the size of the table.
//!
//! Writes are conditional: a create requires the pattern to be absent, an update or delete
//! requires the version read, and the route and its history entry are written in one transaction,
//! so two people editing at once never lose an update.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::{future, ProvideCredentials};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType,
    KeysAndAttributes, Put, PutRequest, ScalarAttributeType, TableStatus, TransactWriteItem,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;
use byoc_core::route::{best_match_in, candidate_keys_in, scoped_key};
use byoc_core::{Address, NumberPlan, Route, RouteRecord};
use byoc_store::admin::check_expect;
use byoc_store::{
    now_rfc3339, Applied, Change, Expect, Meta, Resolution, RouteAdmin, RouteStore, StoreError,
    StoredRoute, WriteOp,
};

/// The sort key of a route item.
pub const SK_ROUTE: &str = "route";
/// The index that lists routes without reading their history: only route items carry
/// [`LIST_SHARD`], so the index holds routes alone and `list` costs O(routes).
pub const ROUTES_INDEX: &str = "routes";
/// The index's partition key: one of [`LIST_SHARDS`] values, so that an import's writes spread
/// over several index partitions; its sort key is `pattern`, so a prefix is a key condition.
pub const LIST_SHARD: &str = "list_shard";
/// How many `list_shard` values there are (`0` to `7`).
pub const LIST_SHARDS: u32 = 8;
/// The item that says every route carries its `list_shard` (written by `byoc table create` and
/// `byoc table migrate`): until it exists, the index may lack routes written before it, so a
/// listing scans instead. Not a route (its `sk` is not `route`), never read on the call path.
const INDEX_READY_PK: &str = "#meta";
const INDEX_READY_SK: &str = "routes-index-ready";

/// The `list_shard` of a route key: FNV-1a, stable across versions and processes (the table
/// outlives any one binary).
pub fn list_shard(key: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % LIST_SHARDS).to_string()
}
/// The prefix of history sort keys.
pub const SK_HISTORY_PREFIX: &str = "h#";

/// How the SDK client behaves.
#[derive(Debug, Clone, Copy)]
pub enum Profile {
    /// The call path: every attempt bounded by `budget`, at most one retry.
    CallPath { budget: Duration },
    /// Administration: the SDK's standard timeouts and retries.
    Admin,
}

/// Builds a DynamoDB client from the standard AWS configuration (environment, profile, role;
/// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` point it at a local server).
pub async fn client(profile: Profile) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Profile::CallPath { budget } = profile {
        // Cold-start work the Lambda environment makes unnecessary: Lambda always sets
        // `AWS_REGION` (the first source the default region chain reads) and the execution
        // role's keys in the environment, so the full credentials chain (which creates an STS
        // client and reads profile files) is only built if the environment has no keys.
        if let Some(region) = std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()) {
            loader = loader.region(aws_config::Region::new(region));
        }
        loader = loader
            .credentials_provider(
                EnvThenDefault::<EnvironmentVariableCredentialsProvider>::default(),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(budget)
                    .operation_attempt_timeout(budget)
                    .operation_timeout(budget)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2));
    }
    Client::new(&loader.load().await)
}

/// Where the SDK's TLS stack (rustls-native-certs) reads the trusted root certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustSource {
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` was already set: used as given.
    Environment,
    /// The system CA bundle file alone (`SSL_CERT_FILE` set to it for this process).
    Bundle(std::path::PathBuf),
    /// No bundle file found: the library probes the system locations itself.
    Probe,
}

impl std::fmt::Display for TrustSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Environment => f.write_str("environment"),
            Self::Bundle(path) => write!(f, "{}", path.display()),
            Self::Probe => f.write_str("probe"),
        }
    }
}

/// Makes the SDK trust the system CA bundle file alone, unless the environment already says
/// where the certificates are.
///
/// Without a location, rustls-native-certs reads the bundle file *and* every file of the
/// system certificate directories, which hold the same CAs again (on Debian, one hashed file
/// per CA): on this project's reference machine that was about 4.5 ms of CPU of the inbound
/// cold start. The bundle is what the system's trust tools (`update-ca-certificates`,
/// `update-ca-trust`) generate from the same trust settings, so the trusted set is the same,
/// except for a certificate dropped into a directory by hand without regenerating the bundle.
/// The bundle path is the one openssl-probe finds, as rustls-native-certs itself would.
///
/// Call it before starting any thread: it sets `SSL_CERT_FILE` for this process.
pub fn use_system_ca_bundle() -> TrustSource {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("SSL_CERT_FILE") || set("SSL_CERT_DIR") {
        return TrustSource::Environment;
    }
    match openssl_probe::probe().cert_file {
        Some(file) => {
            std::env::set_var("SSL_CERT_FILE", &file);
            TrustSource::Bundle(file)
        }
        None => TrustSource::Probe,
    }
}

/// The environment's credentials, else the SDK's default chain (built on first use). `env` is
/// the environment provider; tests put fixed credentials there.
#[derive(Debug, Default)]
struct EnvThenDefault<P = EnvironmentVariableCredentialsProvider> {
    env: P,
    chain: tokio::sync::OnceCell<DefaultCredentialsChain>,
}

impl<P: ProvideCredentials> ProvideCredentials for EnvThenDefault<P> {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            match self.env.provide_credentials().await {
                Ok(credentials) => Ok(credentials),
                Err(_) => {
                    let chain = self
                        .chain
                        .get_or_init(|| DefaultCredentialsChain::builder().build())
                        .await;
                    chain.provide_credentials().await
                }
            }
        })
    }
}

/// A client for a local DynamoDB-API server (tests, local development) with dummy credentials,
/// independent of the process environment.
pub fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "local",
        ))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// Routes in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    plan: NumberPlan,
    lookups: Arc<std::sync::atomic::AtomicU64>,
}

/// A short account of an SDK failure: the service's error code and message, or what kept the
/// request from being answered. Never the SDK's debug text (a kilobyte and a half, with the
/// endpoint and connector internals), which the operator gets with `RUST_LOG=debug`.
fn sdk_error<E, R>(table: &str, e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    tracing::debug!(table, error = %DisplayErrorContext(&e), "DynamoDB request failed");
    let reason = match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            if err.code() == Some("ResourceNotFoundException") {
                return StoreError::NoTable {
                    table: table.to_string(),
                };
            }
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => "the service refused the request".to_string(),
            }
        }
        SdkError::TimeoutError(_) => "DynamoDB did not answer in time".to_string(),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            "DynamoDB did not answer in time".to_string()
        }
        SdkError::DispatchFailure(d) if d.is_io() => {
            "cannot connect to DynamoDB (check AWS_REGION / AWS_ENDPOINT_URL_DYNAMODB and the network)"
                .to_string()
        }
        SdkError::DispatchFailure(_) => "the request to DynamoDB could not be sent".to_string(),
        SdkError::ConstructionFailure(_) => {
            "the request could not be built (credentials or region missing?)".to_string()
        }
        SdkError::ResponseError(_) => "DynamoDB's answer could not be read".to_string(),
        _ => "DynamoDB request failed".to_string(),
    };
    StoreError::Unavailable(reason)
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key(pattern: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pattern".to_string(), s(pattern)),
        ("sk".to_string(), s(sk)),
    ])
}

/// A record as item attributes (strings as S, numbers as N).
pub fn record_to_item(record: &RouteRecord) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::new();
    // A RouteRecord is a flat object of strings and numbers, plus JSON objects (schedule,
    // task attributes) that are stored as their text.
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(record) {
        for (k, v) in map {
            let value = match v {
                serde_json::Value::String(text) => s(text),
                serde_json::Value::Number(n) => AttributeValue::N(n.to_string()),
                // Schedules and task attributes: kept as JSON text.
                v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_)) => {
                    s(v.to_string())
                }
                _ => continue,
            };
            item.insert(k, value);
        }
    }
    // The partition key is the route's store key: a scoped route's pattern carries its scope.
    let key = match &record.scope {
        Some(scope) => scoped_key(&record.pattern, scope),
        None => record.pattern.clone(),
    };
    item.insert(LIST_SHARD.to_string(), s(list_shard(&key)));
    item.insert("pattern".into(), s(key));
    item.insert("sk".to_string(), s(SK_ROUTE));
    item
}

/// Item attributes back to a record; `sk` is dropped, anything unexpected is an error.
pub fn item_to_record(item: &HashMap<String, AttributeValue>) -> Result<RouteRecord, String> {
    let mut map = serde_json::Map::new();
    for (k, v) in item {
        if k == "sk" || k == LIST_SHARD {
            continue;
        }
        let value = match v {
            AttributeValue::S(text) => serde_json::Value::String(text.clone()),
            AttributeValue::N(n) => n
                .parse::<u64>()
                .map(serde_json::Value::from)
                .map_err(|_| format!("attribute `{k}`: `{n}` is not a whole number"))?,
            _ => return Err(format!("attribute `{k}` has an unexpected type")),
        };
        map.insert(k.clone(), value);
    }
    // A scoped route's partition key is `pattern@scope`: the record's pattern is the part before.
    if let (Some(serde_json::Value::String(pattern)), Some(serde_json::Value::String(scope))) =
        (map.get("pattern"), map.get("scope"))
    {
        if let Some(bare) = pattern.strip_suffix(&format!("@{scope}")) {
            let bare = bare.to_string();
            map.insert("pattern".into(), bare.into());
        }
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
}

fn stored_from_item(
    item: &HashMap<String, AttributeValue>,
    plan: &NumberPlan,
) -> Result<StoredRoute, StoreError> {
    let pattern = match item.get("pattern") {
        Some(AttributeValue::S(p)) => p.clone(),
        _ => String::new(),
    };
    let corrupt = |reason: String| StoreError::Corrupt {
        pattern: pattern.clone(),
        reason,
    };
    let record = item_to_record(item).map_err(corrupt)?;
    let meta = Meta {
        version: record.version.unwrap_or(1),
        updated_at: record.updated_at.clone().unwrap_or_default(),
        updated_by: record.updated_by.clone().unwrap_or_default(),
    };
    let route = Route::from_record(record, plan).map_err(|e| corrupt(e.to_string()))?;
    Ok(StoredRoute {
        route: Arc::new(route),
        meta,
    })
}

fn history_sk(version: u64) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("{SK_HISTORY_PREFIX}{ms:013}#{version:010}")
}

fn history_item(change: &Change) -> HashMap<String, AttributeValue> {
    let mut item = key(&change.pattern, &history_sk(change.version));
    item.insert("at".into(), s(&change.at));
    item.insert("by".into(), s(&change.by));
    item.insert("op".into(), s(&change.op));
    item.insert(
        "version".into(),
        AttributeValue::N(change.version.to_string()),
    );
    for (name, record) in [("before", &change.before), ("after", &change.after)] {
        if let Some(record) = record {
            // Plain strings and numbers: serializing cannot fail.
            item.insert(
                name.into(),
                s(serde_json::to_string(record).expect("record serializes")),
            );
        }
    }
    item
}

fn change_from_item(item: &HashMap<String, AttributeValue>) -> Option<Change> {
    let text = |k: &str| match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    let record = |k: &str| text(k).and_then(|j| serde_json::from_str(&j).ok());
    Some(Change {
        pattern: text("pattern")?,
        at: text("at").unwrap_or_default(),
        by: text("by").unwrap_or_default(),
        op: text("op").unwrap_or_default(),
        version: match item.get("version") {
            Some(AttributeValue::N(n)) => n.parse().ok()?,
            _ => 0,
        },
        before: record("before"),
        after: record("after"),
    })
}

/// The route to write (None for a delete) and its history entry, given what is stored.
fn plan_change(
    pattern: &str,
    route: Option<Route>,
    before: Option<&StoredRoute>,
    actor: &str,
    at: &str,
    op: &str,
) -> Result<(Option<StoredRoute>, Change), StoreError> {
    let version = match (&route, before) {
        (Some(_), Some(b)) => b.meta.version + 1,
        (Some(_), None) => 1,
        (None, Some(b)) => b.meta.version,
        (None, None) => {
            return Err(StoreError::NotFound {
                pattern: pattern.to_string(),
            })
        }
    };
    let after = route.map(|r| StoredRoute {
        route: Arc::new(r),
        meta: Meta {
            version,
            updated_at: at.to_string(),
            updated_by: actor.to_string(),
        },
    });
    let change = Change {
        pattern: pattern.to_string(),
        at: at.to_string(),
        by: actor.to_string(),
        op: op.to_string(),
        version,
        before: before.map(StoredRoute::to_record),
        after: after.as_ref().map(StoredRoute::to_record),
    };
    Ok((after, change))
}

/// Whether a transaction failed on a condition (someone else wrote first).
fn condition_failed(e: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(t)) => t
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

/// The routes index: `list_shard` + `pattern`, every attribute projected (a listing needs the
/// whole route).
fn routes_index() -> aws_sdk_dynamodb::types::GlobalSecondaryIndex {
    let schema = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("name and type are set")
    };
    aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder()
        .index_name(ROUTES_INDEX)
        .key_schema(schema(LIST_SHARD, KeyType::Hash))
        .key_schema(schema("pattern", KeyType::Range))
        .projection(
            aws_sdk_dynamodb::types::Projection::builder()
                .projection_type(aws_sdk_dynamodb::types::ProjectionType::All)
                .build(),
        )
        .build()
        .expect("name and keys are set")
}

/// Writes per BatchWriteItem call (the API's limit).
const BATCH_WRITE_MAX: usize = 25;
/// Route writes in flight during an import.
const IMPORT_CONCURRENCY: usize = 8;
/// Attempts for unprocessed items before an import gives up.
const UNPROCESSED_ATTEMPTS: u32 = 8;

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, plan: NumberPlan) -> Self {
        Self {
            client,
            table: table.into(),
            plan,
            lookups: Arc::default(),
        }
    }

    /// `BatchGetItem` requests sent by [`RouteStore::resolve`] so far (round trips on the call
    /// path; tests use it to prove the one-round-trip bound and the cache).
    pub fn lookup_round_trips(&self) -> u64 {
        self.lookups.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the table (for local use; production tables come from the SAM template) and
    /// waits until it is active. Returns false if it already existed.
    pub async fn create_table(&self) -> Result<bool, StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set")
        };
        let schema = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("name and type are set")
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pattern"))
            .attribute_definitions(attr("sk"))
            .attribute_definitions(attr(LIST_SHARD))
            .key_schema(schema("pattern", KeyType::Hash))
            .key_schema(schema("sk", KeyType::Range))
            .global_secondary_indexes(routes_index())
            .send()
            .await;
        let created = match created {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_in_use_exception()) =>
            {
                false
            }
            Err(e) => return Err(sdk_error(&self.table, e)),
        };
        for _ in 0..120 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| sdk_error(&self.table, e))?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                if created {
                    self.mark_index_ready().await?;
                }
                return Ok(created);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Unavailable(format!(
            "table {} did not become active",
            self.table
        )))
    }

    /// Brings a table created before the routes index up to date: adds the index if it is
    /// missing (the SAM template adds it on a stack update), waits for it, and gives every
    /// route item its `list_shard`. Returns (index created, route items updated). Safe to run
    /// again: it only touches what is missing.
    pub async fn migrate(&self) -> Result<(bool, usize), StoreError> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| sdk_error(&self.table, e))?;
        let has_index = described
            .table()
            .map(|t| t.global_secondary_indexes())
            .is_some_and(|gsis| gsis.iter().any(|g| g.index_name() == Some(ROUTES_INDEX)));
        if !has_index {
            let create = aws_sdk_dynamodb::types::CreateGlobalSecondaryIndexAction::builder()
                .index_name(ROUTES_INDEX)
                .set_key_schema(Some(routes_index().key_schema().to_vec()))
                .set_projection(routes_index().projection().cloned())
                .build()
                .expect("name, keys and projection are set");
            self.client
                .update_table()
                .table_name(&self.table)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(LIST_SHARD)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .expect("name and type are set"),
                )
                .global_secondary_index_updates(
                    aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
                        .create(create)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| sdk_error(&self.table, e))?;
        }
        // Route items written before the index have no `list_shard` and are not in it.
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :r AND attribute_not_exists(#shard)")
            .expression_attribute_names("#shard", LIST_SHARD)
            .expression_attribute_values(":r", s(SK_ROUTE))
            .projection_expression("pattern")
            .into_paginator()
            .items()
            .send();
        let mut keys = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| sdk_error(&self.table, e))?;
            if let Some(AttributeValue::S(pattern)) = item.get("pattern") {
                keys.push(pattern.clone());
            }
        }
        for pattern in &keys {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pattern, SK_ROUTE)))
                .update_expression("SET #shard = :s")
                .condition_expression("attribute_exists(pattern)")
                .expression_attribute_names("#shard", LIST_SHARD)
                .expression_attribute_values(":s", s(list_shard(pattern)))
                .send()
                .await
                .map_err(|e| sdk_error(&self.table, e))?;
        }
        // The index is built in the background; until it is active a query may miss routes.
        for _ in 0..600 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| sdk_error(&self.table, e))?;
            let active = described
                .table()
                .map(|t| t.global_secondary_indexes())
                .into_iter()
                .flatten()
                .find(|g| g.index_name() == Some(ROUTES_INDEX))
                .is_some_and(|g| {
                    g.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active)
                });
            if active {
                self.mark_index_ready().await?;
                return Ok((!has_index, keys.len()));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(StoreError::Unavailable(format!(
            "the `routes` index of table {} is not active after 10 minutes: run `byoc table migrate` again later",
            self.table
        )))
    }

    /// Every route through the routes index, one query per `list_shard` (history items are not
    /// in the index). `None` when the table has no such index yet.
    async fn list_indexed(
        &self,
        prefix: Option<&str>,
    ) -> Result<Option<Vec<StoredRoute>>, StoreError> {
        let mut routes = Vec::new();
        for shard in 0..LIST_SHARDS {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(ROUTES_INDEX)
                .expression_attribute_names("#shard", LIST_SHARD)
                .expression_attribute_values(":s", s(shard.to_string()));
            query = match prefix {
                Some(p) => query
                    .key_condition_expression("#shard = :s AND begins_with(pattern, :p)")
                    .expression_attribute_values(":p", s(p)),
                None => query.key_condition_expression("#shard = :s"),
            };
            let mut pages = query.into_paginator().items().send();
            while let Some(item) = pages.next().await {
                let item = match item {
                    Ok(item) => item,
                    // DynamoDB says ValidationException ("does not have the specified index"),
                    // some local servers ResourceNotFoundException: either way, if the table
                    // itself is there, the index is what is missing.
                    Err(e)
                        if e.as_service_error().is_some_and(|se| {
                            matches!(
                                se.meta().code(),
                                Some("ValidationException" | "ResourceNotFoundException")
                            )
                        }) && self.table_exists().await? =>
                    {
                        return Ok(None)
                    }
                    Err(e) => return Err(sdk_error(&self.table, e)),
                };
                push_listed(&mut routes, &item, &self.plan);
            }
        }
        Ok(Some(routes))
    }

    /// Whether `byoc table create` / `migrate` has recorded that the index holds every route.
    async fn index_ready(&self) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(INDEX_READY_PK, INDEX_READY_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&self.table, e))?;
        Ok(out.item.is_some())
    }

    async fn mark_index_ready(&self) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(key(INDEX_READY_PK, INDEX_READY_SK)))
            .send()
            .await
            .map_err(|e| sdk_error(&self.table, e))?;
        Ok(())
    }

    async fn table_exists(&self) -> Result<bool, StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match sdk_error(&self.table, e) {
                StoreError::NoTable { .. } => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Every route by scanning the whole table, history included: tables from before the
    /// routes index, until `byoc table migrate` has run.
    async fn list_scanned(&self, prefix: Option<&str>) -> Result<Vec<StoredRoute>, StoreError> {
        let mut scan = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_values(":r", s(SK_ROUTE));
        scan = match prefix {
            Some(p) => scan
                .filter_expression("sk = :r AND begins_with(pattern, :p)")
                .expression_attribute_values(":p", s(p)),
            None => scan.filter_expression("sk = :r"),
        };
        let mut pages = scan.into_paginator().items().send();
        let mut routes = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| sdk_error(&self.table, e))?;
            push_listed(&mut routes, &item, &self.plan);
        }
        Ok(routes)
    }

    /// Deletes the table (tests and local clean-up).
    pub async fn delete_table(&self) -> Result<(), StoreError> {
        self.client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| sdk_error(&self.table, e))?;
        Ok(())
    }

    /// The two items of one change: the route written (or deleted) only if it is still at
    /// the version read (or still absent), and its history entry.
    fn change_items(
        &self,
        pattern: &str,
        current: Option<&StoredRoute>,
        new: Option<&StoredRoute>,
        change: &Change,
    ) -> Vec<TransactWriteItem> {
        let route_write = TransactWriteItem::builder();
        let (condition, values) = match current {
            None => ("attribute_not_exists(pattern)".to_string(), None),
            Some(c) => (
                "version = :v".to_string(),
                Some(HashMap::from([(
                    ":v".to_string(),
                    AttributeValue::N(c.meta.version.to_string()),
                )])),
            ),
        };
        let route_write = match new {
            Some(stored) => route_write.put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(record_to_item(&stored.to_record())))
                    .condition_expression(condition)
                    .set_expression_attribute_values(values)
                    .build()
                    .expect("table and item are set"),
            ),
            None => route_write.delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pattern, SK_ROUTE)))
                    .condition_expression(condition)
                    .set_expression_attribute_values(values)
                    .build()
                    .expect("table and key are set"),
            ),
        };
        let history_write = TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(history_item(change)))
                    .condition_expression("attribute_not_exists(pattern)")
                    .build()
                    .expect("table and item are set"),
            )
            .build();
        vec![route_write.build(), history_write]
    }

    async fn write_change(
        &self,
        pattern: &str,
        current: Option<&StoredRoute>,
        new: Option<&StoredRoute>,
        change: &Change,
    ) -> Result<(), SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>>
    {
        self.client
            .transact_write_items()
            .set_transact_items(Some(self.change_items(pattern, current, new, change)))
            .send()
            .await
            .map(|_| ())
    }

    /// One conditional write, retried on a race when `expect` is `Any`.
    async fn change(
        &self,
        pattern: &str,
        route: Option<Route>,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        for _ in 0..5 {
            let current = self.get(pattern).await?;
            if route.is_some() || current.is_some() {
                check_expect(pattern, expect, current.as_ref().map(|c| c.meta.version))?;
            }
            let op = if route.is_some() { "put" } else { "delete" };
            let (new, change) = plan_change(
                pattern,
                route.clone(),
                current.as_ref(),
                actor,
                &now_rfc3339(),
                op,
            )?;
            match self
                .write_change(pattern, current.as_ref(), new.as_ref(), &change)
                .await
            {
                Ok(()) => return Ok(new.or(current).expect("one side exists")),
                // Someone wrote between our read and our write: re-read; for an expected
                // version the next check reports the mismatch.
                Err(e) if condition_failed(&e) => continue,
                Err(e) => return Err(sdk_error(&self.table, e)),
            }
        }
        Err(StoreError::Conflict {
            pattern: pattern.to_string(),
        })
    }

    /// Writes the planned changes, several at once: each route write is conditional on the
    /// version read (or on the route being absent), and a write whose route moved is left out
    /// and returned as a conflict. The history entries of the writes made follow in batches.
    ///
    /// One conditional request per route rather than transactions of many: a transaction is
    /// all or nothing, and local DynamoDB-API servers (moto) copy the whole table for each one.
    async fn write_planned(
        &self,
        planned: Vec<Planned>,
        handled: usize,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Applied, StoreError> {
        let mut applied = Applied::default();
        let mut histories = Vec::with_capacity(planned.len());
        let mut done = handled;
        let mut pending = planned.into_iter();
        let mut tasks = tokio::task::JoinSet::new();
        // After a failure no new write starts, but the ones under way are awaited, so that
        // the history of every route written is still recorded.
        let mut failure: Option<StoreError> = None;
        loop {
            while tasks.len() < IMPORT_CONCURRENCY && failure.is_none() {
                let Some(change) = pending.next() else {
                    break;
                };
                let (client, table) = (self.client.clone(), self.table.clone());
                tasks.spawn(async move {
                    let written = write_route(&client, &table, &change).await;
                    (change, written)
                });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let (change, written) = match joined {
                Ok(result) => result,
                Err(e) => {
                    failure
                        .get_or_insert(StoreError::Unavailable(format!("import task failed: {e}")));
                    continue;
                }
            };
            match written {
                Ok(true) => {
                    applied.written += 1;
                    histories.push(change.history);
                }
                Ok(false) => applied.conflicts.push(StoreError::Conflict {
                    pattern: change.pattern,
                }),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
            done += 1;
            progress(done);
        }
        // The routes are written: a history entry that cannot be is reported, and the import
        // is not called failed for it (running it again would find nothing to do).
        let mut lost = 0;
        for batch in histories.chunks(BATCH_WRITE_MAX) {
            let requests = batch
                .iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .expect("item is set"),
                        )
                        .build()
                })
                .collect();
            if let Err(e) = send_batch(&self.client, &self.table, requests).await {
                lost += batch.len();
                tracing::error!(error = %e, "import: history entries not written");
            }
        }
        if lost > 0 {
            tracing::error!(
                lost,
                written = applied.written,
                "import: the routes were written but some of their history entries were not"
            );
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(applied),
        }
    }
}

/// A listed item: a route that this version no longer accepts (validation grew stricter, or the
/// item was edited by hand) is named in a warning and left out, so one bad item cannot make the
/// whole table unlistable. (The call path skips it the same way.)
fn push_listed(
    routes: &mut Vec<StoredRoute>,
    item: &HashMap<String, AttributeValue>,
    plan: &NumberPlan,
) {
    match stored_from_item(item, plan) {
        Ok(route) => routes.push(route),
        Err(e) => tracing::warn!(
            error = %e,
            "listing: an invalid route item is left out; fix it with `byoc routes put … --replace` or delete it"
        ),
    }
}

/// One change of an import, ready to send.
struct Planned {
    pattern: String,
    /// The route item to put; `None` deletes the route.
    item: Option<HashMap<String, AttributeValue>>,
    /// The version the route must still have; `None`: it must still be absent.
    expected: Option<u64>,
    history: HashMap<String, AttributeValue>,
}

/// The route write of one change, conditional on what was read. `Ok(false)`: the route moved.
async fn write_route(client: &Client, table: &str, change: &Planned) -> Result<bool, StoreError> {
    let (condition, values) = match change.expected {
        None => ("attribute_not_exists(pattern)", None),
        Some(v) => (
            "version = :v",
            Some(HashMap::from([(
                ":v".to_string(),
                AttributeValue::N(v.to_string()),
            )])),
        ),
    };
    let conditional_failed = |code: Option<&str>| code == Some("ConditionalCheckFailedException");
    match &change.item {
        Some(item) => match client
            .put_item()
            .table_name(table)
            .set_item(Some(item.clone()))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(e.as_service_error().and_then(|se| se.meta().code())) => {
                Ok(false)
            }
            Err(e) => Err(sdk_error(table, e)),
        },
        None => match client
            .delete_item()
            .table_name(table)
            .set_key(Some(key(&change.pattern, SK_ROUTE)))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(e.as_service_error().and_then(|se| se.meta().code())) => {
                Ok(false)
            }
            Err(e) => Err(sdk_error(table, e)),
        },
    }
}

/// One BatchWriteItem, retrying unprocessed items with back-off.
async fn send_batch(
    client: &Client,
    table: &str,
    mut batch: Vec<WriteRequest>,
) -> Result<(), StoreError> {
    for attempt in 0..UNPROCESSED_ATTEMPTS {
        let out = client
            .batch_write_item()
            .request_items(table, batch)
            .send()
            .await
            .map_err(|e| sdk_error(table, e))?;
        batch = out
            .unprocessed_items
            .and_then(|mut m| m.remove(table))
            .unwrap_or_default();
        if batch.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
    }
    Err(StoreError::Unavailable(format!(
        "{} write(s) still unprocessed after {UNPROCESSED_ATTEMPTS} attempts",
        batch.len()
    )))
}

#[async_trait]
impl RouteStore for DynamoStore {
    async fn resolve(
        &self,
        address: &Address,
        scope: Option<&str>,
    ) -> Result<Resolution, StoreError> {
        let mut request = KeysAndAttributes::builder();
        // At most 2 x 18 keys: one BatchGetItem (limit 100).
        for (k, _) in candidate_keys_in(address, scope) {
            request = request.keys(key(&k, SK_ROUTE));
        }
        let mut request = request
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut found: HashMap<String, Arc<Route>> = HashMap::new();
        // Normally one round trip; DynamoDB may return keys unprocessed under throttling.
        for attempt in 0..3u32 {
            self.lookups
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let out = self
                .client
                .batch_get_item()
                .request_items(self.table.clone(), request)
                .send()
                .await
                .map_err(|e| sdk_error(&self.table, e))?;
            for item in out
                .responses
                .as_ref()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                match stored_from_item(item, &self.plan) {
                    Ok(stored) => {
                        found.insert(stored.route.key(), stored.route);
                    }
                    Err(e) => tracing::error!(error = %e, "skipping an invalid route item"),
                }
            }
            match out.unprocessed_keys.and_then(|mut m| m.remove(&self.table)) {
                Some(rest) if !rest.keys().is_empty() => {
                    request = rest;
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                _ => {
                    return Ok(Resolution {
                        matched: best_match_in(address, scope, |k| found.get(k).cloned()),
                        catch_all: found.get("*").cloned(),
                    })
                }
            }
        }
        Err(StoreError::Unavailable(
            "BatchGetItem kept returning unprocessed keys".into(),
        ))
    }

    fn describe(&self) -> String {
        format!("dynamodb table {}", self.table)
    }
}

#[async_trait]
impl RouteAdmin for DynamoStore {
    async fn get(&self, pattern: &str) -> Result<Option<StoredRoute>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pattern, SK_ROUTE)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&self.table, e))?;
        out.item
            .as_ref()
            .map(|i| stored_from_item(i, &self.plan))
            .transpose()
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<StoredRoute>, StoreError> {
        let indexed = if self.index_ready().await? {
            self.list_indexed(prefix).await?
        } else {
            None
        };
        let mut routes = match indexed {
            Some(routes) => routes,
            None => {
                tracing::warn!(
                    table = self.table.as_str(),
                    "the table's `routes` index is missing or not migrated: listing reads every item, history included; run `byoc table migrate` once"
                );
                self.list_scanned(prefix).await?
            }
        };
        routes.sort_by_cached_key(|r| r.route.key());
        Ok(routes)
    }

    async fn put(
        &self,
        route: Route,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        let pattern = route.key();
        self.change(&pattern, Some(route), expect, actor).await
    }

    async fn delete(
        &self,
        pattern: &str,
        expect: Expect,
        actor: &str,
    ) -> Result<StoredRoute, StoreError> {
        self.change(pattern, None, expect, actor).await
    }

    async fn history(&self, pattern: &str) -> Result<Vec<Change>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pattern = :p AND begins_with(sk, :h)")
            .expression_attribute_values(":p", s(pattern))
            .expression_attribute_values(":h", s(SK_HISTORY_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut changes = Vec::new();
        while let Some(item) = pages.next().await {
            if let Some(change) = change_from_item(&item.map_err(|e| sdk_error(&self.table, e))?) {
                changes.push(change);
            }
        }
        Ok(changes)
    }

    async fn apply(
        &self,
        ops: Vec<WriteOp>,
        actor: &str,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Applied, StoreError> {
        let current: HashMap<String, StoredRoute> = self
            .list(None)
            .await?
            .into_iter()
            .map(|r| (r.route.key(), r))
            .collect();
        let at = now_rfc3339();
        let mut early = Vec::new();
        let mut planned = Vec::with_capacity(ops.len());
        for op in ops {
            let (pattern, route, expect) = match op {
                WriteOp::Put(route, expect) => (route.key(), Some(route), expect),
                WriteOp::Delete(pattern, expect) => (pattern, None, expect),
            };
            let now = current.get(&pattern);
            // Already moved on since the caller read it: reported, not written.
            if let Err(e) = check_expect(&pattern, expect, now.map(|c| c.meta.version)) {
                early.push(e);
                continue;
            }
            let (after, change) = plan_change(&pattern, route, now, actor, &at, "import")?;
            planned.push(Planned {
                item: after.map(|a| record_to_item(&a.to_record())),
                expected: now.map(|c| c.meta.version),
                history: history_item(&change),
                pattern,
            });
        }
        progress(early.len());
        let mut applied = self.write_planned(planned, early.len(), progress).await?;
        early.append(&mut applied.conflicts);
        applied.conflicts = early;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn credentials_from_the_environment_never_build_the_default_chain() {
        let provider = EnvThenDefault {
            env: aws_sdk_dynamodb::config::Credentials::new("AKID", "secret", None, None, "env"),
            chain: tokio::sync::OnceCell::new(),
        };
        let credentials = provider.provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKID");
        // The chain (an STS client, profile files) is cold-start work Lambda never needs.
        assert!(provider.chain.get().is_none());
    }

    #[test]
    fn records_map_to_items_and_back() {
        let record: RouteRecord = serde_json::from_str(
            r#"{"pattern":"+1317*","action":"dial","number":"+13175550000","timeout":20,"version":3,"updated_by":"ana","description":"x & y"}"#,
        )
        .unwrap();
        let item = record_to_item(&record);
        assert_eq!(item["timeout"], AttributeValue::N("20".into()));
        assert_eq!(item["version"], AttributeValue::N("3".into()));
        assert_eq!(item["sk"], s(SK_ROUTE));
        assert_eq!(item_to_record(&item).unwrap(), record);
        let mut bad = item.clone();
        bad.insert("color".into(), s("red"));
        assert!(item_to_record(&bad)
            .unwrap_err()
            .contains("unknown field `color`"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Every valid route, with store metadata, survives the item mapping unchanged.
        #[test]
        fn routes_round_trip_through_dynamodb_items(
            route in byoc_core::strategy::route(),
            version in proptest::option::of(1u64..u64::MAX / 2),
            updated_by in proptest::option::of("[a-z@.]{1,20}"),
        ) {
            let mut record = route.to_record();
            record.version = version;
            record.updated_at = version.map(|_| "2026-11-27T05:00:00.000Z".to_string());
            record.updated_by = updated_by;
            let back = item_to_record(&record_to_item(&record)).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&back, &record);
            let plan = NumberPlan::default();
            prop_assert_eq!(Route::from_record(back, &plan).unwrap(), route);
        }
    }
}

#[cfg(test)]
mod shards {
    use super::*;

    /// The shard of a key is stored in the table: it must never change between versions.
    #[test]
    fn list_shards_are_stable_and_spread() {
        assert_eq!(list_shard("*"), "5");
        assert_eq!(list_shard("+13175551234"), list_shard("+13175551234"));
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            seen.insert(list_shard(&format!("+1317555{i:04}")));
        }
        assert_eq!(seen.len(), LIST_SHARDS as usize);
    }
}
