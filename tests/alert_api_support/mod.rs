//! A fixture engine behind the alerting HTTP API, served on loopback, for the API's
//! tests: five alerts in every state, two rule groups, and the acks it was given.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use voxscope::alert::eval::{ActiveAlert, AlertState, Labels};
use voxscope_alerting::api::{
    Ack, AckError, AlertSource, AlertView, AlertingRuleView, ApiSettings, ApiToken,
    RecordingRuleView, RuleEvaluation, RuleGroupView, RuleHealth, RuleView, router,
};
use voxscope_alerting::silence::Silences;

pub const TOKEN: &str = "s3cret-token";
/// 2023-11-14T22:15:00Z.
pub const NOW: i64 = 1_700_000_100_000;

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

pub struct Fixture {
    /// `None`: the wall clock (amtool stamps silences with it).
    pub now: Option<i64>,
    pub alerts: Vec<AlertView>,
    pub groups: Vec<RuleGroupView>,
    pub acks: Mutex<Vec<(String, Ack)>>,
}

impl AlertSource for Fixture {
    fn now_ms(&self) -> i64 {
        self.now.unwrap_or_else(Self::wall)
    }

    fn alerts(&self) -> Vec<AlertView> {
        self.alerts.clone()
    }

    fn rule_groups(&self) -> Vec<RuleGroupView> {
        self.groups.clone()
    }

    fn ack(&self, fingerprint: &str, ack: Ack) -> Result<(), AckError> {
        let alert = self.alerts.iter().find(|a| a.fingerprint == fingerprint);
        match alert {
            None => Err(AckError::NotFound(fingerprint.to_owned())),
            Some(a) if a.alert.state != AlertState::Firing => {
                Err(AckError::Rejected("only firing alerts can be acknowledged".into()))
            }
            Some(_) => {
                self.acks.lock().unwrap().push((fingerprint.to_owned(), ack));
                Ok(())
            }
        }
    }
}

pub struct AlertSpec {
    fingerprint: &'static str,
    labels: Labels,
    state: AlertState,
    receivers: &'static [&'static str],
    inhibited_by: &'static [&'static str],
    value: f64,
}

pub fn view(spec: AlertSpec, now: i64) -> AlertView {
    let firing_or_resolved = spec.state != AlertState::Pending;
    AlertView {
        alert: ActiveAlert {
            annotations: labels(&[("summary", &format!("{} is off", spec.labels["alertname"]))]),
            labels: spec.labels,
            state: spec.state,
            active_at_ms: now - 100_000,
            fired_at_ms: firing_or_resolved.then_some(now - 40_000),
            resolved_at_ms: (spec.state == AlertState::Inactive).then_some(now - 10_000),
            keep_firing_since_ms: None,
            value: spec.value,
        },
        fingerprint: spec.fingerprint.to_owned(),
        receivers: spec.receivers.iter().map(|r| (*r).to_owned()).collect(),
        inhibited_by: spec.inhibited_by.iter().map(|r| (*r).to_owned()).collect(),
        generator_url: String::new(),
    }
}

pub const WARNING: &str = "0000000000000001";
pub const CRITICAL: &str = "0000000000000002";
pub const PENDING: &str = "0000000000000003";
pub const RESOLVED: &str = "0000000000000004";
pub const TTFB: &str = "0000000000000005";

/// Five alerts: a warning inhibited by the critical of the same alert, a pending one, a
/// resolved one, and a firing one kept firing by `keep_firing_for`.
pub fn alerts(now: i64) -> Vec<AlertView> {
    let error_rate = |severity| labels(&[("alertname", "HighErrorRate"), ("severity", severity)]);
    let mut ttfb = view(
        AlertSpec {
            fingerprint: TTFB,
            labels: labels(&[("alertname", "ProviderTtfb"), ("provider", "deepgram")]),
            state: AlertState::Firing,
            receivers: &["quality"],
            inhibited_by: &[],
            value: 1234.5,
        },
        now,
    );
    ttfb.alert.keep_firing_since_ms = Some(now - 5_000);
    ttfb.generator_url = "http://127.0.0.1:3000/api/v1/rules?rule_name[]=ProviderTtfb".into();
    vec![
        view(
            AlertSpec {
                fingerprint: WARNING,
                labels: error_rate("warning"),
                state: AlertState::Firing,
                receivers: &["warning"],
                inhibited_by: &[CRITICAL],
                value: 0.0523,
            },
            now,
        ),
        view(
            AlertSpec {
                fingerprint: CRITICAL,
                labels: error_rate("critical"),
                state: AlertState::Firing,
                receivers: &["critical"],
                inhibited_by: &[],
                value: 0.2,
            },
            now,
        ),
        view(
            AlertSpec {
                fingerprint: PENDING,
                labels: labels(&[("alertname", "CallLatency")]),
                state: AlertState::Pending,
                receivers: &["warning"],
                inhibited_by: &[],
                value: 1.0,
            },
            now,
        ),
        view(
            AlertSpec {
                fingerprint: RESOLVED,
                labels: labels(&[("alertname", "MemoryHigh")]),
                state: AlertState::Inactive,
                receivers: &["warning"],
                inhibited_by: &[],
                value: 0.0,
            },
            now,
        ),
        ttfb,
    ]
}

pub fn groups(now: i64) -> Vec<RuleGroupView> {
    let all = alerts(now);
    let evaluated = RuleEvaluation {
        health: RuleHealth::Ok,
        last_error: None,
        last_evaluation_ms: Some(now - 5_000),
        evaluation_seconds: 0.002,
    };
    vec![
        RuleGroupView {
            name: "voxscope".into(),
            file: "voxscope.rules".into(),
            interval_seconds: 5.0,
            last_evaluation_ms: Some(now - 5_000),
            evaluation_seconds: 0.004,
            rules: vec![
                RuleView::Recording(RecordingRuleView {
                    name: "slo:sli_error:ratio_rate5m".into(),
                    query: "sum(rate(errors[5m])) / sum(rate(calls[5m]))".into(),
                    labels: Labels::new(),
                    evaluation: evaluated.clone(),
                }),
                RuleView::Alerting(AlertingRuleView {
                    name: "MemoryHigh".into(),
                    query: "process_resident_memory_bytes > 1e9".into(),
                    duration_seconds: 300.0,
                    keep_firing_for_seconds: 60.0,
                    labels: labels(&[("severity", "warning")]),
                    annotations: labels(&[("summary", "memory is off")]),
                    alerts: vec![all[3].alert.clone(), all[2].alert.clone()],
                    evaluation: RuleEvaluation {
                        health: RuleHealth::Err,
                        last_error: Some("many-to-many matching".into()),
                        ..evaluated.clone()
                    },
                }),
            ],
        },
        RuleGroupView {
            name: "meta".into(),
            file: "voxscope.rules".into(),
            interval_seconds: 60.0,
            last_evaluation_ms: None,
            evaluation_seconds: 0.0,
            rules: vec![RuleView::Alerting(AlertingRuleView {
                name: "Watchdog".into(),
                query: "vector(1)".into(),
                duration_seconds: 0.0,
                keep_firing_for_seconds: 0.0,
                labels: Labels::new(),
                annotations: Labels::new(),
                alerts: Vec::new(),
                evaluation: RuleEvaluation {
                    health: RuleHealth::Unknown,
                    last_error: None,
                    last_evaluation_ms: None,
                    evaluation_seconds: 0.0,
                },
            })],
        },
    ]
}

pub struct Server {
    pub base: String,
    pub fixture: Arc<Fixture>,
    pub silences: Silences,
}

/// Serves the API over `fixture` on its own thread and runtime.
pub fn serve(now: Option<i64>, token: Option<&str>) -> Server {
    let at = now.unwrap_or(NOW);
    let fixture = Arc::new(Fixture {
        now,
        alerts: alerts(now.unwrap_or_else(Fixture::wall)),
        groups: groups(at),
        acks: Mutex::new(Vec::new()),
    });
    let silences = Silences::default();
    let mut settings = ApiSettings::new(token.and_then(ApiToken::new));
    settings.started_at_ms = at - 3_600_000;
    settings.alertmanager_config = "route:\n  receiver: default\n".into();
    let app = router(fixture.clone(), silences.clone(), settings);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    Server { base: format!("http://{addr}"), fixture, silences }
}

impl Fixture {
    pub fn wall() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
    }
}

pub async fn get(url: String) -> (u16, Value) {
    let response = reqwest::get(&url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn send(
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, &url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn fingerprints(body: &Value) -> Vec<&str> {
    body.as_array().unwrap().iter().map(|a| a["fingerprint"].as_str().unwrap()).collect()
}

/// The structure of a JSON value: object keys with their structures (label sets as one
/// token), the first element of arrays, the type of scalars.
pub fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let s = if k == "labels" || k == "annotations" {
                        json!("labelset")
                    } else {
                        shape(v)
                    };
                    (k.clone(), s)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

pub fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().unwrap().remove(key);
    value
}
