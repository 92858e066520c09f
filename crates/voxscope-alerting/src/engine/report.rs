//! `GET /api/v1/report?since=7d&format=html`: the KPI report over the engine's own
//! store, the figures `voxscope report` reads from a Prometheus.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Semaphore;
use voxscope_alert::report::Format;

use super::AlertEngine;
use crate::api::query::QueryPairs;

/// The longest period a report covers: what the store can hold.
const MAX_PERIOD: Duration = Duration::from_secs(31 * 86_400);

/// What the route shares: the engine, the metrics its report reads, and one report at a
/// time.
pub(crate) struct ReportRoute {
    engine: AlertEngine,
    metrics: Vec<String>,
    one_at_a_time: Semaphore,
}

/// The route over `engine`, reading its report.
pub(crate) fn router(engine: AlertEngine) -> Router {
    let metrics = engine.report.metrics();
    let state = Arc::new(ReportRoute { engine, metrics, one_at_a_time: Semaphore::new(1) });
    Router::new().route("/api/v1/report", get(report)).with_state(state)
}

fn bad_request(error: String) -> Response {
    crate::api::prometheus::failure(StatusCode::BAD_REQUEST, "bad_data", error)
}

/// `since` (default `7d`, at most 31 days) and `format` (`md`, `json` or `html`,
/// default `html`). The series the report reads are copied under the engine's lock and
/// read outside it, one report at a time, off the runtime's threads.
async fn report(State(route): State<Arc<ReportRoute>>, RawQuery(raw): RawQuery) -> Response {
    let query = QueryPairs::parse(raw.as_deref());
    let since = query.last("since").unwrap_or("7d");
    let period = match humantime::parse_duration(since) {
        Ok(period) if period >= Duration::from_secs(1) && period <= MAX_PERIOD => period,
        Ok(_) => return bad_request(format!("since: {since:?} is not between 1s and 31d")),
        Err(e) => return bad_request(format!("since: {since:?}: {e}")),
    };
    let format = query.last("format").unwrap_or("html");
    let Some(format) = Format::parse(format) else {
        return bad_request(format!("format: {format:?} is not md, json or html"));
    };
    let Ok(_permit) = route.one_at_a_time.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let now_ms = route.engine.clock().now_ms();
    let storage = route.engine.with_storage(|store| store.with_metrics(&route.metrics));
    let read = Arc::clone(&route);
    let built = tokio::task::spawn_blocking(move || {
        read.engine.report.run(&storage, now_ms, period.as_secs()).map(|r| format.render(&r))
    })
    .await;
    match built {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Ok(Err(e)) => crate::api::prometheus::failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "execution",
            e.to_string(),
        ),
        Err(e) => crate::api::prometheus::failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the report stopped: {e}"),
        ),
    }
}
