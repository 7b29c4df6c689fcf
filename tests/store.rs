//! One store contract, run against the memory, route file and DynamoDB stores alike; and a
//! concurrency test: eight writers editing the same routes with expected versions lose nothing.

use std::sync::Arc;

use byoc_core::route::MatchKind;
use byoc_core::{NumberPlan, Route, RouteRecord};
use byoc_dynamodb::DynamoStore;
use byoc_e2e::{unique_table, Moto};
use byoc_store::{Expect, FileStore, MemoryStore, RouteAdmin, RouteStore, StoreError, WriteOp};

trait Store: RouteStore + RouteAdmin {}
impl<T: RouteStore + RouteAdmin> Store for T {}

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

/// The behaviour every store must have.
async fn contract(store: &dyn Store) {
    let a = "ana";
    // Create, then refuse a second create.
    let v1 = store
        .put(redirect("+1317*", "https://x/1"), Expect::Absent, a)
        .await
        .unwrap();
    assert_eq!(v1.meta.version, 1);
    assert_eq!(v1.meta.updated_by, "ana");
    assert!(!v1.meta.updated_at.is_empty());
    let err = store
        .put(redirect("+1317*", "https://x/dup"), Expect::Absent, a)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Exists { version: 1, .. }),
        "{err}"
    );

    // Update with the expected version; a stale version is refused and changes nothing.
    let v2 = store
        .put(redirect("+1317*", "https://x/2"), Expect::Version(1), "bo")
        .await
        .unwrap();
    assert_eq!(v2.meta.version, 2);
    let err = store
        .put(redirect("+1317*", "https://x/lost"), Expect::Version(1), a)
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
    let err = store
        .put(redirect("+1999*", "https://x/"), Expect::Version(1), a)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let v3 = store
        .put(redirect("+1317*", "https://x/3"), Expect::Any, a)
        .await
        .unwrap();
    assert_eq!(v3.meta.version, 3);

    // Reads.
    let got = store.get("+1317*").await.unwrap().unwrap();
    assert_eq!(got.meta.version, 3);
    assert_eq!(got.route.to_record().url.as_deref(), Some("https://x/3"));
    assert!(store.get("+1999*").await.unwrap().is_none());
    store
        .put(redirect("*", "https://x/default"), Expect::Absent, a)
        .await
        .unwrap();
    store
        .put(
            route(r#"{"pattern":"+13175551234","action":"dial","number":"+13175550000","byoc":"BY0123456789abcdef0123456789abcdef"}"#),
            Expect::Absent,
            a,
        )
        .await
        .unwrap();
    store
        .put(
            route(r#"{"pattern":"support","action":"hangup"}"#),
            Expect::Absent,
            a,
        )
        .await
        .unwrap();
    let all: Vec<String> = store
        .list(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.route.pattern.key())
        .collect();
    assert_eq!(all, vec!["*", "+1317*", "+13175551234", "support"]);
    let some: Vec<String> = store
        .list(Some("+1317"))
        .await
        .unwrap()
        .iter()
        .map(|r| r.route.pattern.key())
        .collect();
    assert_eq!(some, vec!["+1317*", "+13175551234"]);

    // Scoped routes: stored under `pattern@domain`, beside the unscoped route of the pattern.
    const DOMAIN: &str = "tenant-a.sip.twilio.com";
    store
        .put(
            route(
                r#"{"pattern":"+1317*","scope":"Tenant-A.sip.twilio.com","url":"https://x/tenant-a"}"#,
            ),
            Expect::Absent,
            a,
        )
        .await
        .unwrap();
    let scoped_key = format!("+1317*@{DOMAIN}");
    let got = store.get(&scoped_key).await.unwrap().unwrap();
    assert_eq!(got.route.scope.as_deref(), Some(DOMAIN));
    assert_eq!(got.route.key(), scoped_key);
    assert_eq!(
        store.get("+1317*").await.unwrap().unwrap().route.scope,
        None
    );
    let url = |m: Option<byoc_core::Match>| m.unwrap().route.to_record().url.unwrap();
    // In its domain the scoped route wins for its pattern; an unscoped exact route still beats
    // a scoped prefix; other domains and unscoped calls never see it.
    let r = store
        .resolve(&addr("+13175559999"), Some(DOMAIN))
        .await
        .unwrap();
    assert_eq!(url(r.matched), "https://x/tenant-a");
    let r = store
        .resolve(&addr("+13175559999"), Some("other.sip.twilio.com"))
        .await
        .unwrap();
    assert_eq!(url(r.matched), "https://x/3");
    let r = store.resolve(&addr("+13175559999"), None).await.unwrap();
    assert_eq!(url(r.matched), "https://x/3");
    let r = store
        .resolve(&addr("+13175551234"), Some(DOMAIN))
        .await
        .unwrap();
    assert_eq!(r.matched.unwrap().route.pattern.key(), "+13175551234");
    store.delete(&scoped_key, Expect::Any, a).await.unwrap();
    let r = store
        .resolve(&addr("+13175559999"), Some(DOMAIN))
        .await
        .unwrap();
    assert_eq!(url(r.matched), "https://x/3");

    // Lookups follow the precedence rules and report the catch-all.
    let r = store
        .resolve(&addr("sip:+13175551234@h"), None)
        .await
        .unwrap();
    let m = r.matched.unwrap();
    assert_eq!(
        (m.route.pattern.key().as_str(), m.kind),
        ("+13175551234", MatchKind::Exact)
    );
    assert_eq!(r.catch_all.unwrap().pattern.key(), "*");
    let m = store
        .resolve(&addr("3175559999"), None)
        .await
        .unwrap()
        .matched
        .unwrap();
    assert_eq!(m.kind, MatchKind::Prefix { digits: 4 });
    let m = store
        .resolve(&addr("+442071234567"), None)
        .await
        .unwrap()
        .matched
        .unwrap();
    assert_eq!(m.kind, MatchKind::CatchAll);
    let m = store
        .resolve(&addr("support"), None)
        .await
        .unwrap()
        .matched
        .unwrap();
    assert_eq!(m.kind, MatchKind::Literal);

    // Deletes take the expected version too.
    let err = store
        .delete("+1317*", Expect::Version(2), a)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch { .. }), "{err}");
    let removed = store
        .delete("+1317*", Expect::Version(3), "cy")
        .await
        .unwrap();
    assert_eq!(removed.meta.version, 3);
    assert!(store.get("+1317*").await.unwrap().is_none());
    let err = store.delete("+1317*", Expect::Any, a).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    // History: who, when, before and after, oldest first.
    let history = store.history("+1317*").await.unwrap();
    let ops: Vec<(&str, u64, &str)> = history
        .iter()
        .map(|c| (c.op.as_str(), c.version, c.by.as_str()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("put", 1, "ana"),
            ("put", 2, "bo"),
            ("put", 3, "ana"),
            ("delete", 3, "cy")
        ]
    );
    assert!(history[0].before.is_none());
    assert_eq!(
        history[1].before.as_ref().unwrap().url.as_deref(),
        Some("https://x/1")
    );
    assert_eq!(
        history[1].after.as_ref().unwrap().url.as_deref(),
        Some("https://x/2")
    );
    assert!(history[3].after.is_none());

    // Bulk apply (imports): puts and deletes, counted, recorded as `import`.
    let counted = std::sync::atomic::AtomicUsize::new(0);
    let done = store
        .apply(
            vec![
                WriteOp::Put(redirect("+44*", "https://x/uk"), Expect::Any),
                WriteOp::Put(redirect("*", "https://x/default2"), Expect::Any),
                WriteOp::Delete("support".into(), Expect::Any),
            ],
            "importer",
            &|n| counted.store(n, std::sync::atomic::Ordering::SeqCst),
        )
        .await
        .unwrap();
    assert_eq!(done.written, 3);
    assert!(done.conflicts.is_empty(), "{:?}", done.conflicts);
    assert_eq!(counted.load(std::sync::atomic::Ordering::SeqCst), 3);
    // Conditional: a write whose route is not as the import read it is reported, not made;
    // the others go through.
    let done = store
        .apply(
            vec![
                WriteOp::Put(redirect("+44*", "https://x/stale"), Expect::Version(99)),
                WriteOp::Put(redirect("+33*", "https://x/fr"), Expect::Absent),
                WriteOp::Put(redirect("*", "https://x/again"), Expect::Absent),
                WriteOp::Delete("nope".into(), Expect::Version(1)),
            ],
            "importer",
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(done.written, 1);
    let conflicts: Vec<String> = done.conflicts.iter().map(|e| e.to_string()).collect();
    assert_eq!(conflicts.len(), 3, "{conflicts:?}");
    assert!(
        conflicts
            .iter()
            .any(|c| c.contains("`+44*` is at version 1, not the expected 99")),
        "{conflicts:?}"
    );
    assert!(
        conflicts.iter().any(|c| c.contains("`*` already exists")),
        "{conflicts:?}"
    );
    assert!(
        conflicts
            .iter()
            .any(|c| c.contains("`nope` does not exist")),
        "{conflicts:?}"
    );
    assert_eq!(
        store
            .get("+44*")
            .await
            .unwrap()
            .unwrap()
            .route
            .to_record()
            .url
            .as_deref(),
        Some("https://x/uk")
    );
    store.delete("+33*", Expect::Any, "importer").await.unwrap();
    let star = store.get("*").await.unwrap().unwrap();
    assert_eq!(star.meta.version, 2);
    assert_eq!(star.meta.updated_by, "importer");
    assert!(store.get("support").await.unwrap().is_none());
    assert_eq!(
        store.history("*").await.unwrap().last().unwrap().op,
        "import"
    );
    assert_eq!(store.list(None).await.unwrap().len(), 3);
}

/// Eight writers increment a counter kept in each of two routes' descriptions, each write with
/// the version it read; conflicts are retried. Every write must survive.
async fn concurrent_edits(store: Arc<dyn Store>) {
    const WRITERS: usize = 8;
    const WRITES: usize = 5;
    for pattern in ["+1212*", "+1646*"] {
        store
            .put(
                route(&format!(
                    r#"{{"pattern":"{pattern}","action":"say","text":"0"}}"#
                )),
                Expect::Absent,
                "setup",
            )
            .await
            .unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let mut conflicts = 0;
            for i in 0..WRITES {
                let pattern = if (writer + i) % 2 == 0 {
                    "+1212*"
                } else {
                    "+1646*"
                };
                loop {
                    let current = store.get(pattern).await.unwrap().unwrap();
                    let count: u64 = current.route.to_record().text.unwrap().parse().unwrap();
                    let next = route(&format!(
                        r#"{{"pattern":"{pattern}","action":"say","text":"{}"}}"#,
                        count + 1
                    ));
                    match store
                        .put(
                            next,
                            Expect::Version(current.meta.version),
                            &format!("w{writer}"),
                        )
                        .await
                    {
                        Ok(_) => break,
                        Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => {
                            conflicts += 1
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            conflicts
        });
    }
    let mut conflicts = 0;
    while let Some(result) = tasks.join_next().await {
        conflicts += result.unwrap();
    }
    let mut total = 0;
    for pattern in ["+1212*", "+1646*"] {
        let stored = store.get(pattern).await.unwrap().unwrap();
        let count: u64 = stored.route.to_record().text.unwrap().parse().unwrap();
        // Each successful write added exactly one: none was lost.
        assert_eq!(stored.meta.version, count + 1, "{pattern}");
        assert_eq!(
            store.history(pattern).await.unwrap().len() as u64,
            count + 1
        );
        total += count;
    }
    assert_eq!(total as usize, WRITERS * WRITES);
    eprintln!(
        "concurrent edits: {} writes, {conflicts} conflicts retried",
        WRITERS * WRITES
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_contract() {
    contract(&MemoryStore::new()).await;
    concurrent_edits(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.json");
    let store = FileStore::open_or_create(&path, &NumberPlan::default()).unwrap();
    contract(&store).await;
    // What was written is a valid route file that loads with the same routes and versions.
    let again = FileStore::open(&path, &NumberPlan::default()).unwrap();
    assert_eq!(
        again.list(None).await.unwrap(),
        store.list(None).await.unwrap()
    );
    assert_eq!(again.get("*").await.unwrap().unwrap().meta.version, 2);
    // Two handles on the same file see each other's writes and still refuse stale versions.
    let path2 = dir.path().join("concurrent.json");
    let store = Arc::new(FileStore::open_or_create(&path2, &NumberPlan::default()).unwrap());
    concurrent_edits(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_store_contract() {
    let moto = Moto::start();
    let store = DynamoStore::new(
        moto.client(),
        unique_table("contract"),
        NumberPlan::default(),
    );
    assert!(store.create_table().await.unwrap());
    assert!(
        !store.create_table().await.unwrap(),
        "a second create reports the table exists"
    );
    contract(&store).await;

    let store = DynamoStore::new(
        moto.client(),
        unique_table("concurrent"),
        NumberPlan::default(),
    );
    store.create_table().await.unwrap();
    concurrent_edits(Arc::new(store)).await;
}

#[tokio::test]
async fn dynamodb_lookups_cost_one_round_trip_cold_and_none_warm() {
    let moto = Moto::start();
    let store = DynamoStore::new(moto.client(), unique_table("trips"), NumberPlan::default());
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

/// Field finding 14: a change made while an import is writing is reported as a conflict, never
/// silently overwritten. The edit is made from the progress callback, after the import has
/// read the routes and while its writes are under way, so the interleaving is certain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edit_during_an_import_is_not_overwritten() {
    let moto = Moto::start();
    let table = unique_table("race");
    let store = DynamoStore::new(moto.client(), table.clone(), NumberPlan::default());
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
    let endpoint = moto.endpoint();
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
    let moto = Moto::start();
    let proxy = DynamoProxy::start(&moto.endpoint()).await;
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
