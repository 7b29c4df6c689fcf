//! The call-path cache and time budget in front of a route store.
//!
//! A call must never wait past the budget nor go unanswered:
//! - a fresh cache entry (younger than the TTL) answers with no store call; misses are cached too;
//! - otherwise the store is asked, bounded by the budget;
//! - if it fails or is too slow: the cached entry for this number even if stale, else the `*`
//!   route last seen, else nothing (the caller then answers its configured default), and the
//!   answer is marked degraded with the reason.
//!
//! After a store failure the store is not asked again for [`BACKOFF`]: calls get the degraded
//! answers at once instead of each waiting out the budget, and a store that is down or
//! overloaded is not kept busy by a retry per call.
//!
//! With a replica ([`CachedStore::with_replica`]: the same routes elsewhere, e.g. the global
//! table's copy in another region), a key the home store could not answer (error, time-out or
//! back-off; not an unreadable route, which the replica holds too) is asked of the replica,
//! within the same budget, before any degraded answer. A call then waits at most two budgets;
//! the replica has its own back-off.
//!
//! Concurrent misses for the same number share one store call (`byoc serve`, or a Lambda with
//! managed concurrency, under a burst): without that, a slow store gets one request per waiting
//! call, falls further behind, and every call ends up waiting out the budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use byoc_core::route::MatchKind;
use byoc_core::{Address, Match, Route};

use crate::{RouteStore, StoreError};

/// Cache settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long an answer is served without asking the store (0 disables caching).
    pub ttl: Duration,
    /// The longest a call waits for the store.
    pub budget: Duration,
    /// Entries kept at most; beyond it the cache starts over (bounds memory on number scans).
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            budget: Duration::from_millis(1000),
            max_entries: 100_000,
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A fresh cache entry.
    Cache,
    /// The store, just now.
    Store,
    /// A store that holds its routes in memory (a route file), asked directly.
    Memory,
    /// The home store failed; the replica answered, just now.
    Replica,
    /// The store failed: a stale cache entry for this number.
    Stale,
    /// The store failed: the `*` route last seen.
    LastCatchAll,
    /// The store failed and nothing was cached.
    Nothing,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Store => "store",
            Source::Memory => "memory",
            Source::Replica => "replica",
            Source::Stale => "stale",
            Source::LastCatchAll => "last_catch_all",
            Source::Nothing => "nothing",
        }
    }
}

/// Why the store could not answer a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    /// The store returned an error (its words are in the `route store failed` warning).
    Error,
    /// The store did not answer within the budget (`STORE_TIMEOUT_MS`).
    Timeout,
    /// The store failed moments ago ([`BACKOFF`]) and was not asked.
    Backoff,
    /// The store holds a route for this call that it cannot read (an item written by another
    /// tool or an older version): answered as if the store could not read that route.
    InvalidRoute,
}

impl StoreFailure {
    /// The short kind reported in `X-Byoc-Reason` and the call's log line.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreFailure::Error => "store_error",
            StoreFailure::Timeout => "store_timeout",
            StoreFailure::Backoff => "store_backoff",
            StoreFailure::InvalidRoute => "invalid_route",
        }
    }
}

/// The result of a lookup through the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub matched: Option<Match>,
    pub source: Source,
    /// Why the store could not answer, when it could not (`source` says what answered).
    pub degraded: Option<StoreFailure>,
}

impl Lookup {
    /// The degraded answer's reason as reported: the failure's kind and what answered.
    pub fn degraded_reason(&self) -> Option<String> {
        let kind = self.degraded?.as_str();
        Some(match self.source {
            Source::Stale => format!("{kind}; answered from a cached entry"),
            Source::LastCatchAll => format!("{kind}; answered with the last * route seen"),
            _ => kind.to_string(),
        })
    }
}

#[derive(Debug, Clone)]
struct Entry {
    matched: Option<Match>,
    at: Instant,
}

/// How long the store is left alone after it failed.
pub const BACKOFF: Duration = Duration::from_secs(1);

/// One store call's outcome: the resolution and who gave it, or why the home store failed.
type Fetched = Result<(crate::Resolution, Source), StoreFailure>;

/// A store, the moment it last failed (for its back-off).
struct Backend {
    store: Arc<dyn RouteStore>,
    failed_at: Mutex<Option<Instant>>,
}

impl Backend {
    fn new(store: Arc<dyn RouteStore>) -> Self {
        Self {
            store,
            failed_at: Mutex::new(None),
        }
    }

    /// Its answer within `budget`, or why not; `role` names it in the warnings.
    async fn ask(
        &self,
        address: &Address,
        scope: Option<&str>,
        budget: Duration,
        role: &'static str,
    ) -> Result<crate::Resolution, StoreFailure> {
        if self.in_backoff() {
            return Err(StoreFailure::Backoff);
        }
        // The reason that travels (`X-Byoc-Reason`, the call's log line) is a short kind; the
        // store's own words go to this one warning.
        let outcome = match tokio::time::timeout(budget, self.store.resolve(address, scope)).await {
            Ok(Ok(resolution)) => Ok(resolution),
            Ok(Err(StoreError::Corrupt { pattern, reason })) => {
                tracing::error!(
                    kind = "invalid_route",
                    store = role,
                    pattern = pattern.as_str(),
                    reason = reason.as_str(),
                    "a stored route cannot be read: its calls get the degraded answer until it is fixed (byoc routes put … --replace, or delete)"
                );
                Err(StoreFailure::InvalidRoute)
            }
            Ok(Err(e)) => {
                tracing::warn!(kind = "store_error", store = role, error = %e, "route store failed");
                Err(StoreFailure::Error)
            }
            Err(_) => {
                tracing::warn!(
                    kind = "store_timeout",
                    store = role,
                    budget_ms = budget.as_millis() as u64,
                    "route store did not answer within the budget"
                );
                Err(StoreFailure::Timeout)
            }
        };
        // One unreadable route is not a failing store: no back-off for the others.
        if outcome != Err(StoreFailure::InvalidRoute) {
            *lock(&self.failed_at) = outcome.is_err().then(Instant::now);
        }
        outcome
    }

    fn in_backoff(&self) -> bool {
        let failed_at = *lock(&self.failed_at);
        failed_at.is_some_and(|at| at.elapsed() < BACKOFF)
    }
}

/// A store behind a cache and a time budget.
pub struct CachedStore {
    home: Backend,
    /// The same routes elsewhere, asked when the home store cannot answer.
    replica: Option<Backend>,
    config: CacheConfig,
    entries: Mutex<HashMap<String, Entry>>,
    catch_all: Mutex<Option<Arc<Route>>>,
    /// Store calls under way, by key; later callers wait for the same outcome.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Fetched>>>>,
}

impl CachedStore {
    pub fn new(inner: Arc<dyn RouteStore>, config: CacheConfig) -> Self {
        Self {
            home: Backend::new(inner),
            replica: None,
            config,
            entries: Mutex::new(HashMap::new()),
            catch_all: Mutex::new(None),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// Asks `replica` (the same routes elsewhere) for what the home store cannot answer.
    pub fn with_replica(mut self, replica: Arc<dyn RouteStore>) -> Self {
        self.replica = Some(Backend::new(replica));
        self
    }

    /// The answer for `address`: the home store's within the budget, else the replica's within
    /// another, one call per key at a time.
    async fn fetch(&self, key: &str, address: &Address, scope: Option<&str>) -> Fetched {
        let budget = self.config.budget;
        if self.replica.is_none() && self.home.in_backoff() {
            // Nothing to ask: skip the single-flight map.
            return Err(StoreFailure::Backoff);
        }
        let cell = lock(&self.inflight)
            .entry(key.to_string())
            .or_default()
            .clone();
        let fetched = cell
            .get_or_init(|| async {
                let failure = match self.home.ask(address, scope, budget, "home").await {
                    Ok(resolution) => return Ok((resolution, Source::Store)),
                    Err(failure) => failure,
                };
                match &self.replica {
                    // The replica holds the same unreadable item: not worth a round trip.
                    Some(replica) if failure != StoreFailure::InvalidRoute => replica
                        .ask(address, scope, budget, "replica")
                        .await
                        .map(|resolution| (resolution, Source::Replica))
                        .map_err(|_| failure),
                    _ => Err(failure),
                }
            })
            .await
            .clone();
        // The first caller back retires the call, so the next miss asks the store again.
        let mut inflight = lock(&self.inflight);
        if inflight.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            inflight.remove(key);
        }
        fetched
    }

    pub fn inner(&self) -> &Arc<dyn RouteStore> {
        &self.home.store
    }

    pub fn config(&self) -> CacheConfig {
        self.config
    }

    /// Finds the route for a call to `address` in `scope` (its SIP domain) as described in the
    /// module documentation.
    pub async fn lookup(&self, address: &Address, scope: Option<&str>) -> Lookup {
        if let Some(resolution) = self.home.store.resolve_in_memory(address, scope) {
            return Lookup {
                matched: resolution.matched,
                source: Source::Memory,
                degraded: None,
            };
        }
        let scoped;
        let key = match scope {
            Some(scope) => {
                scoped = byoc_core::route::scoped_key(address.as_str(), scope);
                scoped.as_str()
            }
            None => address.as_str(),
        };
        let cached = self.entry(key);
        if let Some(entry) = &cached {
            if entry.at.elapsed() < self.config.ttl {
                return Lookup {
                    matched: entry.matched.clone(),
                    source: Source::Cache,
                    degraded: None,
                };
            }
        }
        let reason = match self.fetch(key, address, scope).await {
            Ok((resolution, source)) => {
                if let Some(route) = resolution.catch_all {
                    *lock(&self.catch_all) = Some(route);
                }
                if !self.config.ttl.is_zero() {
                    let mut entries = lock(&self.entries);
                    if entries.len() >= self.config.max_entries {
                        entries.clear();
                    }
                    entries.insert(
                        key.to_string(),
                        Entry {
                            matched: resolution.matched.clone(),
                            at: Instant::now(),
                        },
                    );
                }
                return Lookup {
                    matched: resolution.matched,
                    source,
                    degraded: None,
                };
            }
            Err(reason) => reason,
        };
        if let Some(entry) = cached {
            return Lookup {
                matched: entry.matched,
                source: Source::Stale,
                degraded: Some(reason),
            };
        }
        if let Some(route) = lock(&self.catch_all).clone() {
            return Lookup {
                matched: Some(Match {
                    route,
                    kind: MatchKind::CatchAll,
                }),
                source: Source::LastCatchAll,
                degraded: Some(reason),
            };
        }
        Lookup {
            matched: None,
            source: Source::Nothing,
            degraded: Some(reason),
        }
    }

    fn entry(&self, key: &str) -> Option<Entry> {
        if self.config.ttl.is_zero() {
            return None;
        }
        lock(&self.entries).get(key).cloned()
    }
}

/// A poisoned cache lock still holds valid entries; keep using them rather than failing a call.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryStore, Resolution, StoreError};
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

    /// A store that fails, hangs or answers on command, counting calls.
    struct Flaky {
        inner: MemoryStore,
        mode: AtomicU8,
        calls: AtomicU32,
    }

    const OK: u8 = 0;
    const FAIL: u8 = 1;
    const HANG: u8 = 2;

    #[async_trait]
    impl RouteStore for Flaky {
        async fn resolve(
            &self,
            address: &Address,
            scope: Option<&str>,
        ) -> Result<Resolution, StoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.mode.load(Ordering::SeqCst) {
                FAIL => Err(StoreError::Unavailable("boom".into())),
                HANG => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    unreachable!()
                }
                _ => self.inner.resolve(address, scope).await,
            }
        }
        fn describe(&self) -> String {
            "flaky".into()
        }
    }

    #[tokio::test]
    async fn a_store_in_memory_is_asked_directly() {
        let memory = MemoryStore::from_json(
            r#"{"routes":[{"pattern":"+1317*","action":"hangup"},{"pattern":"+13175551234","action":"hangup","scope":"a.sip.twilio.com"}]}"#,
            "t",
            &Default::default(),
        )
        .unwrap();
        let cache = CachedStore::new(Arc::new(memory), CacheConfig::default());
        let address = Address::E164("+13175551234".into());
        let found = cache.lookup(&address, None).await;
        assert_eq!(found.source, Source::Memory);
        assert_eq!(found.matched.unwrap().route.pattern.key(), "+1317*");
        // Scopes apply as through the cache.
        let scoped = cache.lookup(&address, Some("a.sip.twilio.com")).await;
        assert_eq!(scoped.matched.unwrap().kind, MatchKind::Exact);
        // Nothing was cached or left in flight.
        assert!(lock(&cache.entries).is_empty() && lock(&cache.inflight).is_empty());
    }

    fn setup(ttl: Duration) -> (Arc<Flaky>, CachedStore) {
        let inner = MemoryStore::from_json(
            r#"{"routes":[{"pattern":"+1317*","action":"hangup"},{"pattern":"*","url":"https://x/"}]}"#,
            "t",
            &Default::default(),
        )
        .unwrap();
        let flaky = Arc::new(Flaky {
            inner,
            mode: AtomicU8::new(OK),
            calls: AtomicU32::new(0),
        });
        let cache = CachedStore::new(
            flaky.clone(),
            CacheConfig {
                ttl,
                budget: Duration::from_millis(50),
                max_entries: 10,
            },
        );
        (flaky, cache)
    }

    fn addr(s: &str) -> Address {
        byoc_core::number::normalize(s).unwrap()
    }

    #[tokio::test]
    async fn warm_lookups_skip_the_store_and_misses_are_cached() {
        let (flaky, cache) = setup(Duration::from_secs(60));
        let a = addr("+13175551234");
        assert_eq!(cache.lookup(&a, None).await.source, Source::Store);
        assert_eq!(cache.lookup(&a, None).await.source, Source::Cache);
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
        // A number with only the catch-all is cached like any other.
        let b = addr("+442071234567");
        cache.lookup(&b, None).await;
        let again = cache.lookup(&b, None).await;
        assert_eq!(again.source, Source::Cache);
        assert_eq!(again.matched.unwrap().kind, MatchKind::CatchAll);
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failures_fall_back_to_stale_then_last_catch_all_then_nothing() {
        let (flaky, cache) = setup(Duration::ZERO);
        let a = addr("+13175551234");
        cache.lookup(&a, None).await;
        flaky.mode.store(FAIL, Ordering::SeqCst);
        // TTL 0 keeps no entries, but the * route seen is kept.
        let l = cache.lookup(&a, None).await;
        assert_eq!(l.source, Source::LastCatchAll);
        assert_eq!(
            l.degraded_reason().as_deref(),
            Some("store_error; answered with the last * route seen")
        );

        let (flaky, cache) = setup(Duration::from_millis(1));
        cache.lookup(&a, None).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        flaky.mode.store(HANG, Ordering::SeqCst);
        let started = Instant::now();
        let l = cache.lookup(&a, None).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(l.source, Source::Stale);
        assert_eq!(l.matched.as_ref().unwrap().route.pattern.key(), "+1317*");
        assert_eq!(
            l.degraded_reason().as_deref(),
            Some("store_timeout; answered from a cached entry")
        );

        let (flaky, cache) = setup(Duration::from_secs(60));
        flaky.mode.store(FAIL, Ordering::SeqCst);
        let l = cache.lookup(&a, None).await;
        assert_eq!(l.source, Source::Nothing);
        assert!(l.matched.is_none());
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let (_, cache) = setup(Duration::from_secs(60));
        for i in 0..25 {
            cache.lookup(&addr(&format!("+1212555{i:04}")), None).await;
        }
        assert!(lock(&cache.entries).len() <= 10);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_store_call() {
        let (flaky, cache) = setup(Duration::from_secs(60));
        let cache = Arc::new(cache);
        let a = addr("+13175551234");
        // A store that hangs: 16 concurrent calls wait out one budget together, with one call.
        flaky.mode.store(HANG, Ordering::SeqCst);
        let waiters: Vec<_> = (0..16)
            .map(|_| {
                let (cache, a) = (cache.clone(), a.clone());
                tokio::spawn(async move { cache.lookup(&a, None).await })
            })
            .collect();
        for w in waiters {
            let lookup = w.await.unwrap();
            assert_eq!(lookup.source, Source::Nothing);
            assert_eq!(lookup.degraded, Some(StoreFailure::Timeout));
        }
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
        // Within the back-off the store is left alone; after it, the next miss asks again (the
        // failed call is not reused).
        flaky.mode.store(OK, Ordering::SeqCst);
        let lookup = cache.lookup(&a, None).await;
        assert_eq!(lookup.source, Source::Nothing);
        assert_eq!(lookup.degraded, Some(StoreFailure::Backoff));
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(BACKOFF).await;
        assert_eq!(cache.lookup(&a, None).await.source, Source::Store);
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 2);
    }

    /// The home store and a replica of it, each a [`Flaky`] on the same routes.
    fn with_replica() -> (Arc<Flaky>, Arc<Flaky>, CachedStore) {
        let (home, cache) = setup(Duration::from_secs(60));
        let (replica, _) = setup(Duration::from_secs(60));
        let cache = cache.with_replica(replica.clone());
        (home, replica, cache)
    }

    #[tokio::test]
    async fn a_failing_home_store_is_answered_by_the_replica_not_degraded() {
        let (home, replica, cache) = with_replica();
        let a = addr("+13175551234");
        home.mode.store(FAIL, Ordering::SeqCst);
        let l = cache.lookup(&a, None).await;
        assert_eq!((l.source, l.degraded), (Source::Replica, None));
        assert_eq!(l.matched.unwrap().route.pattern.key(), "+1317*");
        assert_eq!(replica.calls.load(Ordering::SeqCst), 1);
        // Cached like any answer.
        assert_eq!(cache.lookup(&a, None).await.source, Source::Cache);

        // In the home store's back-off, the replica is asked straight away (home not asked).
        home.mode.store(OK, Ordering::SeqCst);
        let b = addr("+442071234567");
        let l = cache.lookup(&b, None).await;
        assert_eq!(l.source, Source::Replica);
        assert_eq!(home.calls.load(Ordering::SeqCst), 1);
        // After the back-off, home again.
        tokio::time::sleep(BACKOFF).await;
        let c = addr("+13175550000");
        assert_eq!(cache.lookup(&c, None).await.source, Source::Store);
    }

    #[tokio::test]
    async fn a_hung_home_store_costs_one_budget_then_the_replica_answers() {
        let (home, _replica, cache) = with_replica();
        home.mode.store(HANG, Ordering::SeqCst);
        let started = Instant::now();
        let l = cache.lookup(&addr("+13175551234"), None).await;
        assert_eq!((l.source, l.degraded), (Source::Replica, None));
        // One budget (50 ms) waited on the home store, then the replica's quick answer.
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn both_failing_degrade_with_the_home_reason_and_the_replica_backs_off_too() {
        let (home, replica, cache) = with_replica();
        let a = addr("+13175551234");
        home.mode.store(HANG, Ordering::SeqCst);
        replica.mode.store(FAIL, Ordering::SeqCst);
        let l = cache.lookup(&a, None).await;
        assert_eq!(
            (l.source, l.degraded),
            (Source::Nothing, Some(StoreFailure::Timeout))
        );
        // Both in back-off: neither is asked.
        let l = cache.lookup(&a, None).await;
        assert_eq!(l.degraded, Some(StoreFailure::Backoff));
        assert_eq!(home.calls.load(Ordering::SeqCst), 1);
        assert_eq!(replica.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_unreadable_route_is_not_asked_of_the_replica() {
        struct Corrupt;
        #[async_trait]
        impl RouteStore for Corrupt {
            async fn resolve(
                &self,
                _: &Address,
                _: Option<&str>,
            ) -> Result<Resolution, StoreError> {
                Err(StoreError::Corrupt {
                    pattern: "+1317*".into(),
                    reason: "bad".into(),
                })
            }
            fn describe(&self) -> String {
                "corrupt".into()
            }
        }
        let (_, replica, _) = with_replica();
        let cache = CachedStore::new(Arc::new(Corrupt), CacheConfig::default())
            .with_replica(replica.clone());
        let l = cache.lookup(&addr("+13175551234"), None).await;
        assert_eq!(l.degraded, Some(StoreFailure::InvalidRoute));
        assert_eq!(replica.calls.load(Ordering::SeqCst), 0);
    }
}
