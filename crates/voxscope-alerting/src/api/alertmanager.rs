//! Alertmanager API v2 `GET /status` and `GET /alerts`, in the shapes of Alertmanager's
//! `api/v2/openapi.yaml`, so `amtool alert query` and other Alertmanager clients list
//! the engine's firing alerts with their silenced and inhibited status.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use regex::Regex;
use serde::Serialize;
use voxscope_alert::eval::{AlertState, Labels};

use super::ApiState;
use super::matchers::parse_matcher;
use super::query::QueryPairs;
use super::time::format_ms;
use crate::silence::LabelMatcher;

/// An Alertmanager error: the message as a JSON string, as go-swagger writes it.
pub(crate) fn am_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(message.into())).into_response()
}

/// Parses `filter` parameters into compiled matchers.
pub(crate) fn filter_matchers(query: &QueryPairs) -> Result<Vec<LabelMatcher>, String> {
    query
        .all("filter")
        .into_iter()
        .map(|text| {
            let matcher = parse_matcher(text)?;
            LabelMatcher::new(matcher).map_err(|e| e.to_string())
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    cluster: Cluster,
    version_info: VersionInfo,
    config: ConfigJson,
    uptime: String,
}

#[derive(Serialize)]
struct Cluster {
    status: &'static str,
    peers: [(); 0],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionInfo {
    version: &'static str,
    revision: &'static str,
    branch: &'static str,
    build_user: &'static str,
    build_date: &'static str,
    go_version: &'static str,
}

#[derive(Serialize)]
struct ConfigJson {
    original: String,
}

pub(crate) async fn status(State(state): State<Arc<ApiState>>) -> Response {
    Json(Status {
        cluster: Cluster { status: "disabled", peers: [] },
        version_info: VersionInfo {
            version: concat!("voxscope-", env!("CARGO_PKG_VERSION")),
            revision: "",
            branch: "",
            build_user: "voxscope",
            build_date: "",
            go_version: "none",
        },
        config: ConfigJson { original: state.settings.alertmanager_config.clone() },
        uptime: format_ms(state.settings.started_at_ms),
    })
    .into_response()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableAlert<'a> {
    annotations: &'a Labels,
    ends_at: String,
    fingerprint: &'a str,
    receivers: Vec<Receiver<'a>>,
    starts_at: String,
    status: AlertStatus,
    updated_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
    labels: &'a Labels,
}

#[derive(Serialize)]
struct Receiver<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertStatus {
    state: &'static str,
    silenced_by: Vec<String>,
    inhibited_by: Vec<String>,
}

/// Which alerts `GET /alerts` keeps: Alertmanager's `active`, `silenced`, `inhibited`
/// (default true each), `filter` matchers and `receiver` regex.
struct AlertFilter {
    active: bool,
    silenced: bool,
    inhibited: bool,
    matchers: Vec<LabelMatcher>,
    receiver: Option<Regex>,
}

impl AlertFilter {
    fn parse(query: &QueryPairs) -> Result<Self, String> {
        // Every alert is processed by the time it is listed, so `unprocessed` selects
        // nothing; it is still checked for syntax.
        query.flag("unprocessed", true)?;
        let receiver = match query.last("receiver").filter(|r| !r.is_empty()) {
            None => None,
            Some(re) => Some(
                Regex::new(&format!("^(?:{re})$"))
                    .map_err(|e| format!("failed to parse receiver param: {e}"))?,
            ),
        };
        Ok(Self {
            active: query.flag("active", true)?,
            silenced: query.flag("silenced", true)?,
            inhibited: query.flag("inhibited", true)?,
            matchers: filter_matchers(query)?,
            receiver,
        })
    }
}

pub(crate) async fn alerts(
    State(state): State<Arc<ApiState>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let filter = match AlertFilter::parse(&QueryPairs::parse(raw.as_deref())) {
        Ok(filter) => filter,
        Err(message) => return am_error(StatusCode::BAD_REQUEST, message),
    };
    let now = state.source.now_ms();
    let views = state.source.alerts();
    let silences = state.silences.lock();
    let mut out: Vec<GettableAlert<'_>> = views
        .iter()
        // Alertmanager holds what Prometheus sends it: firing alerts, and resolved ones
        // whose end passed and which it no longer lists.
        .filter(|v| v.alert.state == AlertState::Firing)
        .filter_map(|v| {
            let silenced_by = silences.silenced_by(&v.alert.labels, now);
            let suppressed = !silenced_by.is_empty() || !v.inhibited_by.is_empty();
            let keep = (filter.active || suppressed)
                && (filter.silenced || silenced_by.is_empty())
                && (filter.inhibited || v.inhibited_by.is_empty())
                && filter.matchers.iter().all(|m| m.matches(&v.alert.labels))
                && filter
                    .receiver
                    .as_ref()
                    .is_none_or(|re| v.receivers.iter().any(|r| re.is_match(r)));
            keep.then(|| GettableAlert {
                annotations: &v.alert.annotations,
                ends_at: format_ms(now.saturating_add(state.settings.alert_validity_ms)),
                fingerprint: &v.fingerprint,
                receivers: v.receivers.iter().map(|name| Receiver { name }).collect(),
                starts_at: format_ms(v.alert.fired_at_ms.unwrap_or(v.alert.active_at_ms)),
                status: AlertStatus {
                    state: if suppressed { "suppressed" } else { "active" },
                    silenced_by,
                    inhibited_by: v.inhibited_by.clone(),
                },
                updated_at: format_ms(now),
                generator_url: &v.generator_url,
                labels: &v.alert.labels,
            })
        })
        .collect();
    drop(silences);
    out.sort_by(|a, b| a.fingerprint.cmp(b.fingerprint));
    Json(out).into_response()
}
