//! The Calls tab's API: `GET /api/calls`, over the reader `byoc calls` uses.
//!
//! Query: `since`, `until`, `number`, `outcome`, `limit` (as the flags); with `call=CA…` the
//! answer is that call's lines instead of the summary and recent calls.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use super::{json, refuse, Console};
use crate::calls::{self, Call, Progress, Query};

type Shared = State<std::sync::Arc<Console>>;

/// Recent calls sent to the page at most.
const LIMIT_MAX: usize = 1000;

pub(super) async fn calls(State(console): Shared, RawQuery(query): RawQuery) -> Response {
    let Some(logs) = &console.calls else {
        return refuse(
            StatusCode::NOT_FOUND,
            "no calls to show: restart the console with --calls FILE (byoc serve --log-format json), --stack NAME or --log-group NAME",
        );
    };
    let mut fields = std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        fields.insert(k.into_owned(), v.into_owned());
    }
    let field = |name: &str| fields.get(name).map(String::as_str);
    let limit = match field("limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=LIMIT_MAX).contains(&n) => n,
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("limit: a whole number from 1 to {LIMIT_MAX}"),
            )
        }
    };
    let query = match Query::parse(
        field("since"),
        field("until"),
        field("number"),
        field("call"),
        field("outcome"),
        limit,
        Some(&console.config.inbound.plan),
    ) {
        Ok(query) => query,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &e),
    };
    let window = json!({
        "since": query.window.since.to_string(),
        "until": query.window.until.to_string(),
    });
    // One reading at a time: a second refresh waits rather than reading the same log again
    // beside the first.
    let _reading = console.calls_reading.lock().await;
    let progress = Progress::none();
    if query.filter.call.is_some() {
        return match calls::recent(logs, &query, &progress).await {
            Ok(recent) => json(
                StatusCode::OK,
                &json!({
                    "source": logs.describe(),
                    "window": window,
                    "tally": recent.tally,
                    "lines": recent.calls.iter().map(Call::to_json).collect::<Vec<_>>(),
                }),
            ),
            Err(failure) => refuse(StatusCode::BAD_GATEWAY, &format!("{:#}", failure.error)),
        };
    }
    match calls::overview(logs, &query, &progress).await {
        Ok((summary, recent)) => {
            let mut answer = json!({
                "source": logs.describe(),
                "window": window,
                "tally": recent.tally,
                "calls": recent.calls.iter().map(Call::to_json).collect::<Vec<_>>(),
            });
            match summary {
                Ok(summary) => answer["summary"] = json!(summary),
                // The lines are still worth showing; the page says why the summary is not.
                Err(e) => answer["summary_error"] = e.into(),
            }
            json(StatusCode::OK, &answer)
        }
        Err(failure) => refuse(StatusCode::BAD_GATEWAY, &format!("{:#}", failure.error)),
    }
}
