//! The contract every route store keeps, one clause per function, each on a store it is given
//! empty (feature `testing`). [`store_contract_tests!`](crate::store_contract_tests) makes one
//! test per clause for a store: this crate runs them for the memory and route file stores,
//! the end-to-end tests for DynamoDB.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use byoc_core::route::MatchKind;
use byoc_core::{Address, Match, NumberPlan, Route, RouteRecord};

use crate::{Expect, RouteAdmin, RouteStore, StoreError, WriteOp};

/// A store in both its roles.
pub trait Store: RouteStore + RouteAdmin {}
impl<T: RouteStore + RouteAdmin> Store for T {}

/// Every clause, by name, in the order [`store_contract_tests!`](crate::store_contract_tests)
/// writes them.
pub const CLAUSES: [&str; 9] = [
    "creates_once",
    "updates_need_the_version_read",
    "reads_and_lists_in_key_order",
    "scoped_routes_win_in_their_domain_only",
    "lookups_follow_the_precedence",
    "deletes_need_the_version_read",
    "history_records_every_change",
    "bulk_apply_counts_writes_and_reports_conflicts",
    "concurrent_edits_lose_nothing",
];

fn route(json: &str) -> Route {
    let record: RouteRecord = serde_json::from_str(json).expect("a route record");
    Route::from_record(record, &NumberPlan::default()).expect("a valid route")
}

fn redirect(pattern: &str, url: &str) -> Route {
    route(&format!(r#"{{"pattern":"{pattern}","url":"{url}"}}"#))
}

fn addr(s: &str) -> Address {
    NumberPlan::default().normalize(s).expect("an address")
}

fn url(m: Option<Match>) -> String {
    m.expect("a match")
        .route
        .to_record()
        .url
        .unwrap_or_default()
}

async fn put(store: &dyn Store, route: Route, expect: Expect, by: &str) -> u64 {
    store
        .put(route, expect, by)
        .await
        .expect("the write")
        .meta
        .version
}

/// The routes most clauses start from: a prefix at version 3, an exact number, a literal and
/// the catch-all.
async fn seed(store: &dyn Store) {
    put(
        store,
        redirect("+1317*", "https://x/1"),
        Expect::Absent,
        "ana",
    )
    .await;
    put(
        store,
        redirect("+1317*", "https://x/2"),
        Expect::Version(1),
        "bo",
    )
    .await;
    put(store, redirect("+1317*", "https://x/3"), Expect::Any, "ana").await;
    put(
        store,
        redirect("*", "https://x/default"),
        Expect::Absent,
        "ana",
    )
    .await;
    put(
        store,
        route(r#"{"pattern":"+13175551234","action":"dial","number":"+13175550000","byoc":"BY0123456789abcdef0123456789abcdef"}"#),
        Expect::Absent,
        "ana",
    )
    .await;
    put(
        store,
        route(r#"{"pattern":"support","action":"hangup"}"#),
        Expect::Absent,
        "ana",
    )
    .await;
}

/// A create writes version 1 with who and when; a second create of the pattern is refused.
pub async fn creates_once(store: &dyn Store) {
    let v1 = store
        .put(redirect("+1317*", "https://x/1"), Expect::Absent, "ana")
        .await
        .unwrap();
    assert_eq!(v1.meta.version, 1);
    assert_eq!(v1.meta.updated_by, "ana");
    assert!(!v1.meta.updated_at.is_empty());
    let err = store
        .put(redirect("+1317*", "https://x/dup"), Expect::Absent, "ana")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Exists { version: 1, .. }),
        "{err}"
    );
    assert_eq!(
        url_of(store, "+1317*").await,
        "https://x/1",
        "the refused create changed nothing"
    );
}

async fn url_of(store: &dyn Store, key: &str) -> String {
    let stored = store.get(key).await.unwrap().expect("the route");
    stored.route.to_record().url.unwrap_or_default()
}

/// An update names the version it read: a stale one is refused and changes nothing; a route
/// that does not exist cannot be updated; `Any` writes whatever the version.
pub async fn updates_need_the_version_read(store: &dyn Store) {
    put(
        store,
        redirect("+1317*", "https://x/1"),
        Expect::Absent,
        "ana",
    )
    .await;
    let v2 = put(
        store,
        redirect("+1317*", "https://x/2"),
        Expect::Version(1),
        "bo",
    )
    .await;
    assert_eq!(v2, 2);
    let err = store
        .put(
            redirect("+1317*", "https://x/lost"),
            Expect::Version(1),
            "ana",
        )
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
    assert_eq!(url_of(store, "+1317*").await, "https://x/2");
    let err = store
        .put(redirect("+1999*", "https://x/"), Expect::Version(1), "ana")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let v3 = put(store, redirect("+1317*", "https://x/3"), Expect::Any, "ana").await;
    assert_eq!(v3, 3);
}

/// `get` finds a route by key (or nothing); `list` gives every route in key order, or those
/// whose key starts with a prefix.
pub async fn reads_and_lists_in_key_order(store: &dyn Store) {
    seed(store).await;
    let got = store.get("+1317*").await.unwrap().unwrap();
    assert_eq!(got.meta.version, 3);
    assert_eq!(got.route.to_record().url.as_deref(), Some("https://x/3"));
    assert!(store.get("+1999*").await.unwrap().is_none());
    let keys = |routes: Vec<crate::StoredRoute>| -> Vec<String> {
        routes.iter().map(|r| r.route.pattern.key()).collect()
    };
    assert_eq!(
        keys(store.list(None).await.unwrap()),
        ["*", "+1317*", "+13175551234", "support"]
    );
    assert_eq!(
        keys(store.list(Some("+1317")).await.unwrap()),
        ["+1317*", "+13175551234"]
    );

    // `each`: the same order, one at a time, from after a cursor, stopping when asked.
    let each = |prefix: Option<&'static str>, after: Option<&'static str>, take: usize| async move {
        let mut seen = Vec::new();
        store
            .each(prefix, after, None, &mut |r| {
                seen.push(r.route.pattern.key());
                seen.len() < take
            })
            .await
            .unwrap();
        seen
    };
    assert_eq!(
        each(None, None, 99).await,
        ["*", "+1317*", "+13175551234", "support"]
    );
    assert_eq!(
        each(None, Some("+1317*"), 99).await,
        ["+13175551234", "support"]
    );
    assert_eq!(each(None, None, 2).await, ["*", "+1317*"]);
    assert_eq!(
        each(Some("+1317"), None, 99).await,
        ["+1317*", "+13175551234"]
    );
    // A cursor inside the prefix's keys, before them, and past them.
    assert_eq!(
        each(Some("+1317"), Some("+1317*"), 99).await,
        ["+13175551234"]
    );
    assert_eq!(
        each(Some("+1317"), Some("*"), 99).await,
        ["+1317*", "+13175551234"]
    );
    assert!(each(Some("+1317"), Some("+2"), 99).await.is_empty());
}

/// A scoped route is stored under `pattern@domain` beside the unscoped route of its pattern;
/// in its domain it wins for that pattern (an exact unscoped route still beats it); other
/// domains and unscoped calls never see it.
pub async fn scoped_routes_win_in_their_domain_only(store: &dyn Store) {
    const DOMAIN: &str = "tenant-a.sip.twilio.com";
    seed(store).await;
    put(
        store,
        route(
            r#"{"pattern":"+1317*","scope":"Tenant-A.sip.twilio.com","url":"https://x/tenant-a"}"#,
        ),
        Expect::Absent,
        "ana",
    )
    .await;
    let scoped_key = format!("+1317*@{DOMAIN}");
    let got = store.get(&scoped_key).await.unwrap().unwrap();
    assert_eq!(got.route.scope.as_deref(), Some(DOMAIN));
    assert_eq!(got.route.key(), scoped_key);
    assert_eq!(
        store.get("+1317*").await.unwrap().unwrap().route.scope,
        None
    );
    let resolve = |number: &'static str, scope: Option<&'static str>| async move {
        store.resolve(&addr(number), scope).await.unwrap().matched
    };
    assert_eq!(
        url(resolve("+13175559999", Some(DOMAIN)).await),
        "https://x/tenant-a"
    );
    assert_eq!(
        url(resolve("+13175559999", Some("other.sip.twilio.com")).await),
        "https://x/3"
    );
    assert_eq!(url(resolve("+13175559999", None).await), "https://x/3");
    let exact = resolve("+13175551234", Some(DOMAIN)).await.unwrap();
    assert_eq!(exact.route.pattern.key(), "+13175551234");
    store.delete(&scoped_key, Expect::Any, "ana").await.unwrap();
    assert_eq!(
        url(resolve("+13175559999", Some(DOMAIN)).await),
        "https://x/3"
    );
}

/// Exact numbers, then the longest prefix, then `*`; literals match themselves; a lookup also
/// reports the catch-all it saw.
pub async fn lookups_follow_the_precedence(store: &dyn Store) {
    seed(store).await;
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
    let kind = |number: &'static str| async move {
        store
            .resolve(&addr(number), None)
            .await
            .unwrap()
            .matched
            .unwrap()
            .kind
    };
    assert_eq!(kind("3175559999").await, MatchKind::Prefix { digits: 4 });
    assert_eq!(kind("+442071234567").await, MatchKind::CatchAll);
    assert_eq!(kind("support").await, MatchKind::Literal);
}

/// A delete names the version it read too; what it removed comes back; a second delete finds
/// nothing.
pub async fn deletes_need_the_version_read(store: &dyn Store) {
    seed(store).await;
    let err = store
        .delete("+1317*", Expect::Version(2), "ana")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch { .. }), "{err}");
    assert!(store.get("+1317*").await.unwrap().is_some());
    let removed = store
        .delete("+1317*", Expect::Version(3), "cy")
        .await
        .unwrap();
    assert_eq!(removed.meta.version, 3);
    assert!(store.get("+1317*").await.unwrap().is_none());
    let err = store
        .delete("+1317*", Expect::Any, "ana")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

/// Every change is in the route's history, oldest first: who, which version, before and after.
pub async fn history_records_every_change(store: &dyn Store) {
    seed(store).await;
    store
        .delete("+1317*", Expect::Version(3), "cy")
        .await
        .unwrap();
    let history = store.history("+1317*").await.unwrap();
    let ops: Vec<(&str, u64, &str)> = history
        .iter()
        .map(|c| (c.op.as_str(), c.version, c.by.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
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
    assert!(store.history("+1999*").await.unwrap().is_empty());
}

/// A bulk apply (an import) makes puts and deletes, counts them as it goes and records them
/// as `import`; a write whose route is not as the import read it is reported, not made, and
/// the others go through.
pub async fn bulk_apply_counts_writes_and_reports_conflicts(store: &dyn Store) {
    seed(store).await;
    let counted = AtomicUsize::new(0);
    let done = store
        .apply(
            vec![
                WriteOp::Put(redirect("+44*", "https://x/uk"), Expect::Any),
                WriteOp::Put(redirect("*", "https://x/default2"), Expect::Any),
                WriteOp::Delete("support".into(), Expect::Any),
            ],
            "importer",
            &|n| counted.store(n, Ordering::SeqCst),
        )
        .await
        .unwrap();
    assert_eq!(done.written, 3);
    assert!(done.conflicts.is_empty(), "{:?}", done.conflicts);
    assert_eq!(counted.load(Ordering::SeqCst), 3);
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
    for expected in [
        "`+44*` is at version 1, not the expected 99",
        "`*` already exists",
        "`nope` does not exist",
    ] {
        assert!(
            conflicts.iter().any(|c| c.contains(expected)),
            "{expected}: {conflicts:?}"
        );
    }
    assert_eq!(url_of(store, "+44*").await, "https://x/uk");
    assert_eq!(url_of(store, "+33*").await, "https://x/fr");
    let star = store.get("*").await.unwrap().unwrap();
    assert_eq!(star.meta.version, 2);
    assert_eq!(star.meta.updated_by, "importer");
    assert!(store.get("support").await.unwrap().is_none());
    assert_eq!(
        store.history("*").await.unwrap().last().unwrap().op,
        "import"
    );
    assert_eq!(store.list(None).await.unwrap().len(), 5);
}

/// Eight writers increment a counter kept in each of two routes, each write with the version
/// it read; conflicts are retried. Every write survives, each in the history.
pub async fn concurrent_edits_lose_nothing(store: Arc<dyn Store>) {
    const WRITERS: usize = 8;
    const WRITES: usize = 5;
    let counter = |pattern: &str, n: u64| {
        route(&format!(
            r#"{{"pattern":"{pattern}","action":"say","text":"{n}"}}"#
        ))
    };
    for pattern in ["+1212*", "+1646*"] {
        put(&*store, counter(pattern, 0), Expect::Absent, "setup").await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            for i in 0..WRITES {
                let pattern = if (writer + i) % 2 == 0 {
                    "+1212*"
                } else {
                    "+1646*"
                };
                loop {
                    let current = store.get(pattern).await.unwrap().unwrap();
                    let count: u64 = current.route.to_record().text.unwrap().parse().unwrap();
                    let version = Expect::Version(current.meta.version);
                    match store
                        .put(counter(pattern, count + 1), version, &format!("w{writer}"))
                        .await
                    {
                        Ok(_) => break,
                        Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
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
}

/// One `#[tokio::test]` per clause of the store contract, each on a fresh store made by
/// `$make` (an async block giving an `Arc` of the store and whatever must live as long, such
/// as a temporary directory or a server).
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::store_contract_tests!(@one $make,
            creates_once,
            updates_need_the_version_read,
            reads_and_lists_in_key_order,
            scoped_routes_win_in_their_domain_only,
            lookups_follow_the_precedence,
            deletes_need_the_version_read,
            history_records_every_change,
            bulk_apply_counts_writes_and_reports_conflicts
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_edits_lose_nothing() {
            let (store, _keep) = $make.await;
            $crate::contract::concurrent_edits_lose_nothing(store).await;
        }
    };
    (@one $make:expr, $($clause:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $clause() {
                let (store, _keep) = $make.await;
                $crate::contract::$clause(&*store).await;
            }
        )+
    };
}

#[cfg(test)]
mod memory {
    use std::sync::Arc;

    use crate::contract::Store;
    use crate::MemoryStore;

    crate::store_contract_tests!(async {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        (store, ())
    });
}

#[cfg(test)]
mod file {
    use std::sync::Arc;

    use byoc_core::NumberPlan;

    use crate::contract::Store;
    use crate::FileStore;

    crate::store_contract_tests!(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        let store: Arc<dyn Store> =
            Arc::new(FileStore::open_or_create(&path, &NumberPlan::default()).unwrap());
        (store, dir)
    });

    /// What a store writes is a route file that loads again with the same routes and versions,
    /// and two handles on one file see each other's writes.
    #[tokio::test]
    async fn what_is_written_loads_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        let store = FileStore::open_or_create(&path, &NumberPlan::default()).unwrap();
        crate::contract::bulk_apply_counts_writes_and_reports_conflicts(&store).await;
        let again = FileStore::open(&path, &NumberPlan::default()).unwrap();
        use crate::RouteAdmin as _;
        assert_eq!(
            again.list(None).await.unwrap(),
            store.list(None).await.unwrap()
        );
        assert_eq!(again.get("*").await.unwrap().unwrap().meta.version, 2);
    }
}
