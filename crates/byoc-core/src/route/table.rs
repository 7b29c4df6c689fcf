//! Finding a route: candidate keys, match precedence, and the in-memory `RouteTable`.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

use crate::number::Address;
use crate::route::{scoped_key, RouteErrorKind};
use crate::{Pattern, Route, RouteError};

/// Why a route matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// The E.164 number itself.
    Exact,
    /// The literal address itself.
    Literal,
    /// A prefix pattern with this many digits.
    Prefix { digits: usize },
    /// The catch-all `*`.
    CatchAll,
}

impl MatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Literal => "literal",
            MatchKind::Prefix { .. } => "prefix",
            MatchKind::CatchAll => "catch_all",
        }
    }
}

/// A route found for an address, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub route: Arc<Route>,
    pub kind: MatchKind,
}

impl Match {
    /// A sentence for operators: which route matched and why.
    pub fn explain(&self, address: &Address) -> String {
        let pattern = self.route.pattern.key();
        match self.kind {
            MatchKind::Exact => format!("exact match on {pattern}"),
            MatchKind::Literal => format!("exact match on the literal address {pattern}"),
            MatchKind::Prefix { digits } => format!(
                "longest matching prefix {pattern} ({digits} digit{}) for {address}; no exact route",
                if digits == 1 { "" } else { "s" }
            ),
            MatchKind::CatchAll => {
                format!("catch-all * (no exact or prefix route for {address})")
            }
        }
    }
}

/// The keys to look up for `address`, in precedence order, with what a hit on each means.
///
/// `+13175551234` gives `+13175551234`, `+13175551234*`, `+1317555123*`, … `+1*`, `*`: at most
/// 17 keys.
pub fn candidate_keys(address: &Address) -> Vec<(String, MatchKind)> {
    let mut keys = Vec::with_capacity(18);
    match address {
        Address::E164(number) => {
            keys.push((number.clone(), MatchKind::Exact));
            let digits = &number[1..];
            for len in (1..=digits.len()).rev() {
                keys.push((
                    format!("+{}*", &digits[..len]),
                    MatchKind::Prefix { digits: len },
                ));
            }
        }
        // A literal ending in `*` would collide with pattern syntax; it can only reach `*`.
        Address::Literal(l) if !l.ends_with('*') => keys.push((l.clone(), MatchKind::Literal)),
        Address::Literal(_) => {}
    }
    keys.push(("*".to_string(), MatchKind::CatchAll));
    keys
}

/// An in-memory set of routes, keyed by pattern.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// foldhash rather than SipHash: the keys are the operator's patterns, not attacker input,
    /// and a route file is hashed key by key at every cold start (the hasher is still seeded
    /// per process).
    routes: HashMap<String, Arc<Route>, foldhash::fast::RandomState>,
    /// Bit `n` set: at least one prefix pattern has `n` digits (maintained on insert; removals
    /// leave it set, which only costs a lookup that misses).
    prefix_lengths: u32,
}

impl RouteTable {
    /// Builds a table; a duplicate pattern is an error.
    pub fn new(routes: impl IntoIterator<Item = Route>) -> Result<Self, RouteError> {
        let mut table = Self::default();
        for route in routes {
            let key = route.key();
            if let Err(taken) = table.try_insert_keyed(key, Arc::new(route)) {
                return Err(RouteError {
                    pattern: taken.key(),
                    kind: RouteErrorKind::Duplicate,
                });
            }
        }
        Ok(table)
    }

    /// The best route for `address` by the precedence rules (unscoped routes only).
    pub fn lookup(&self, address: &Address) -> Option<Match> {
        best_match_among(address, self.prefix_lengths, |key| {
            self.routes.get(key).cloned()
        })
    }

    /// The best route for a call to `address` in `scope` (its SIP domain): for each pattern in
    /// precedence order, the route scoped to `scope` first, then the unscoped one.
    pub fn lookup_in(&self, address: &Address, scope: Option<&str>) -> Option<Match> {
        match scope {
            None => self.lookup(address),
            Some(scope) => best_match_among(address, self.prefix_lengths, |key| {
                self.routes
                    .get(&scoped_key(key, scope))
                    .or_else(|| self.routes.get(key))
                    .cloned()
            }),
        }
    }

    fn note_prefix(&mut self, pattern: &Pattern) {
        self.prefix_lengths |= prefix_bit(pattern);
    }

    pub fn get(&self, pattern: &str) -> Option<&Arc<Route>> {
        self.routes.get(pattern)
    }

    /// Adds or replaces the route for its pattern; returns the one replaced.
    /// Makes room for `additional` more routes (a bulk load grows the map once).
    pub fn reserve(&mut self, additional: usize) {
        self.routes.reserve(additional);
    }

    pub fn insert(&mut self, route: Route) -> Option<Arc<Route>> {
        let key = route.key();
        self.insert_keyed(key, Arc::new(route))
    }

    /// [`insert`](Self::insert) of a shared route with its key already computed (`key` must be
    /// `route.key()`): how a route file is loaded.
    pub fn insert_keyed(&mut self, key: String, route: Arc<Route>) -> Option<Arc<Route>> {
        debug_assert_eq!(key, route.key());
        self.note_prefix(&route.pattern);
        self.routes.insert(key, route)
    }

    /// [`insert_keyed`](Self::insert_keyed) unless the key is taken: then the table is
    /// unchanged and the route that holds the key is returned.
    pub fn try_insert_keyed(&mut self, key: String, route: Arc<Route>) -> Result<(), Arc<Route>> {
        debug_assert_eq!(key, route.key());
        match self.routes.entry(key) {
            Entry::Occupied(taken) => Err(Arc::clone(taken.get())),
            Entry::Vacant(free) => {
                self.prefix_lengths |= prefix_bit(&route.pattern);
                free.insert(route);
                Ok(())
            }
        }
    }

    /// Each route with its key, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Arc<Route>)> {
        self.routes.iter().map(|(key, route)| (key.as_str(), route))
    }

    /// Removes the route stored under `pattern` (its key, e.g. `+1317*`).
    pub fn remove(&mut self, pattern: &str) -> Option<Arc<Route>> {
        self.routes.remove(pattern)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Every key, in no order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// Routes sorted by pattern, for listing and export.
    pub fn sorted(&self) -> Vec<Arc<Route>> {
        let mut out: Vec<_> = self.routes.values().cloned().collect();
        out.sort_by_cached_key(|r| r.key());
        out
    }
}

/// The bit of [`RouteTable::prefix_lengths`] for a prefix pattern (none for others).
pub(crate) fn prefix_bit(pattern: &Pattern) -> u32 {
    match pattern {
        Pattern::Prefix(p) => 1 << (p.len() - 1),
        _ => 0,
    }
}

/// The precedence rule, over any key → route lookup. Equivalent to trying [`candidate_keys`] in
/// order, but builds the keys in one reused buffer and stops at the first hit (this runs on every
/// call; see docs/performance.md).
pub fn best_match(address: &Address, get: impl Fn(&str) -> Option<Arc<Route>>) -> Option<Match> {
    best_match_among(address, u32::MAX, get)
}

/// [`best_match`] for a call in `scope`: per pattern, the scoped route first.
pub fn best_match_in(
    address: &Address,
    scope: Option<&str>,
    get: impl Fn(&str) -> Option<Arc<Route>>,
) -> Option<Match> {
    match scope {
        None => best_match_among(address, u32::MAX, get),
        Some(scope) => best_match_among(address, u32::MAX, |key| {
            get(&scoped_key(key, scope)).or_else(|| get(key))
        }),
    }
}

/// [`candidate_keys`] for a call in `scope`: each scoped key just before its unscoped one.
pub fn candidate_keys_in(address: &Address, scope: Option<&str>) -> Vec<(String, MatchKind)> {
    let keys = candidate_keys(address);
    match scope {
        None => keys,
        Some(scope) => keys
            .into_iter()
            .flat_map(|(key, kind)| [(scoped_key(&key, scope), kind), (key, kind)])
            .collect(),
    }
}

/// [`best_match`], trying only prefix lengths whose bit is set in `prefix_lengths` (bit `n` =
/// some prefix pattern has `n` digits): a table skips lengths it has no pattern of.
pub(crate) fn best_match_among(
    address: &Address,
    prefix_lengths: u32,
    get: impl Fn(&str) -> Option<Arc<Route>>,
) -> Option<Match> {
    let hit = |route, kind| Some(Match { route, kind });
    match address {
        Address::E164(number) => {
            if let Some(route) = get(number) {
                return hit(route, MatchKind::Exact);
            }
            let mut key = String::with_capacity(number.len() + 1);
            key.push_str(number);
            for digits in (1..number.len()).rev() {
                if prefix_lengths & (1 << digits) == 0 {
                    continue;
                }
                key.truncate(digits + 1);
                key.push('*');
                if let Some(route) = get(&key) {
                    return hit(route, MatchKind::Prefix { digits });
                }
                key.pop();
            }
        }
        Address::Literal(l) if !l.ends_with('*') => {
            if let Some(route) = get(l) {
                return hit(route, MatchKind::Literal);
            }
        }
        Address::Literal(_) => {}
    }
    get("*").and_then(|route| hit(route, MatchKind::CatchAll))
}
