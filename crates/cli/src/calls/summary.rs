//! `--summary`: calls per route with their outcomes, the numbers that fell through, counts and
//! latency. Built here from lines (a file) or from Logs Insights' aggregates (CloudWatch); both
//! give the same [`Summary`].

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::line::Call;

/// Rows kept per table: the busiest first.
pub const ROWS_MAX: usize = 1000;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Calls answered by `/inbound` or `/inbound/fallback` (a call whose primary answer
    /// failed, Twilio then asking the fallback, counts in each).
    pub inbound_calls: u64,
    /// Of those, answered by the fallback because the store failed.
    pub degraded: u64,
    /// Of those, rejected because no route matched and no default was set (a `reject`
    /// route's calls are `matched`).
    pub rejected: u64,
    /// Over those answers.
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    /// The busiest first.
    pub routes: Vec<RouteRow>,
    /// The numbers with no route of their own, most calls first.
    pub fall_through: Vec<NumberRow>,
    /// Every endpoint's lines, by outcome.
    pub endpoints: Vec<EndpointRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteRow {
    /// The route's pattern; `""` when no route matched.
    pub pattern: String,
    pub calls: u64,
    pub outcomes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NumberRow {
    pub did: String,
    pub outcome: String,
    pub calls: u64,
    /// RFC 3339.
    pub last_call: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EndpointRow {
    pub endpoint: String,
    pub outcome: String,
    /// Lines: a call has one per request (`/inbound`, then `/inbound/status`…).
    pub lines: u64,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
}

/// Builds a summary from call lines, one at a time.
#[derive(Default)]
pub struct Builder {
    routes: HashMap<String, BTreeMap<String, u64>>,
    numbers: HashMap<(String, String), (u64, jiff::Timestamp)>,
    endpoints: HashMap<(String, String), Vec<u64>>,
    inbound_latency: Vec<u64>,
}

impl Builder {
    pub fn add(&mut self, call: &Call) {
        let latency = call.latency_us();
        let key = (call.endpoint().to_string(), call.outcome().to_string());
        let samples = self.endpoints.entry(key).or_default();
        if let Some(us) = latency {
            samples.push(us);
        } else {
            // Counted, with no latency: a zero would pull the percentiles down.
            samples.push(u64::MAX);
        }
        if !call.is_inbound_answer() {
            return;
        }
        if let Some(us) = latency {
            self.inbound_latency.push(us);
        }
        *self
            .routes
            .entry(call.pattern().to_string())
            .or_default()
            .entry(call.outcome().to_string())
            .or_default() += 1;
        if call.fell_through() {
            let entry = self
                .numbers
                .entry((call.did().to_string(), call.outcome().to_string()))
                .or_insert((0, call.at));
            entry.0 += 1;
            entry.1 = entry.1.max(call.at);
        }
    }

    pub fn finish(self) -> Summary {
        let mut summary = with_routes(self.routes);
        let mut inbound = self.inbound_latency;
        (summary.p50_us, summary.p99_us) = percentiles(&mut inbound);
        let mut numbers: Vec<NumberRow> = self
            .numbers
            .into_iter()
            .map(|((did, outcome), (calls, last))| NumberRow {
                did,
                outcome,
                calls,
                last_call: last.to_string(),
            })
            .collect();
        numbers.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.did.cmp(&b.did)));
        numbers.truncate(ROWS_MAX);
        summary.fall_through = numbers;
        let mut endpoints: Vec<EndpointRow> = self
            .endpoints
            .into_iter()
            .map(|((endpoint, outcome), mut samples)| {
                let lines = samples.len() as u64;
                samples.retain(|&us| us != u64::MAX);
                let (p50_us, p99_us) = percentiles(&mut samples);
                EndpointRow {
                    endpoint,
                    outcome,
                    lines,
                    p50_us,
                    p99_us,
                }
            })
            .collect();
        endpoints.sort_by(|a, b| {
            (a.endpoint.as_str(), b.lines, a.outcome.as_str()).cmp(&(
                b.endpoint.as_str(),
                a.lines,
                b.outcome.as_str(),
            ))
        });
        summary.endpoints = endpoints;
        summary
    }
}

/// A summary of these calls per route and outcome: the route rows (busiest first), the
/// inbound count and its degraded and rejected calls.
fn with_routes(by_pattern: HashMap<String, BTreeMap<String, u64>>) -> Summary {
    let mut routes: Vec<RouteRow> = by_pattern
        .into_iter()
        .map(|(pattern, outcomes)| RouteRow {
            pattern,
            calls: outcomes.values().sum(),
            outcomes,
        })
        .collect();
    let outcome_total = |name: &str| -> u64 {
        routes
            .iter()
            .map(|r| r.outcomes.get(name).copied().unwrap_or(0))
            .sum()
    };
    let summary = Summary {
        inbound_calls: routes.iter().map(|r| r.calls).sum(),
        degraded: outcome_total("degraded"),
        rejected: outcome_total("rejected"),
        ..Summary::default()
    };
    routes.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.pattern.cmp(&b.pattern)));
    routes.truncate(ROWS_MAX);
    Summary { routes, ..summary }
}

/// The 50th and 99th percentiles (nearest rank).
fn percentiles(samples: &mut [u64]) -> (Option<u64>, Option<u64>) {
    if samples.is_empty() {
        return (None, None);
    }
    samples.sort_unstable();
    let rank = |p: u64| {
        let n = samples.len() as u64;
        // Nearest rank: ceil(p/100 × n), from 1.
        let r = (p * n).div_ceil(100).max(1);
        samples[(r - 1) as usize]
    };
    (Some(rank(50)), Some(rank(99)))
}

/// One row of a Logs Insights answer: its fields by name.
pub type Row = HashMap<String, String>;

/// The Logs Insights queries a summary is made of, over `filter` (the window is the query's
/// own). Each query's answer goes to [`from_insights`] in this order.
pub fn insights_queries(filter: &str) -> [String; 4] {
    let base = format!("filter message = \"call answered\"{filter}");
    let inbound = format!("{base} and endpoint in [\"inbound\", \"inbound_fallback\"]");
    [
        format!(
            "{inbound}\n| stats count(*) as calls by pattern, outcome\n| sort calls desc\n| limit {ROWS_MAX}"
        ),
        format!(
            "{inbound} and outcome != \"degraded\" and (pattern = \"*\" or pattern = \"\" or outcome in [\"default\", \"rejected\", \"bad_input\"])\n\
             | stats count(*) as calls, max(@timestamp) as last_call by did, outcome\n| sort calls desc\n| limit {ROWS_MAX}"
        ),
        format!(
            "{base}\n| stats count(*) as calls, pct(latency_us, 50) as p50_us, pct(latency_us, 99) as p99_us by endpoint, outcome\n| limit {ROWS_MAX}"
        ),
        format!("{inbound}\n| stats pct(latency_us, 50) as p50_us, pct(latency_us, 99) as p99_us"),
    ]
}

/// A summary from the four answers of [`insights_queries`]. Insights gives every value as text;
/// a value it leaves out (a field absent from every line of a group) reads as empty.
pub fn from_insights(answers: [&[Row]; 4]) -> Result<Summary, String> {
    let [routes, numbers, endpoints, inbound] = answers;
    let text = |row: &Row, key: &str| row.get(key).cloned().unwrap_or_default();
    let count = |row: &Row| -> Result<u64, String> {
        let value = text(row, "calls");
        value
            .parse()
            .map_err(|_| format!("Logs Insights answered calls = `{value}`, not a count"))
    };
    // Percentiles may come back as decimals ("212.5").
    let micros = |row: &Row, key: &str| -> Option<u64> {
        row.get(key)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v.round() as u64)
    };
    let mut by_pattern: HashMap<String, BTreeMap<String, u64>> = HashMap::new();
    for row in routes {
        *by_pattern
            .entry(text(row, "pattern"))
            .or_default()
            .entry(text(row, "outcome"))
            .or_default() += count(row)?;
    }
    let mut summary = with_routes(by_pattern);
    for row in numbers {
        summary.fall_through.push(NumberRow {
            did: text(row, "did"),
            outcome: text(row, "outcome"),
            calls: count(row)?,
            last_call: insights_time(&text(row, "last_call")),
        });
    }
    summary
        .fall_through
        .sort_by(|a, b| b.calls.cmp(&a.calls).then(a.did.cmp(&b.did)));
    for row in endpoints {
        summary.endpoints.push(EndpointRow {
            endpoint: text(row, "endpoint"),
            outcome: text(row, "outcome"),
            lines: count(row)?,
            p50_us: micros(row, "p50_us"),
            p99_us: micros(row, "p99_us"),
        });
    }
    summary.endpoints.sort_by(|a, b| {
        (a.endpoint.as_str(), b.lines, a.outcome.as_str()).cmp(&(
            b.endpoint.as_str(),
            a.lines,
            b.outcome.as_str(),
        ))
    });
    if let Some(row) = inbound.first() {
        summary.p50_us = micros(row, "p50_us");
        summary.p99_us = micros(row, "p99_us");
    }
    Ok(summary)
}

/// Insights writes times as `2026-12-05 15:28:29.966` (UTC): RFC 3339 like the file reader's.
fn insights_time(value: &str) -> String {
    let iso = value.replacen(' ', "T", 1);
    match format!("{iso}Z").parse::<jiff::Timestamp>() {
        Ok(at) => at.to_string(),
        Err(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::line::Line;
    use super::*;

    fn call(endpoint: &str, did: &str, pattern: &str, outcome: &str, us: u64, at: &str) -> Call {
        let text = serde_json::json!({
            "timestamp": at, "message": "call answered", "endpoint": endpoint,
            "call_sid": "CA1", "did": did, "pattern": pattern, "outcome": outcome,
            "latency_us": us,
        })
        .to_string();
        match Line::parse(&text, None) {
            Line::Call(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn counts_routes_numbers_and_latency() {
        let mut b = Builder::default();
        for i in 0..98 {
            b.add(&call(
                "inbound",
                "+13175550100",
                "+13175550100",
                "matched",
                100 + i,
                "2026-12-05T15:00:00Z",
            ));
        }
        b.add(&call(
            "inbound",
            "+442079460000",
            "*",
            "matched",
            5000,
            "2026-12-05T15:01:00Z",
        ));
        b.add(&call(
            "inbound",
            "+442079460000",
            "*",
            "matched",
            6000,
            "2026-12-05T15:02:00Z",
        ));
        b.add(&call(
            "inbound_fallback",
            "+19995550000",
            "",
            "default",
            300,
            "2026-12-05T15:03:00Z",
        ));
        b.add(&call(
            "inbound",
            "+13175550100",
            "",
            "degraded",
            400,
            "2026-12-05T15:04:00Z",
        ));
        b.add(&call(
            "inbound_status",
            "+13175550100",
            "",
            "completed",
            50,
            "2026-12-05T15:04:00Z",
        ));
        let s = b.finish();
        assert_eq!(s.inbound_calls, 102);
        assert_eq!(s.degraded, 1);
        assert_eq!(s.rejected, 0);
        assert_eq!(s.routes[0].pattern, "+13175550100");
        assert_eq!(s.routes[0].calls, 98);
        // Two calls each: by pattern then.
        assert_eq!(s.routes[1].pattern, "");
        assert_eq!(s.routes[1].outcomes["default"], 1);
        assert_eq!(s.routes[1].outcomes["degraded"], 1);
        assert_eq!(s.routes[2].pattern, "*");
        assert_eq!(s.fall_through.len(), 2, "{:?}", s.fall_through);
        assert_eq!(s.fall_through[0].did, "+442079460000");
        assert_eq!(s.fall_through[0].calls, 2);
        assert_eq!(s.fall_through[0].last_call, "2026-12-05T15:02:00Z");
        // 102 inbound samples: 100..197, 300, 400, 5000, 6000.
        assert_eq!(s.p50_us, Some(150));
        assert_eq!(s.p99_us, Some(5000));
        let status = s
            .endpoints
            .iter()
            .find(|e| e.endpoint == "inbound_status")
            .unwrap();
        assert_eq!((status.lines, status.p50_us), (1, Some(50)));
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentiles(&mut []), (None, None));
        assert_eq!(percentiles(&mut [7]), (Some(7), Some(7)));
        let mut hundred: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentiles(&mut hundred), (Some(50), Some(99)));
    }

    /// Logs Insights answers, as GetQueryResults returns them (recorded shape: every value a
    /// string, `last_call` in Insights' own time format, percentiles as decimals).
    const RECORDED: &str = r#"{
      "routes": {"status": "Complete", "results": [
        [{"field": "pattern", "value": "+13175550100"}, {"field": "outcome", "value": "matched"}, {"field": "calls", "value": "98"}],
        [{"field": "pattern", "value": "*"}, {"field": "outcome", "value": "matched"}, {"field": "calls", "value": "2"}],
        [{"field": "pattern", "value": ""}, {"field": "outcome", "value": "default"}, {"field": "calls", "value": "1"}],
        [{"field": "outcome", "value": "degraded"}, {"field": "calls", "value": "1"}]
      ]},
      "numbers": {"status": "Complete", "results": [
        [{"field": "did", "value": "+19995550000"}, {"field": "outcome", "value": "default"}, {"field": "calls", "value": "1"}, {"field": "last_call", "value": "2026-12-05 15:03:00.000"}],
        [{"field": "did", "value": "+442079460000"}, {"field": "outcome", "value": "matched"}, {"field": "calls", "value": "2"}, {"field": "last_call", "value": "2026-12-05 15:02:00.000"}]
      ]},
      "endpoints": {"status": "Complete", "results": [
        [{"field": "endpoint", "value": "inbound"}, {"field": "outcome", "value": "matched"}, {"field": "calls", "value": "100"}, {"field": "p50_us", "value": "149.5"}, {"field": "p99_us", "value": "5000"}],
        [{"field": "endpoint", "value": "inbound_status"}, {"field": "outcome", "value": "completed"}, {"field": "calls", "value": "1"}]
      ]},
      "inbound": {"status": "Complete", "results": [
        [{"field": "p50_us", "value": "150.2"}, {"field": "p99_us", "value": "5000.0"}]
      ]}
    }"#;

    fn rows(answer: &serde_json::Value) -> Vec<Row> {
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        (
                            f["field"].as_str().unwrap().to_string(),
                            f["value"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn reads_recorded_insights_answers() {
        let recorded: serde_json::Value = serde_json::from_str(RECORDED).unwrap();
        let [a, b, c, d] =
            ["routes", "numbers", "endpoints", "inbound"].map(|k| rows(&recorded[k]));
        let s = from_insights([&a, &b, &c, &d]).unwrap();
        assert_eq!(s.inbound_calls, 102);
        assert_eq!(s.degraded, 1);
        assert_eq!(s.routes[0].pattern, "+13175550100");
        // A group whose pattern Insights left out is the no-route group.
        let none = s.routes.iter().find(|r| r.pattern.is_empty()).unwrap();
        assert_eq!(none.calls, 2);
        assert_eq!(s.fall_through[0].did, "+442079460000");
        assert_eq!(s.fall_through[0].last_call, "2026-12-05T15:02:00Z");
        assert_eq!((s.p50_us, s.p99_us), (Some(150), Some(5000)));
        assert_eq!(s.endpoints[0].p50_us, Some(150));
        assert_eq!(s.endpoints[1].p50_us, None);
    }

    #[test]
    fn an_insights_count_that_is_not_a_number_is_an_error() {
        let row: Row = [("calls".to_string(), "many".to_string())].into();
        let err = from_insights([&[row], &[], &[], &[]]).unwrap_err();
        assert!(err.contains("many"), "{err}");
    }

    #[test]
    fn queries_carry_the_filter_and_the_fall_through_rule() {
        let q = insights_queries(" and did = \"+13175550100\"");
        assert!(q.iter().all(|q| q.contains("and did = \"+13175550100\"")));
        assert!(q[1].contains("outcome != \"degraded\""));
        assert!(q[1].contains("pattern = \"*\""));
    }
}
