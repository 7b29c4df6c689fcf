//! `byoc routes lint`: routes that are valid but will not do what their author meant. Each
//! finding names the route (its key) and says what is wrong; nothing here refuses a route.
//!
//! | kind | what |
//! |---|---|
//! | `loop` | a redirect into the router's own webhooks (judged against the base URL) |
//! | `other_account` | a Twilio URL of another account than the configured one |
//! | `plain_http` | a target over `http://` (the call's parameters travel in clear) |
//! | `never_open` | a schedule that will never open again (its only openings are past dates) |
//! | `past_holiday` | a dated exception that is over and does not recur |
//! | `chain_repeat` | a chain dialling the same target twice |
//! | `chain_loop` | a chain dialling a number whose own route is this route |
//! | `same_share` | two shares of a split with the same action |
//! | `shadowed_condition` | a caller condition another one always wins over |
//! | `repeats_catch_all` | a route doing exactly what the `*` route does |

use std::borrow::Borrow;

use crate::route::{Action, Callee, CallerCondition, Route, RouteTable, Verstat};
use crate::{Address, NumberPlan};

/// What the linter knows besides the routes.
#[derive(Debug, Clone, Default)]
pub struct LintContext {
    /// The router's public base URL (`https://abc.execute-api…/Prod`), for loops.
    pub base_url: Option<url::Url>,
    /// The Twilio account (`AC…`) the routes belong to.
    pub account_sid: Option<String>,
    /// Today, for past holidays.
    pub today: Option<jiff::civil::Date>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The route's key (`+1317*`, `+13175551234@example.sip.twilio.com`).
    pub route: String,
    pub kind: &'static str,
    pub message: String,
}

/// Every action a route can answer with, and where it sits (`action`, `closed`, `holiday`,
/// `callers[2]`, `shares[1]`, `final`).
fn actions(route: &Route) -> Vec<(String, &Action)> {
    let mut out: Vec<(String, &Action)> = vec![("action".into(), &route.action)];
    if let Some(s) = &route.schedule {
        out.push(("closed".into(), &s.closed));
        if let Some(h) = &s.holiday {
            out.push(("holiday".into(), h));
        }
    }
    for (i, rule) in route.callers.iter().enumerate() {
        out.push((format!("callers[{}]", i + 1), &rule.action));
    }
    let mut nested = Vec::new();
    for (place, action) in &out {
        match action {
            Action::Split(split) => {
                for (i, share) in split.shares.iter().enumerate() {
                    nested.push((format!("{place} shares[{}]", i + 1), &share.action));
                }
            }
            Action::Chain(chain) => {
                if let Some(f) = &chain.final_action {
                    nested.push((format!("{place} final"), f.as_ref()));
                }
            }
            _ => {}
        }
    }
    out.extend(nested);
    out
}

/// The URLs an action sends the call to (a `twiml` fragment's first `<Redirect>` too).
fn urls(action: &Action) -> Vec<String> {
    match action {
        Action::Redirect { url, .. } | Action::Play { url } => vec![url.clone()],
        Action::Twiml { twiml } => crate::twiml::first_redirect(twiml).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The router's own webhook paths, below its base URL.
const OWN_PATHS: [&str; 6] = [
    "/inbound",
    "/inbound/next",
    "/inbound/status",
    "/inbound/fallback",
    "/outbound",
    "/outbound/next",
];

/// Whether `url` is one of the router's own webhooks under `base`: same scheme, host (any
/// case) and port, and a path that is exactly the base path and one of [`OWN_PATHS`]
/// (paths compared as written: API Gateway stage names are case-sensitive).
fn is_own_webhook(url: &str, base: &url::Url) -> bool {
    let Ok(target) = url::Url::parse(url) else {
        return false;
    };
    if target.scheme() != base.scheme()
        || target.host_str().map(str::to_ascii_lowercase)
            != base.host_str().map(str::to_ascii_lowercase)
        || target.port_or_known_default() != base.port_or_known_default()
    {
        return false;
    }
    let base_path = base.path().trim_end_matches('/');
    target
        .path()
        .strip_prefix(base_path)
        .map(|rest| rest.trim_end_matches('/'))
        .is_some_and(|rest| OWN_PATHS.contains(&rest))
}

/// The account a Twilio URL names (`https://webhooks.twilio.com/v1/Accounts/AC…/Flows/…`):
/// only on a twilio.com host, and only a well-formed SID.
fn twilio_account(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    if host != "twilio.com" && !host.ends_with(".twilio.com") {
        return None;
    }
    let mut segments = parsed.path_segments()?;
    segments.find(|s| s.eq_ignore_ascii_case("accounts"))?;
    let sid = segments.next()?;
    crate::sid::Sid::parse(crate::sid::SidKind::Account, sid)
        .ok()
        .map(|s| s.to_string())
}

/// Lints `routes` (shared or not: `&[Arc<Route>]` or `&[Route]`), read in `plan` (for chain
/// targets routed back).
pub fn lint<R: Borrow<Route>>(routes: &[R], plan: &NumberPlan, ctx: &LintContext) -> Vec<Finding> {
    // Built only for a chain that dials a number: most route sets lint without a second table.
    let table: std::cell::OnceCell<Option<RouteTable>> = std::cell::OnceCell::new();
    let table = || {
        table
            .get_or_init(|| RouteTable::new(routes.iter().map(|r| r.borrow().clone())).ok())
            .as_ref()
    };
    let catch_all = routes
        .iter()
        .position(|r| r.borrow().pattern == crate::Pattern::CatchAll && r.borrow().scope.is_none());
    // Every prefix pattern with its scope: whether a shorter prefix route lies under a route is
    // a lookup per prefix of its key, not a pass over every route (a million routes lint in
    // seconds, not hours).
    let prefixes: std::collections::HashSet<(Option<&str>, &str)> = routes
        .iter()
        .filter_map(|r| match &r.borrow().pattern {
            crate::Pattern::Prefix(p) => Some((r.borrow().scope.as_deref(), p.as_str())),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (index, route) in routes.iter().enumerate() {
        let route: &Route = route.borrow();
        let key = route.key();
        let mut found = |kind: &'static str, message: String| {
            out.push(Finding {
                route: key.clone(),
                kind,
                message,
            })
        };
        for (place, action) in actions(route) {
            for url in urls(action) {
                let url = url.as_str();
                if let Some(base) = &ctx.base_url {
                    if is_own_webhook(url, base) {
                        found(
                            "loop",
                            format!("{place}: {url} is this router's own webhook: the call would come straight back"),
                        );
                    }
                }
                if url
                    .get(..7)
                    .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
                {
                    found(
                        "plain_http",
                        format!("{place}: {url} is plain http: the call's parameters travel in clear (use https)"),
                    );
                }
                if let (Some(account), Some(sid)) = (&ctx.account_sid, twilio_account(url)) {
                    if !sid.eq_ignore_ascii_case(account) {
                        found(
                            "other_account",
                            format!("{place}: {url} belongs to account {sid}, not {account}: Twilio will refuse it"),
                        );
                    }
                }
            }
            if let Action::Chain(chain) = action {
                let mut seen: Vec<&Callee> = Vec::new();
                for target in &chain.targets {
                    if seen.contains(&&target.callee) {
                        found(
                            "chain_repeat",
                            format!("{place}: a chain dials {} twice", describe(&target.callee)),
                        );
                    }
                    seen.push(&target.callee);
                    if let Callee::Number { number, byoc: None } = &target.callee {
                        let Some(table) = table() else { continue };
                        let back = plan
                            .normalize(number)
                            .ok()
                            .filter(|a| matches!(a, Address::E164(_)))
                            .and_then(|a| table.lookup(&a));
                        if back.is_some_and(|m| m.route.key() == route.key()) {
                            found(
                                "chain_loop",
                                format!("{place}: {number} is routed back to this route: dialled without a BYOC trunk it may come straight back into the chain"),
                            );
                        }
                    }
                }
            }
            if let Action::Split(split) = action {
                for (i, a) in split.shares.iter().enumerate() {
                    if let Some(j) = split.shares[..i].iter().position(|b| b.action == a.action) {
                        found(
                            "same_share",
                            format!("{place}: shares {} and {} do the same thing: merge them (their weights add up)", j + 1, i + 1),
                        );
                    }
                }
            }
        }
        if let (Some(s), Some(today)) = (&route.schedule, ctx.today) {
            let spec = s.schedule.spec();
            // A full date (YYYY-MM-DD) is one day; MM-DD recurs every year.
            let past = |date: &str| date.parse::<jiff::civil::Date>().is_ok_and(|d| d < today);
            let opens = !spec.hours.is_empty()
                || spec
                    .exceptions
                    .iter()
                    .any(|e| e.hours.as_ref().is_some_and(|h| !h.is_empty()) && !past(&e.date));
            if !opens {
                found(
                    "never_open",
                    "the schedule will never open again: no weekly hours, and its dated openings are past: every call gets `closed` (or `holiday`)".into(),
                );
            }
            for e in spec.exceptions.iter().filter(|e| past(&e.date)) {
                found(
                    "past_holiday",
                    format!(
                        "the exception {} is over and does not recur (write it MM-DD to repeat it yearly)",
                        e.date
                    ),
                );
            }
        }
        shadowed(route, &mut found);
        // Deleting it would hand its calls to a shorter prefix route, not to `*`.
        let pattern_key = route.pattern.key();
        let own_prefix = match &route.pattern {
            crate::Pattern::Prefix(p) => Some(p.as_str()),
            _ => None,
        };
        let under_prefix = (1..=pattern_key.len())
            .filter(|&n| pattern_key.is_char_boundary(n))
            .map(|n| &pattern_key[..n])
            .any(|p| Some(p) != own_prefix && prefixes.contains(&(route.scope.as_deref(), p)));
        if let Some((at, ca)) = catch_all
            .filter(|_| !under_prefix)
            .map(|at| (at, routes[at].borrow()))
        {
            if at != index
                && route.pattern != crate::Pattern::CatchAll
                && route.action == ca.action
                && route.schedule.is_none()
                && route.callers.is_empty()
                && ca.schedule.is_none()
                && ca.callers.is_empty()
                && route.scope.is_none()
            {
                found(
                    "repeats_catch_all",
                    "does exactly what the * route does: it can be deleted (unless it is there to outrank a shorter prefix route)".into(),
                );
            }
        }
    }
    out
}

/// Caller conditions another always wins over: a prefix covered by longer ones, and among
/// `verstat` conditions the first written wins, so `passed` before `A` hides `A`.
fn shadowed(route: &Route, found: &mut impl FnMut(&'static str, String)) {
    // A prefix condition whose every number meets a longer prefix condition never answers
    // (the longest prefix wins): `+1317` beside `+13170` … `+13179`.
    let prefixes: Vec<(usize, &str, bool)> = route
        .callers
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match &r.condition {
            CallerCondition::Prefix(p) => Some((i, &p[1..], r.observe)),
            _ => None,
        })
        .collect();
    for &(i, p, observe) in &prefixes {
        let longer: Vec<&str> = prefixes
            .iter()
            .filter(|&&(_, q, o)| o == observe && q.len() > p.len() && q.starts_with(p))
            .map(|&(_, q, _)| q)
            .collect();
        if !longer.is_empty() && covered(p, &longer, 0) {
            found(
                "shadowed_condition",
                format!(
                    "callers[{}] (+{p}) never answers: longer prefixes cover every number it would match",
                    i + 1
                ),
            );
        }
    }
    let verstats: Vec<(usize, Verstat, bool)> = route
        .callers
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r.condition {
            CallerCondition::Verstat(v) => Some((i, v, r.observe)),
            _ => None,
        })
        .collect();
    for (k, &(i, v, observe)) in verstats.iter().enumerate() {
        let hidden_by = verstats[..k]
            .iter()
            .find(|&&(_, earlier, earlier_observe)| {
                earlier_observe == observe
                    && (earlier == v
                        || (earlier == Verstat::Passed && matches!(v, Verstat::Attested(_))))
            });
        if let Some(&(j, earlier, _)) = hidden_by {
            found(
                "shadowed_condition",
                format!(
                    "callers[{}] (verstat={}) never answers: callers[{}] (verstat={}) matches every call it would",
                    i + 1,
                    v.name(),
                    j + 1,
                    earlier.name()
                ),
            );
        }
    }
}

/// Whether every number starting with `prefix` (digits, no `+`) meets a longer prefix of
/// `longer`: each next digit is one of them, or is covered in turn.
fn covered(prefix: &str, longer: &[&str], depth: usize) -> bool {
    if depth > 15 {
        return false;
    }
    (b'0'..=b'9').all(|d| {
        let child = format!("{prefix}{}", d as char);
        longer.contains(&child.as_str())
            || (longer
                .iter()
                .any(|p| p.len() > child.len() && p.starts_with(&child))
                && covered(&child, longer, depth + 1))
    })
}

fn describe(callee: &Callee) -> String {
    match callee {
        Callee::Number { number, .. } => number.clone(),
        Callee::Sip { uri } => uri.clone(),
        Callee::Client { identity } => format!("client {identity}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn routes(json: &str) -> Vec<Arc<Route>> {
        crate::route_file::parse_route_file(json, &NumberPlan::default())
            .unwrap()
            .sorted()
    }

    #[test]
    fn each_finding_names_its_route() {
        let r = routes(
            r#"{"routes": [
              {"pattern": "+13175550001", "url": "https://abc.example.com/inbound?x=1"},
              {"pattern": "+13175550002", "url": "http://flows.example.com/a"},
              {"pattern": "+13175550003", "url": "https://webhooks.twilio.com/v1/Accounts/AC11111111111111111111111111111111/Flows/FW00000000000000000000000000000000"},
              {"pattern": "+13175550004", "url": "https://x.example.com/a", "schedule": {"timezone": "UTC", "exceptions": [{"date": "2020-12-25", "hours": ["09:00-17:00"]}, {"date": "12-26"}], "closed": {"action": "hangup"}}},
              {"pattern": "+13175550005", "action": "dial", "targets": [{"number": "+13175550005"}, {"client": "alice"}, {"client": "alice"}]},
              {"pattern": "+13175550006", "action": "split", "shares": [{"weight": 1, "url": "https://x.example.com/a"}, {"weight": 2, "url": "https://x.example.com/a"}]},
              {"pattern": "+13175550007", "url": "https://x.example.com/a", "callers": [{"verstat": "passed", "action": "hangup"}, {"verstat": "A", "action": "reject"}]},
              {"pattern": "+13175550008", "action": "reject"},
              {"pattern": "+13175550009", "url": "https://x.example.com/fine", "callers": [{"from": "+44", "action": "hangup"}, {"from": "+441", "action": "reject"}]},
              {"pattern": "+13175550010", "url": "https://x.example.com/a", "callers": [{"from": "+3", "action": "hangup"}, {"from": "+30", "action": "reject"}, {"from": "+31", "action": "reject"}, {"from": "+32", "action": "reject"}, {"from": "+33", "action": "reject"}, {"from": "+34", "action": "reject"}, {"from": "+35", "action": "reject"}, {"from": "+36", "action": "reject"}, {"from": "+37", "action": "reject"}, {"from": "+38", "action": "reject"}, {"from": "+390", "action": "reject"}, {"from": "+391", "action": "reject"}, {"from": "+392", "action": "reject"}, {"from": "+393", "action": "reject"}, {"from": "+394", "action": "reject"}, {"from": "+395", "action": "reject"}, {"from": "+396", "action": "reject"}, {"from": "+397", "action": "reject"}, {"from": "+398", "action": "reject"}, {"from": "+399", "action": "hangup"}]},
              {"pattern": "*", "action": "reject"}
            ]}"#,
        );
        let ctx = LintContext {
            base_url: Some(url::Url::parse("https://abc.example.com").unwrap()),
            account_sid: Some("AC00000000000000000000000000000000".into()),
            today: Some(jiff::civil::date(2026, 12, 5)),
        };
        let findings = lint(&r, &NumberPlan::default(), &ctx);
        let kinds: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f.route.as_str(), f.kind))
            .collect();
        for want in [
            ("+13175550001", "loop"),
            ("+13175550002", "plain_http"),
            ("+13175550003", "other_account"),
            ("+13175550004", "never_open"),
            ("+13175550004", "past_holiday"),
            ("+13175550005", "chain_loop"),
            ("+13175550005", "chain_repeat"),
            ("+13175550006", "same_share"),
            ("+13175550007", "shadowed_condition"),
            ("+13175550008", "repeats_catch_all"),
            ("+13175550010", "shadowed_condition"),
        ] {
            assert!(kinds.contains(&want), "{want:?} not in {kinds:?}");
        }
        assert!(
            !kinds.iter().any(|(r, _)| *r == "+13175550009" || *r == "*"),
            "{kinds:?}"
        );
        // One past date only: 12-26 recurs.
        assert_eq!(kinds.iter().filter(|k| k.1 == "past_holiday").count(), 1);
        // Without a base URL or an account, those two are not judged.
        let quiet = lint(&r, &NumberPlan::default(), &LintContext::default());
        assert!(!quiet
            .iter()
            .any(|f| matches!(f.kind, "loop" | "other_account" | "past_holiday")));
    }

    #[test]
    fn loops_are_the_exact_webhooks_and_twilio_urls_are_twilio_s() {
        let base = url::Url::parse("https://API.example.com/Prod").unwrap();
        for (url, own) in [
            ("https://api.example.com/Prod/inbound", true),
            ("https://api.example.com:443/Prod/inbound/", true),
            ("https://api.example.com/Prod/outbound/next?x=1", true),
            ("https://api.example.com/Prod/inboundx", false),
            ("https://api.example.com/Prod/inbound-hours", false),
            ("https://api.example.com/prod/inbound", false),
            ("https://api.example.com/Prod/Inbound", false),
            ("https://api.example.com/Prod/inbound/../ivr", false),
            ("http://api.example.com/Prod/inbound", false),
            ("https://api.example.com:8443/Prod/inbound", false),
        ] {
            assert_eq!(is_own_webhook(url, &base), own, "{url}");
        }
        assert_eq!(
            twilio_account(
                "https://webhooks.twilio.com/v1/Accounts/ac00000000000000000000000000000001/Flows/FW0"
            ),
            Some("AC00000000000000000000000000000001".to_string())
        );
        for url in [
            "https://nottwilio.com/v1/Accounts/AC00000000000000000000000000000001/x",
            "https://webhooks.twilio.com.evil.example/v1/Accounts/AC00000000000000000000000000000001/x",
            "https://webhooks.twilio.com/v1/Accounts/ACnotasid/Flows/FW0",
        ] {
            assert_eq!(twilio_account(url), None, "{url}");
        }
        // A route that repeats `*` under a prefix route is not redundant: deleting it would
        // hand its calls to the prefix.
        let r = routes(
            r#"{"routes": [
              {"pattern": "+1317*", "url": "https://x.example.com/indiana"},
              {"pattern": "+13175550001", "action": "reject"},
              {"pattern": "+12125550001", "action": "reject"},
              {"pattern": "+13175550002", "action": "twiml", "twiml": "<Redirect>https://api.example.com/Prod/inbound</Redirect>"},
              {"pattern": "*", "action": "reject"}
            ]}"#,
        );
        let ctx = LintContext {
            base_url: Some(base),
            ..LintContext::default()
        };
        let found: Vec<(String, &str)> = lint(&r, &NumberPlan::default(), &ctx)
            .into_iter()
            .map(|f| (f.route, f.kind))
            .collect();
        assert_eq!(
            found,
            [
                ("+12125550001".to_string(), "repeats_catch_all"),
                ("+13175550002".to_string(), "loop")
            ]
        );
    }

    /// A route doing what `*` does is worth keeping when a shorter prefix route of its own
    /// scope would take its calls; the route itself and other scopes' prefixes do not count.
    #[test]
    fn a_shorter_prefix_of_the_same_scope_keeps_a_catch_all_twin() {
        let r = routes(
            r#"{"routes": [
              {"pattern": "*", "action": "reject"},
              {"pattern": "+1999*", "action": "reject"},
              {"pattern": "+19995*", "action": "hangup"},
              {"pattern": "+199955*", "action": "reject"},
              {"pattern": "+1888*", "action": "reject"},
              {"pattern": "+188*", "action": "hangup", "scope": "a.sip.twilio.com"},
              {"pattern": "+17775550000", "action": "reject"},
              {"pattern": "+1777*", "action": "hangup"}
            ]}"#,
        );
        let twins: Vec<String> = lint(&r, &NumberPlan::default(), &LintContext::default())
            .into_iter()
            .filter(|f| f.kind == "repeats_catch_all")
            .map(|f| f.route)
            .collect();
        assert_eq!(twins, ["+1888*", "+1999*"]);
    }
}
