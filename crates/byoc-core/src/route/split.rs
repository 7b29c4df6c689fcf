//! A `split` route: calls shared between actions by weight, each caller always reaching the
//! same share while the weights hold (A/B tests of IVR flows, load shared between two contact
//! centres).
//!
//! The share is chosen by a stable hash of the caller: their normalized number's digits, or,
//! for an anonymous caller, the call's `CallSid` (so each anonymous call is placed on its own).
//! The hash is 64-bit FNV-1a, written out here because it must never change between versions
//! or platforms (`std`'s hasher may): the same caller keeps the same share across deploys.

use crate::route::{Action, RouteErrorKind};

/// Most shares in one split.
pub const MAX_SHARES: usize = 10;
/// Largest weight of one share (weights are relative: 80/20 and 4/1 are the same split).
pub const MAX_WEIGHT: u32 = 10_000;

/// A route's shares, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub shares: Vec<Share>,
}

/// One share: its weight and what its calls get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub weight: u32,
    pub action: Action,
}

/// 64-bit FNV-1a (offset basis 14695981039346656037, prime 1099511628211) of the parts, each
/// followed by a zero byte (so `("ab", "c")` and `("a", "bc")` differ), then MurmurHash3's
/// 64-bit finalizer: FNV-1a alone leaves its high bits, which choose the share, barely touched
/// by the last digits of numbers that differ only there.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Split {
    /// The share (0-based) and action for the caller keyed `key` on the route keyed `route`.
    ///
    /// The hash includes the route, so two splits on two numbers place a caller
    /// independently. It is read as a point in [0, 1) (its high bits times the total weight),
    /// so only the proportions count: 80/20 and 4/1 place every caller alike, and changing
    /// the weights moves only the callers whose point crosses a boundary.
    pub fn choose(&self, route: &str, key: &str) -> (usize, &Action) {
        let total: u64 = self.shares.iter().map(|s| u64::from(s.weight)).sum();
        let h = stable_hash(&[route, key]);
        let mut point = ((u128::from(h) * u128::from(total.max(1))) >> 64) as u64;
        for (i, share) in self.shares.iter().enumerate() {
            let w = u64::from(share.weight);
            if point < w {
                return (i, &share.action);
            }
            point -= w;
        }
        // Unreachable while the weights are positive (checked when read).
        (0, &self.shares[0].action)
    }

    /// The shares as route files write them: flat actions with `weight`.
    pub fn to_json(&self) -> String {
        let shares: Vec<serde_json::Value> = self
            .shares
            .iter()
            .map(|s| {
                let mut flat = s.action.to_flat();
                flat.insert("weight".into(), s.weight.into());
                serde_json::Value::Object(flat)
            })
            .collect();
        serde_json::Value::from(shares).to_string()
    }

    /// Each share's weight as a percentage of the whole, for `resolve` and the console.
    pub fn percentages(&self) -> Vec<f64> {
        let total: u32 = self.shares.iter().map(|s| s.weight).sum();
        self.shares
            .iter()
            .map(|s| f64::from(s.weight) * 100.0 / f64::from(total.max(1)))
            .collect()
    }
}

/// Reads `shares`: a JSON array of 1 to [`MAX_SHARES`] flat action objects, each with a
/// positive integer `weight` and no `schedule`, `targets`, `callers` or split of its own.
pub(crate) fn shares_from(
    text: &str,
    pattern: &str,
    plan: &crate::NumberPlan,
) -> Result<Split, RouteErrorKind> {
    let invalid = |reason: String| crate::route::invalid("shares", reason);
    let items: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(text)
        .map_err(|e| invalid(format!("not an array of action objects with `weight`: {e}")))?;
    if items.is_empty() || items.len() > MAX_SHARES {
        return Err(invalid(format!(
            "{} shares: a split has 1 to {MAX_SHARES}",
            items.len()
        )));
    }
    let mut shares = Vec::with_capacity(items.len());
    for (i, mut item) in items.into_iter().enumerate() {
        let at = |why: String| invalid(format!("share {}: {why}", i + 1));
        let weight = match item.remove("weight") {
            Some(serde_json::Value::Number(n)) => n
                .as_u64()
                .filter(|w| (1..=u64::from(MAX_WEIGHT)).contains(w))
                .map(|w| w as u32)
                .ok_or_else(|| {
                    at(format!(
                        "`weight` {n} is not a whole number from 1 to {MAX_WEIGHT}"
                    ))
                })?,
            Some(other) => {
                return Err(at(format!(
                    "`weight` {other} is not a whole number from 1 to {MAX_WEIGHT}"
                )))
            }
            None => return Err(at("needs `weight`, a whole number from 1 to 10000".into())),
        };
        if item
            .get("action")
            .and_then(|a| a.as_str())
            .is_some_and(|a| a.trim().eq_ignore_ascii_case("split"))
            || item.contains_key("shares")
        {
            return Err(at("a share cannot be a split itself".into()));
        }
        let action = crate::route::branch_action("shares", "shares", &item, pattern, plan)
            .map_err(|e| at(e.to_string()))?;
        shares.push(Share { weight, action });
    }
    Ok(Split { shares })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv_1a() {
        // Pinned: a caller's share must not move between versions. The value is FNV-1a 64 of
        // the bytes `a\0` (0x089be207b544f1e4), finalized.
        let fmix = |mut h: u64| {
            h ^= h >> 33;
            h = h.wrapping_mul(0xff51afd7ed558ccd);
            h ^= h >> 33;
            h = h.wrapping_mul(0xc4ceb9fe1a85ec53);
            h ^ (h >> 33)
        };
        assert_eq!(stable_hash(&[]), fmix(0xcbf29ce484222325));
        assert_eq!(stable_hash(&["a"]), fmix(0x089be207b544f1e4));
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
    }
}
