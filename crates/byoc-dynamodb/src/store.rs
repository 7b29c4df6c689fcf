//! [`DynamoStore`]: lookups, admin reads and conditional writes, the routes index.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType,
    KeysAndAttributes, Put, ScalarAttributeType, TableStatus, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use byoc_core::route::{best_match_in, candidate_keys_in};
use byoc_core::{Address, NumberPlan, Route};
use byoc_store::admin::check_expect;
use byoc_store::{
    now_rfc3339, Applied, Change, Expect, Resolution, RouteAdmin, RouteStore, StoreError,
    StoredRoute, WriteOp,
};

use crate::bulk::Planned;
use crate::{
    change_from_item, history_item, key, list_shard, plan_change, record_to_item, s,
    shown_from_item, stored_from_item, INDEX_READY_PK, INDEX_READY_SK, LIST_SHARD, LIST_SHARDS,
    ROUTES_INDEX, SK_HISTORY_PREFIX, SK_ROUTE,
};

/// Routes in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
    plan: NumberPlan,
    lookups: Arc<std::sync::atomic::AtomicU64>,
}

/// A short account of an SDK failure: the service's error code and message, or what kept the
/// request from being answered. Never the SDK's debug text (a kilobyte and a half, with the
/// endpoint and connector internals), which the operator gets with `RUST_LOG=debug`.
pub(crate) fn sdk_error<E, R>(table: &str, e: SdkError<E, R>) -> StoreError
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

/// Whether a transaction failed on a condition (someone else wrote first).
pub(crate) fn condition_failed(
    e: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(t)) => t
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

/// Writes an import plans and sends at a time (their items read, written, their history
/// recorded) before the next.
const APPLY_CHUNK: usize = 1000;

/// Items a listing asks each shard for at a time.
const LIST_PAGE: usize = 500;

/// BatchGetItem's limit on keys per request.
const BATCH_GET_MAX: usize = 100;

/// The routes index: `list_shard` + `pattern`, every attribute projected (a listing needs the
/// whole route).
pub(crate) fn routes_index() -> aws_sdk_dynamodb::types::GlobalSecondaryIndex {
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
pub(crate) const BATCH_WRITE_MAX: usize = 25;
/// Route writes in flight during an import.
pub(crate) const IMPORT_CONCURRENCY: usize = 8;
/// Attempts for unprocessed items before an import gives up.
pub(crate) const UNPROCESSED_ATTEMPTS: u32 = 8;

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

    /// Every route through the routes index (history items are not in the index), in key
    /// order. `None` when the table has no such index yet.
    async fn list_indexed(
        &self,
        prefix: Option<&str>,
    ) -> Result<Option<Vec<StoredRoute>>, StoreError> {
        let mut routes = Vec::new();
        let indexed = self
            .each_indexed(prefix, None, None, &mut |r| {
                routes.push(r);
                true
            })
            .await?;
        Ok(indexed.then_some(routes))
    }

    /// Every route through the routes index in key order, a page per shard at a time: the
    /// shards' queries (each sorted by pattern) merged. `false` when the table has no such
    /// index yet (nothing was handed to `each`).
    async fn each_indexed(
        &self,
        prefix: Option<&str>,
        after: Option<&str>,
        page: Option<usize>,
        each: &mut (dyn FnMut(StoredRoute) -> bool + Send),
    ) -> Result<bool, StoreError> {
        // A cursor inside or past the prefix's keys: start after it (a key condition has one
        // condition on the sort key), and stop where the prefix's keys end.
        let after = after.filter(|a| prefix.is_none_or(|p| *a >= p));
        if let (Some(a), Some(p)) = (after, prefix) {
            if !a.starts_with(p) {
                // Past every key of the prefix: nothing to read.
                return Ok(true);
            }
        }
        let mut streams = Vec::with_capacity(LIST_SHARDS as usize);
        for shard in 0..LIST_SHARDS {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(ROUTES_INDEX)
                .expression_attribute_names("#shard", LIST_SHARD)
                .expression_attribute_values(":s", s(shard.to_string()));
            query = match (after, prefix) {
                (Some(a), _) => query
                    .key_condition_expression("#shard = :s AND pattern > :a")
                    .expression_attribute_values(":a", s(a)),
                (None, Some(p)) => query
                    .key_condition_expression("#shard = :s AND begins_with(pattern, :p)")
                    .expression_attribute_values(":p", s(p)),
                (None, None) => query.key_condition_expression("#shard = :s"),
            };
            // Small pages: eight shards' pages are held at once, and a 1 MB page of items is
            // several times that decoded. A console page can come from one shard alone: no
            // shard is asked for more than it.
            let items = page.unwrap_or(LIST_PAGE).clamp(1, LIST_PAGE);
            query = query.limit(i32::try_from(items).unwrap_or(1));
            streams.push(query.into_paginator().items().send());
        }
        // Each shard's first page, asked for at once: the merge needs them all to begin.
        let firsts: Vec<_> = streams
            .into_iter()
            .map(|mut stream| {
                tokio::spawn(async move {
                    let first = stream.next().await;
                    (stream, first)
                })
            })
            .collect();
        let mut streams = Vec::with_capacity(firsts.len());
        let mut pending_firsts = Vec::with_capacity(firsts.len());
        for handle in firsts {
            let (stream, first) = handle
                .await
                .map_err(|e| StoreError::Unavailable(format!("listing task failed: {e}")))?;
            streams.push(stream);
            pending_firsts.push(Some(first));
        }
        // The head of each shard: its next readable route, keyed.
        let mut heads: Vec<Option<(String, StoredRoute)>> = Vec::with_capacity(streams.len());
        for (i, stream) in streams.iter_mut().enumerate() {
            let mut head = None;
            loop {
                let next = match pending_firsts[i].take() {
                    Some(first) => first,
                    None => stream.next().await,
                };
                match next {
                    None => break,
                    Some(Ok(item)) => {
                        let mut one = Vec::with_capacity(1);
                        push_listed(&mut one, &item, &self.plan);
                        if let Some(route) = one.pop() {
                            head = Some((route.route.key(), route));
                            break;
                        }
                    }
                    Some(Err(e)) => {
                        let missing = e.as_service_error().is_some_and(|se| {
                            matches!(
                                se.meta().code(),
                                Some("ValidationException" | "ResourceNotFoundException")
                            )
                        });
                        if missing && heads.is_empty() && self.table_exists().await? {
                            return Ok(false);
                        }
                        return Err(sdk_error(&self.table, e));
                    }
                }
            }
            heads.push(head);
        }
        loop {
            let Some(i) = heads
                .iter()
                .enumerate()
                .filter_map(|(i, h)| h.as_ref().map(|(k, _)| (i, k)))
                .min_by(|a, b| a.1.cmp(b.1))
                .map(|(i, _)| i)
            else {
                return Ok(true);
            };
            let Some((key, route)) = heads[i].take() else {
                return Ok(true);
            };
            if prefix.is_some_and(|p| !key.starts_with(p)) {
                // Keys are merged in order: past the prefix's keys, none is left to hand over.
                return Ok(true);
            }
            if !each(route) {
                return Ok(true);
            }
            loop {
                match streams[i].next().await {
                    None => break,
                    Some(Ok(item)) => {
                        let mut one = Vec::with_capacity(1);
                        push_listed(&mut one, &item, &self.plan);
                        if let Some(route) = one.pop() {
                            heads[i] = Some((route.route.key(), route));
                            break;
                        }
                    }
                    Some(Err(e)) => return Err(sdk_error(&self.table, e)),
                }
            }
        }
    }

    /// Whether `byoc table create` / `migrate` has recorded that the index holds every route.
    async fn index_ready(&self) -> Result<bool, StoreError> {
        Ok(self.item(INDEX_READY_PK, INDEX_READY_SK).await?.is_some())
    }

    /// One item, read consistently.
    async fn item(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&self.table, e))?;
        Ok(out.item)
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
            // An unreadable item without a version (see `unreadable_current`).
            Some(c) if c.meta.version == 0 => (
                "attribute_exists(pattern) AND attribute_not_exists(version)".to_string(),
                None,
            ),
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

    /// The route items of these keys as they are now (consistent reads, a BatchGetItem per
    /// hundred keys); an item this version cannot read comes as its stand-in.
    async fn current_items(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, StoredRoute>, StoreError> {
        let mut found = HashMap::with_capacity(keys.len());
        for batch in keys.chunks(BATCH_GET_MAX) {
            let mut request = KeysAndAttributes::builder().consistent_read(true);
            for k in batch {
                request = request.keys(key(k, SK_ROUTE));
            }
            let mut pending = Some(
                request
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            );
            let mut attempt = 0;
            while let Some(ask) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ask)
                    .send()
                    .await
                    .map_err(|e| sdk_error(&self.table, e))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let mut one = Vec::with_capacity(1);
                    push_listed(&mut one, &item, &self.plan);
                    if let Some(stored) = one.pop() {
                        found.insert(stored.route.key(), stored);
                    }
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if pending.is_some() {
                    attempt += 1;
                    if attempt >= crate::UNPROCESSED_ATTEMPTS {
                        return Err(StoreError::Unavailable(format!(
                            "reads still unprocessed after {attempt} attempts"
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
                }
            }
        }
        Ok(found)
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
            // An item this version cannot read comes as its stand-in, with its own version:
            // it can still be replaced or deleted, the only way to fix it from here.
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
}

/// A listed item: a route that this version no longer accepts (validation grew stricter, or the
/// item was edited by hand) is listed as its flagged stand-in, so one bad item can neither make
/// the whole table unlistable nor hide; an item whose very key is unusable is named in a
/// warning and left out.
pub(crate) fn push_listed(
    routes: &mut Vec<StoredRoute>,
    item: &HashMap<String, AttributeValue>,
    plan: &NumberPlan,
) {
    match shown_from_item(item, plan) {
        Ok(route) => routes.push(route),
        Err(e) => tracing::warn!(
            error = %e,
            "listing: a route item with an unusable key is left out; delete it with the AWS console or CLI"
        ),
    }
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
        // Items that fail validation (written by another tool or an older version), by key.
        let mut invalid: HashMap<String, String> = HashMap::new();
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
                    Err(StoreError::Corrupt { pattern, reason }) => {
                        invalid.insert(pattern, reason);
                    }
                    Err(e) => tracing::error!(error = %e, "an unreadable route item"),
                }
            }
            match out.unprocessed_keys.and_then(|mut m| m.remove(&self.table)) {
                Some(rest) if !rest.keys().is_empty() => {
                    request = rest;
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                _ => {
                    let matched = best_match_in(address, scope, |k| found.get(k).cloned());
                    // An invalid item that would win over the match must not hand its calls
                    // to a broader route as if that had matched: the store cannot answer
                    // for this call, and the cache answers as for any store failure.
                    if let Some((pattern, reason)) =
                        outranking_invalid(address, scope, matched.as_ref(), &invalid)
                    {
                        return Err(StoreError::Corrupt { pattern, reason });
                    }
                    return Ok(Resolution {
                        matched,
                        catch_all: found.get("*").cloned(),
                    });
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

/// The most specific invalid item among a call's candidate keys that ranks above `matched`
/// (or any, when nothing valid matched).
fn outranking_invalid(
    address: &Address,
    scope: Option<&str>,
    matched: Option<&byoc_core::Match>,
    invalid: &HashMap<String, String>,
) -> Option<(String, String)> {
    if invalid.is_empty() {
        return None;
    }
    let candidates = candidate_keys_in(address, scope);
    let rank = |key: &str| candidates.iter().position(|(k, _)| k == key);
    let matched_rank = matched
        .and_then(|m| rank(&m.route.key()))
        .unwrap_or(usize::MAX);
    invalid
        .iter()
        .filter_map(|(key, reason)| rank(key).map(|i| (i, key, reason)))
        .filter(|(i, _, _)| *i < matched_rank)
        .min_by_key(|(i, _, _)| *i)
        .map(|(_, key, reason)| (key.clone(), reason.clone()))
}

#[async_trait]
impl RouteAdmin for DynamoStore {
    async fn get(&self, pattern: &str) -> Result<Option<StoredRoute>, StoreError> {
        self.item(pattern, SK_ROUTE)
            .await?
            .as_ref()
            .map(|i| shown_from_item(i, &self.plan))
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

    async fn each(
        &self,
        prefix: Option<&str>,
        after: Option<&str>,
        page: Option<usize>,
        each: &mut (dyn FnMut(StoredRoute) -> bool + Send),
    ) -> Result<(), StoreError> {
        if self.index_ready().await? && self.each_indexed(prefix, after, page, each).await? {
            return Ok(());
        }
        // No index yet: the whole-table read `list` falls back to, and its warning.
        byoc_store::admin::walk(self.list(prefix).await?, after, each);
        Ok(())
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

    fn apply_chunk(&self) -> Option<usize> {
        Some(APPLY_CHUNK)
    }

    async fn apply(
        &self,
        ops: Vec<WriteOp>,
        actor: &str,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Applied, StoreError> {
        // A chunk at a time: its routes' current items read (BatchGetItem), its writes and
        // their history made, then the next: a million-route import never holds the table or
        // a million planned items.
        let at = now_rfc3339();
        let mut result = Applied::default();
        let mut handled = 0;
        let mut ops = ops.into_iter().peekable();
        while ops.peek().is_some() {
            let chunk: Vec<WriteOp> = ops.by_ref().take(APPLY_CHUNK).collect();
            let mut keys: Vec<String> = chunk.iter().map(WriteOp::key).collect();
            // BatchGetItem refuses a key asked twice (two ops on one route).
            keys.sort_unstable();
            keys.dedup();
            let current = self.current_items(&keys).await?;
            let mut early = Vec::new();
            let mut planned = Vec::with_capacity(chunk.len());
            for op in chunk {
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
            handled += early.len();
            progress(handled);
            let writes = planned.len();
            let mut applied = self.write_planned(planned, handled, progress).await?;
            handled += writes;
            result.written += applied.written;
            result.conflicts.append(&mut early);
            result.conflicts.append(&mut applied.conflicts);
        }
        Ok(result)
    }
}
