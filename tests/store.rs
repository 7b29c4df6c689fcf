//! The DynamoDB store: the store contract of `byoc_store::contract` (one test per clause), the
//! cost of a lookup in round trips, imports racing edits, and DynamoDB's rarer answers.

use std::sync::Arc;

use byoc_core::route::MatchKind;
use byoc_core::{NumberPlan, Route, RouteRecord};
use byoc_dynamodb::DynamoStore;
use byoc_e2e::{unique_table, Dynamo};
use byoc_store::{Expect, RouteAdmin, RouteStore, StoreError, WriteOp};

fn route(json: &str) -> Route {
    let record: RouteRecord = serde_json::from_str(json).unwrap();
    Route::from_record(record, &NumberPlan::default()).unwrap()
}

fn redirect(pattern: &str, url: &str) -> Route {
    route(&format!(r#"{{"pattern":"{pattern}","url":"{url}"}}"#))
}

fn addr(s: &str) -> byoc_core::Address {
    NumberPlan::default().normalize(s).unwrap()
}

/// The store contract (`byoc_store::contract`), one test per clause, each on a new table of a
/// shared local DynamoDB-API server. The memory and route file stores run the same clauses in
/// `cargo test -p byoc-store`.
mod dynamodb_contract {
    use std::sync::Arc;

    use byoc_core::NumberPlan;
    use byoc_dynamodb::DynamoStore;
    use byoc_e2e::{unique_table, Dynamo};
    use byoc_store::contract::Store;

    byoc_store::store_contract_tests!(async {
        let dynamo = Dynamo::shared();
        let store = DynamoStore::new(
            dynamo.client(),
            unique_table("contract"),
            NumberPlan::default(),
        );
        assert!(store.create_table().await.unwrap());
        let store: Arc<dyn Store> = Arc::new(store);
        (store, dynamo)
    });
}

/// Creating a table that exists reports it, and changes nothing.
#[tokio::test]
async fn a_second_table_create_reports_the_table_exists() {
    let dynamo = Dynamo::shared();
    let store = DynamoStore::new(
        dynamo.client(),
        unique_table("twice"),
        NumberPlan::default(),
    );
    assert!(store.create_table().await.unwrap());
    store
        .put(redirect("*", "https://x/kept"), Expect::Absent, "ana")
        .await
        .unwrap();
    assert!(!store.create_table().await.unwrap());
    assert_eq!(store.get("*").await.unwrap().unwrap().meta.version, 1);
}

#[tokio::test]
async fn dynamodb_lookups_cost_one_round_trip_cold_and_none_warm() {
    let dynamo = Dynamo::shared();
    let store = DynamoStore::new(
        dynamo.client(),
        unique_table("trips"),
        NumberPlan::default(),
    );
    store.create_table().await.unwrap();
    // Many routes, several prefixes of the same number: still one request per cold lookup.
    let mut ops: Vec<WriteOp> = (0..500)
        .map(|i| {
            WriteOp::Put(
                redirect(&format!("+1212555{i:04}"), "https://x/"),
                Expect::Any,
            )
        })
        .collect();
    for p in [
        "+1*",
        "+13*",
        "+131*",
        "+1317*",
        "+13175*",
        "+131755*",
        "+1317555*",
        "*",
    ] {
        ops.push(WriteOp::Put(redirect(p, "https://x/p"), Expect::Any));
    }
    store.apply(ops, "t", &|_| {}).await.unwrap();

    let store = Arc::new(store);
    let cached = byoc_store::CachedStore::new(store.clone(), byoc_store::CacheConfig::default());
    let before = store.lookup_round_trips();
    let l = cached.lookup(&addr("+13175559876"), None).await;
    assert_eq!(l.matched.unwrap().route.pattern.key(), "+1317555*");
    assert_eq!(
        store.lookup_round_trips() - before,
        1,
        "one round trip when cold"
    );
    for _ in 0..10 {
        cached.lookup(&addr("+13175559876"), None).await;
    }
    assert_eq!(store.lookup_round_trips() - before, 1, "none when warm");
    let l = cached.lookup(&addr("+12125550042"), None).await;
    assert_eq!(l.matched.unwrap().kind, MatchKind::Exact);
    assert_eq!(store.lookup_round_trips() - before, 2);
}

/// A change made while an import is writing is reported as a conflict, never
/// silently overwritten. The edit is made from the progress callback, after the import has
/// read the routes and while its writes are under way, so the interleaving is certain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edit_during_an_import_is_not_overwritten() {
    let dynamo = Dynamo::shared();
    let table = unique_table("race");
    let store = DynamoStore::new(dynamo.client(), table.clone(), NumberPlan::default());
    store.create_table().await.unwrap();
    let keys: Vec<String> = (0..60).map(|i| format!("+1212555{i:04}")).collect();
    let first: Vec<WriteOp> = keys
        .iter()
        .map(|k| WriteOp::Put(redirect(k, "https://x/v1"), Expect::Absent))
        .collect();
    assert_eq!(store.apply(first, "t", &|_| {}).await.unwrap().written, 60);

    // The import expects version 1 everywhere; the last route is edited mid-import.
    let ops: Vec<WriteOp> = keys
        .iter()
        .map(|k| WriteOp::Put(redirect(k, "https://x/import"), Expect::Version(1)))
        .collect();
    let endpoint = dynamo.endpoint();
    let last = keys.last().unwrap().clone();
    let edited = std::sync::atomic::AtomicBool::new(false);
    let applied = store
        .apply(ops, "importer", &|n| {
            if n == 5 && !edited.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let (endpoint, table, last) = (endpoint.clone(), table.clone(), last.clone());
                // A second writer, on its own runtime, while the import waits here.
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Runtime::new().unwrap();
                    rt.block_on(async {
                        let other = DynamoStore::new(
                            byoc_dynamodb::local_client(&endpoint),
                            table,
                            NumberPlan::default(),
                        );
                        other
                            .put(redirect(&last, "https://x/edit"), Expect::Version(1), "ana")
                            .await
                            .unwrap();
                    })
                })
                .join()
                .unwrap();
            }
        })
        .await
        .unwrap();
    assert!(edited.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(applied.written, 59);
    assert_eq!(applied.conflicts.len(), 1, "{:?}", applied.conflicts);
    assert!(applied.conflicts[0].to_string().contains(&last));
    let kept = store.get(&last).await.unwrap().unwrap();
    assert_eq!(
        kept.route.to_record().url.as_deref(),
        Some("https://x/edit")
    );
    assert_eq!(kept.meta.updated_by, "ana");
}

/// DynamoDB's rarer answers, made to happen by a proxy in front of the server: a lookup whose
/// keys come back unprocessed retries them (and gives up, as unavailable, if they keep coming
/// back); a write that loses a race between its read and its transaction re-reads and either
/// reports the other writer's version or, for `Expect::Any`, writes on top of it.
#[tokio::test]
async fn dynamodb_unprocessed_keys_and_lost_races_are_handled() {
    use byoc_e2e::dynamo_proxy::{DynamoProxy, Fault};
    let dynamo = Dynamo::shared();
    let proxy = DynamoProxy::start(&dynamo.endpoint()).await;
    let store = DynamoStore::new(
        byoc_dynamodb::local_client(&proxy.endpoint()),
        unique_table("faults"),
        NumberPlan::default(),
    );
    store.create_table().await.unwrap();
    for (pattern, url) in [("+13175551234", "https://x/exact"), ("*", "https://x/any")] {
        store
            .put(redirect(pattern, url), Expect::Absent, "t")
            .await
            .unwrap();
    }

    // The first request reads one key; the rest (the exact number among them) come back
    // unprocessed and are asked for again.
    proxy.set(Fault::SplitNextBatchGet);
    let before = store.lookup_round_trips();
    let found = store.resolve(&addr("+13175551234"), None).await.unwrap();
    assert_eq!(found.matched.unwrap().route.key(), "+13175551234");
    assert_eq!(found.catch_all.unwrap().key(), "*");
    assert_eq!(proxy.count("BatchGetItem"), 2);
    assert_eq!(store.lookup_round_trips() - before, 2);

    // Keys that never get processed: a bounded number of tries, then "unavailable" (which the
    // cache answers with its degraded route), never a wrong "no route".
    proxy.set(Fault::StarveBatchGet);
    let err = store
        .resolve(&addr("+13175551234"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(reason) if reason.contains("unprocessed")),
        "{err}"
    );
    assert_eq!(proxy.count("BatchGetItem"), 3);

    // Lost race with an expected version: the other writer's version is reported.
    proxy.set(Fault::RaceNextTransaction);
    let err = store
        .put(redirect("*", "https://x/mine"), Expect::Version(1), "me")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionMismatch {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(proxy.count("TransactWriteItems"), 1);

    // Lost race with `Expect::Any` (an import's replace): re-read and written on top.
    proxy.set(Fault::RaceNextTransaction);
    let written = store
        .put(redirect("*", "https://x/mine"), Expect::Any, "me")
        .await
        .unwrap();
    assert_eq!(written.meta.version, 4);
    assert_eq!(proxy.count("TransactWriteItems"), 2);
    let listed = store.get("*").await.unwrap().unwrap();
    assert_eq!(listed.meta.version, 4);
    assert_eq!(
        listed.route.to_record().url.as_deref(),
        Some("https://x/mine")
    );
}
