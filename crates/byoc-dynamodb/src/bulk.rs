//! Bulk writes (imports): one conditional write per route, history entries in batches.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use byoc_store::{Applied, StoreError};

use crate::{
    key, sdk_error, DynamoStore, BATCH_WRITE_MAX, IMPORT_CONCURRENCY, SK_ROUTE,
    UNPROCESSED_ATTEMPTS,
};

impl DynamoStore {
    /// Writes the planned changes, several at once: each route write is conditional on the
    /// version read (or on the route being absent), and a write whose route moved is left out
    /// and returned as a conflict. The history entries of the writes made follow in batches.
    ///
    /// One conditional request per route rather than transactions of many: a transaction is
    /// all or nothing, and local DynamoDB-API servers (moto) copy the whole table for each one.
    pub(crate) async fn write_planned(
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

/// One change of an import, ready to send.
pub(crate) struct Planned {
    pub(crate) pattern: String,
    /// The route item to put; `None` deletes the route.
    pub(crate) item: Option<HashMap<String, AttributeValue>>,
    /// The version the route must still have; `None`: it must still be absent.
    pub(crate) expected: Option<u64>,
    pub(crate) history: HashMap<String, AttributeValue>,
}

/// The route write of one change, conditional on what was read. `Ok(false)`: the route moved.
pub(crate) async fn write_route(
    client: &Client,
    table: &str,
    change: &Planned,
) -> Result<bool, StoreError> {
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
pub(crate) async fn send_batch(
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
