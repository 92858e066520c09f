//! The embedded engine's HTTP API on loopback over a fixture engine: Prometheus's
//! `/api/v1/alerts` and `/api/v1/rules` shapes, the Alertmanager v2 alerts and silences
//! (HTTP, then the real amtool), the bearer token and the ack endpoint.

mod alert_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use voxscope::alert::eval::{ActiveAlert, AlertState, Labels};
use voxscope_alerting::api::{
    Ack, AckError, AlertSource, AlertView, AlertingRuleView, ApiSettings, ApiToken,
    RecordingRuleView, RuleEvaluation, RuleGroupView, RuleHealth, RuleView, router,
};
use voxscope_alerting::silence::{SilenceState, Silences};

use alert_support::{TempDir, run, tool};

const TOKEN: &str = "s3cret-token";
/// 2023-11-14T22:15:00Z.
const NOW: i64 = 1_700_000_100_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

struct Fixture {
    /// `None`: the wall clock (amtool stamps silences with it).
    now: Option<i64>,
    alerts: Vec<AlertView>,
    groups: Vec<RuleGroupView>,
    acks: Mutex<Vec<(String, Ack)>>,
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

struct AlertSpec {
    fingerprint: &'static str,
    labels: Labels,
    state: AlertState,
    receivers: &'static [&'static str],
    inhibited_by: &'static [&'static str],
    value: f64,
}

fn view(spec: AlertSpec, now: i64) -> AlertView {
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

const WARNING: &str = "0000000000000001";
const CRITICAL: &str = "0000000000000002";
const PENDING: &str = "0000000000000003";
const RESOLVED: &str = "0000000000000004";
const TTFB: &str = "0000000000000005";

/// Five alerts: a warning inhibited by the critical of the same alert, a pending one, a
/// resolved one, and a firing one kept firing by `keep_firing_for`.
fn alerts(now: i64) -> Vec<AlertView> {
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

fn groups(now: i64) -> Vec<RuleGroupView> {
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

struct Server {
    base: String,
    fixture: Arc<Fixture>,
    silences: Silences,
}

/// Serves the API over `fixture` on its own thread and runtime.
fn serve(now: Option<i64>, token: Option<&str>) -> Server {
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
    fn wall() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
    }
}

async fn get(url: String) -> (u16, Value) {
    let response = reqwest::get(&url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn send(
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

#[tokio::test]
async fn api_v1_alerts_lists_pending_and_firing_alerts_as_prometheus_does() {
    let server = serve(Some(NOW), Some(TOKEN));
    let (status, body) = get(format!("{}/api/v1/alerts", server.base)).await;
    assert_eq!(status, 200);
    let alert = |name: &str, severity: Option<&str>, state: &str, value: &str| {
        let mut labels = json!({"alertname": name});
        if let Some(severity) = severity {
            labels["severity"] = json!(severity);
        }
        json!({
            "labels": labels,
            "annotations": {"summary": format!("{name} is off")},
            "state": state,
            "activeAt": "2023-11-14T22:13:20.000Z",
            "value": value,
        })
    };
    let mut ttfb = alert("ProviderTtfb", None, "firing", "1.2345e+03");
    ttfb["labels"]["provider"] = json!("deepgram");
    ttfb["keepFiringSince"] = json!("2023-11-14T22:14:55.000Z");
    assert_eq!(
        body,
        json!({"status": "success", "data": {"alerts": [
            alert("CallLatency", None, "pending", "1e+00"),
            alert("HighErrorRate", Some("critical"), "firing", "2e-01"),
            alert("HighErrorRate", Some("warning"), "firing", "5.23e-02"),
            ttfb,
        ]}})
    );
}

#[tokio::test]
async fn api_v1_rules_reports_groups_rules_health_and_filters_as_prometheus_does() {
    let server = serve(Some(NOW), Some(TOKEN));
    let (status, body) = get(format!("{}/api/v1/rules", server.base)).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "success");
    let groups = body["data"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let first = &groups[0];
    assert_eq!(first["name"], "voxscope");
    assert_eq!(first["file"], "voxscope.rules");
    assert_eq!(first["interval"], 5.0);
    assert_eq!(first["limit"], 0);
    assert_eq!(first["evaluationTime"], 0.004);
    assert_eq!(first["lastEvaluation"], "2023-11-14T22:14:55.000Z");
    assert_eq!(
        first["rules"][0],
        json!({
            "name": "slo:sli_error:ratio_rate5m",
            "query": "sum(rate(errors[5m])) / sum(rate(calls[5m]))",
            "health": "ok",
            "evaluationTime": 0.002,
            "lastEvaluation": "2023-11-14T22:14:55.000Z",
            "type": "recording",
        })
    );
    assert_eq!(
        first["rules"][1],
        json!({
            // The highest state of its alerts; the resolved one is not listed.
            "state": "pending",
            "name": "MemoryHigh",
            "query": "process_resident_memory_bytes > 1e9",
            "duration": 300.0,
            "keepFiringFor": 60.0,
            "labels": {"severity": "warning"},
            "annotations": {"summary": "memory is off"},
            "alerts": [{
                "labels": {"alertname": "CallLatency"},
                "annotations": {"summary": "CallLatency is off"},
                "state": "pending",
                "activeAt": "2023-11-14T22:13:20.000Z",
                "value": "1e+00",
            }],
            "health": "err",
            "lastError": "many-to-many matching",
            "evaluationTime": 0.002,
            "lastEvaluation": "2023-11-14T22:14:55.000Z",
            "type": "alerting",
        })
    );
    let watchdog = &groups[1]["rules"][0];
    assert_eq!(watchdog["state"], "inactive");
    assert_eq!(watchdog["health"], "unknown");
    assert_eq!(watchdog["alerts"], json!([]));
    assert_eq!(watchdog["lastEvaluation"], "0001-01-01T00:00:00Z");
    assert_eq!(groups[1]["lastEvaluation"], "0001-01-01T00:00:00Z");

    let names = |body: &Value| -> Vec<String> {
        body["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().iter())
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, records) = get(format!("{}/api/v1/rules?type=record", server.base)).await;
    assert_eq!(names(&records), ["slo:sli_error:ratio_rate5m"]);
    assert_eq!(records["data"]["groups"].as_array().unwrap().len(), 1, "empty groups dropped");
    let (_, alerting) = get(format!("{}/api/v1/rules?type=alert", server.base)).await;
    assert_eq!(names(&alerting), ["MemoryHigh", "Watchdog"]);
    let url = format!("{}/api/v1/rules?rule_name[]=Watchdog&rule_name[]=MemoryHigh", server.base);
    assert_eq!(names(&get(url).await.1), ["MemoryHigh", "Watchdog"]);
    let (_, meta) = get(format!("{}/api/v1/rules?rule_group[]=meta", server.base)).await;
    assert_eq!(names(&meta), ["Watchdog"]);
    let (_, bare) = get(format!("{}/api/v1/rules?exclude_alerts=true", server.base)).await;
    assert_eq!(bare["data"]["groups"][0]["rules"][1]["alerts"], json!([]));
    assert_eq!(bare["data"]["groups"][0]["rules"][1]["state"], "pending");
    let (status, bad) = get(format!("{}/api/v1/rules?type=bogus", server.base)).await;
    assert_eq!(status, 400);
    assert_eq!(bad["status"], "error");
    assert_eq!(bad["errorType"], "bad_data");
    assert!(bad["error"].as_str().unwrap().contains("bogus"), "{bad}");
}

fn fingerprints(body: &Value) -> Vec<&str> {
    body.as_array().unwrap().iter().map(|a| a["fingerprint"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn alertmanager_alerts_carry_silenced_and_inhibited_status_and_filter_like_alertmanager() {
    let server = serve(Some(NOW), Some(TOKEN));
    let am = format!("{}/alertmanager/api/v2", server.base);
    let (status, body) = get(format!("{am}/alerts")).await;
    assert_eq!(status, 200);
    // Firing alerts only, by fingerprint; pending and resolved ones are not in
    // Alertmanager.
    assert_eq!(fingerprints(&body), [WARNING, CRITICAL, TTFB]);
    assert_eq!(
        body[1],
        json!({
            "annotations": {"summary": "HighErrorRate is off"},
            "endsAt": "2023-11-14T22:19:00.000Z",
            "fingerprint": CRITICAL,
            "receivers": [{"name": "critical"}],
            "startsAt": "2023-11-14T22:14:20.000Z",
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
            "updatedAt": "2023-11-14T22:15:00.000Z",
            "labels": {"alertname": "HighErrorRate", "severity": "critical"},
        })
    );
    assert_eq!(
        body[0]["status"],
        json!({"state": "suppressed", "silencedBy": [], "inhibitedBy": [CRITICAL]})
    );
    assert_eq!(
        body[2]["generatorURL"],
        "http://127.0.0.1:3000/api/v1/rules?rule_name[]=ProviderTtfb"
    );

    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Provider.*", "isRegex": true, "isEqual": true}],
        "startsAt": "2023-11-14T22:00:00.000Z",
        "endsAt": "2023-11-14T23:15:00.000Z",
        "createdBy": "oncall",
        "comment": "provider maintenance",
    });
    let (status, created) =
        send(reqwest::Method::POST, format!("{am}/silences"), Some(TOKEN), Some(silence)).await;
    assert_eq!(status, 200, "{created}");
    let id = created["silenceID"].as_str().unwrap().to_owned();

    let (_, body) = get(format!("{am}/alerts")).await;
    assert_eq!(
        body[2]["status"],
        json!({"state": "suppressed", "silencedBy": [id], "inhibitedBy": []})
    );
    let query = |q: &'static str| {
        let am = am.clone();
        async move {
            let (status, body) = get(format!("{am}/alerts?{q}")).await;
            assert_eq!(status, 200, "{q}: {body}");
            fingerprints(&body).into_iter().map(str::to_owned).collect::<Vec<_>>()
        }
    };
    assert_eq!(query("active=false").await, [WARNING, TTFB]);
    assert_eq!(query("silenced=false").await, [WARNING, CRITICAL]);
    assert_eq!(query("inhibited=false").await, [CRITICAL, TTFB]);
    // What amtool asks by default: active only.
    assert_eq!(
        query("active=true&silenced=false&inhibited=false&unprocessed=false").await,
        [CRITICAL]
    );
    assert_eq!(query("filter=alertname%3DHighErrorRate").await, [WARNING, CRITICAL]);
    assert_eq!(
        query("filter=alertname%3DHighErrorRate&filter=severity%3D~%22crit.*%22").await,
        [CRITICAL]
    );
    assert_eq!(query("filter=provider%21%3Ddeepgram").await, [WARNING, CRITICAL]);
    assert_eq!(query("receiver=quality").await, [TTFB]);
    assert_eq!(query("receiver=warn").await, Vec::<String>::new());
    for bad in ["filter=HighErrorRate", "receiver=(", "active=maybe", "filter=a%3D~%22(%22"] {
        let (status, body) = get(format!("{am}/alerts?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body.is_string(), "{bad}: {body}");
    }
}

#[tokio::test]
async fn alertmanager_silences_are_created_listed_expired_and_refused_like_alertmanager() {
    let server = serve(Some(NOW), Some(TOKEN));
    let am = format!("{}/alertmanager/api/v2", server.base);
    let post = |body: Value| {
        send(reqwest::Method::POST, format!("{am}/silences"), Some(TOKEN), Some(body))
    };
    let silence = |end: &str| {
        json!({
            "matchers": [
                {"name": "alertname", "value": "HighErrorRate", "isRegex": false},
                {"name": "severity", "value": "critical", "isRegex": false, "isEqual": false},
            ],
            // A start in the past becomes now.
            "startsAt": "2023-11-14T22:00:00Z",
            "endsAt": end,
            "createdBy": "oncall",
            "comment": "deploy",
        })
    };
    let (status, created) = post(silence("2023-11-15T00:15:00.000+01:00")).await;
    assert_eq!(status, 200, "{created}");
    let id = created["silenceID"].as_str().unwrap().to_owned();
    let expected = json!({
        "id": id,
        "status": {"state": "active"},
        "updatedAt": "2023-11-14T22:15:00.000Z",
        "matchers": [
            {"name": "alertname", "value": "HighErrorRate", "isRegex": false, "isEqual": true},
            {"name": "severity", "value": "critical", "isRegex": false, "isEqual": false},
        ],
        "startsAt": "2023-11-14T22:15:00.000Z",
        "endsAt": "2023-11-14T23:15:00.000Z",
        "createdBy": "oncall",
        "comment": "deploy",
    });
    assert_eq!(get(format!("{am}/silence/{id}")).await, (200, expected.clone()));
    assert_eq!(get(format!("{am}/silences")).await, (200, json!([expected])));
    let filtered = format!(
        "{am}/silences?filter=alertname%3D%22HighErrorRate%22&filter=severity%21%3Dcritical"
    );
    assert_eq!(get(filtered).await.1.as_array().unwrap().len(), 1);
    assert_eq!(get(format!("{am}/silences?filter=alertname%3DOther")).await, (200, json!([])));
    // The store the dispatcher reads holds it: the warning is muted, the critical not.
    let store_view = |severity: &str| {
        server
            .silences
            .silenced_by(&labels(&[("alertname", "HighErrorRate"), ("severity", severity)]), NOW)
    };
    assert_eq!(store_view("warning"), [id.as_str()]);
    assert!(store_view("critical").is_empty());

    let (status, _) =
        send(reqwest::Method::DELETE, format!("{am}/silence/{id}"), Some(TOKEN), None).await;
    assert_eq!(status, 200);
    let (_, expired) = get(format!("{am}/silence/{id}")).await;
    assert_eq!(expired["status"]["state"], "expired");
    assert_eq!(expired["endsAt"], "2023-11-14T22:15:00.000Z");
    assert!(store_view("warning").is_empty());

    let refused = [
        (silence("2023-11-14T22:10:00Z"), 400, "end time can't be in the past"),
        (
            json!({"matchers": [], "startsAt": "2023-11-14T22:00:00Z", "endsAt": "2023-11-15T22:00:00Z",
                "createdBy": "a", "comment": "b"}),
            400,
            "at least one matcher",
        ),
        (
            json!({"matchers": [{"name": "a", "value": "(", "isRegex": true}],
                "startsAt": "2023-11-14T22:00:00Z", "endsAt": "2023-11-15T22:00:00Z",
                "createdBy": "a", "comment": "b"}),
            400,
            "invalid regex",
        ),
        (
            json!({"matchers": [{"name": "a", "value": "b", "isRegex": false}],
                "startsAt": "2023-11-15T22:00:00Z", "endsAt": "2023-11-15T21:00:00Z",
                "createdBy": "a", "comment": "b"}),
            400,
            "start time must be before end time",
        ),
        (
            json!({"matchers": [{"name": "a", "value": "b", "isRegex": false}],
                "startsAt": "tomorrow", "endsAt": "2023-11-15T21:00:00Z",
                "createdBy": "a", "comment": "b"}),
            400,
            "startsAt",
        ),
        (json!({"matchers": "a=b"}), 400, "invalid silence"),
        (
            json!({"id": "7b6d3c0a-0000-4000-8000-000000000000",
                "matchers": [{"name": "a", "value": "b", "isRegex": false}],
                "startsAt": "2023-11-14T22:00:00Z", "endsAt": "2023-11-15T22:00:00Z",
                "createdBy": "a", "comment": "b"}),
            404,
            "not found",
        ),
    ];
    for (body, code, message) in refused {
        let (status, reply) = post(body.clone()).await;
        assert_eq!(status, code, "{body} -> {reply}");
        assert!(reply.as_str().unwrap().contains(message), "{body} -> {reply}");
    }
    assert_eq!(server.silences.lock().len(), 1, "refusals store nothing");
    let missing = format!("{am}/silence/7b6d3c0a-0000-4000-8000-000000000000");
    assert_eq!(get(missing.clone()).await.0, 404);
    assert_eq!(send(reqwest::Method::DELETE, missing, Some(TOKEN), None).await.0, 404);
}

#[tokio::test]
async fn writes_need_the_bearer_token_and_none_configured_refuses_them_all() {
    let server = serve(Some(NOW), Some(TOKEN));
    let am = format!("{}/alertmanager/api/v2", server.base);
    let body = json!({
        "matchers": [{"name": "alertname", "value": "X", "isRegex": false}],
        "startsAt": "2023-11-14T22:15:00Z", "endsAt": "2023-11-14T23:15:00Z",
        "createdBy": "a", "comment": "b",
    });
    let unauthenticated =
        reqwest::Client::new().post(format!("{am}/silences")).json(&body).send().await.unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    assert_eq!(unauthenticated.headers()["www-authenticate"], "Bearer");
    let wrong = send(
        reqwest::Method::POST,
        format!("{am}/silences"),
        Some("s3cret-toke"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(wrong.0, 401);
    let delete = send(reqwest::Method::DELETE, format!("{am}/silence/x"), None, None).await;
    assert_eq!(delete.0, 401);
    let ack = send(
        reqwest::Method::POST,
        format!("{}/api/v1/alerts/{CRITICAL}/ack", server.base),
        None,
        None,
    )
    .await;
    assert_eq!(ack.0, 401);
    assert!(server.silences.lock().is_empty());
    assert!(server.fixture.acks.lock().unwrap().is_empty());
    // Reads need no token.
    assert_eq!(get(format!("{am}/silences")).await.0, 200);
    let status = get(format!("{am}/status")).await;
    assert_eq!(status.0, 200);
    assert_eq!(status.1["cluster"]["status"], "disabled");
    assert_eq!(status.1["config"]["original"], "route:\n  receiver: default\n");
    assert_eq!(status.1["uptime"], "2023-11-14T21:15:00.000Z");

    let closed = serve(Some(NOW), None);
    let am = format!("{}/alertmanager/api/v2", closed.base);
    let (status, message) =
        send(reqwest::Method::POST, format!("{am}/silences"), Some(TOKEN), Some(body)).await;
    assert_eq!(status, 403);
    assert!(message.as_str().unwrap().contains("VOXSCOPE_ALERT_API_TOKEN"), "{message}");
    assert!(closed.silences.lock().is_empty());
}

#[tokio::test]
async fn ack_reaches_the_engine_with_who_why_and_when() {
    let server = serve(Some(NOW), Some(TOKEN));
    let ack_url = |fp: &str| format!("{}/api/v1/alerts/{fp}/ack", server.base);
    let (status, body) = send(
        reqwest::Method::POST,
        ack_url(CRITICAL),
        Some(TOKEN),
        Some(json!({"by": "alice", "comment": "rolling back"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "data": {
            "fingerprint": CRITICAL, "acknowledgedBy": "alice",
            "acknowledgedAt": "2023-11-14T22:15:00.000Z",
        }})
    );
    // No body at all is an anonymous ack.
    assert_eq!(send(reqwest::Method::POST, ack_url(TTFB), Some(TOKEN), None).await.0, 200);
    let acks = server.fixture.acks.lock().unwrap().clone();
    assert_eq!(
        acks,
        [
            (
                CRITICAL.to_owned(),
                Ack { by: "alice".into(), comment: "rolling back".into(), at_ms: NOW }
            ),
            (TTFB.to_owned(), Ack { by: String::new(), comment: String::new(), at_ms: NOW }),
        ]
    );
    let (status, body) =
        send(reqwest::Method::POST, ack_url("ffffffffffffffff"), Some(TOKEN), None).await;
    assert_eq!((status, body["errorType"].as_str()), (404, Some("not_found")));
    let (status, body) = send(reqwest::Method::POST, ack_url(RESOLVED), Some(TOKEN), None).await;
    assert_eq!((status, body["errorType"].as_str()), (409, Some("conflict")));
    let bad = reqwest::Client::new()
        .post(ack_url(CRITICAL))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(server.fixture.acks.lock().unwrap().len(), 2);
}

/// The real amtool lists alerts, adds a silence, finds it, and expires it.
#[test]
fn amtool_lists_alerts_and_adds_queries_and_expires_silences() {
    let Some(amtool) = tool("amtool", "prometheus-alertmanager") else { return };
    let server = serve(None, Some(TOKEN));
    let dir = TempDir::new("amtool-api");
    let http_config = dir.path().join("http.yml");
    std::fs::write(
        &http_config,
        format!("authorization:\n  type: Bearer\n  credentials: {TOKEN}\n"),
    )
    .unwrap();
    let url = format!("--alertmanager.url={}/alertmanager", server.base);
    let auth = format!("--http.config.file={}", http_config.display());
    let amtool_ok = |args: &[&str]| {
        let (output, text) = run(&amtool, dir.path(), args);
        assert!(output.status.success(), "amtool {args:?}: {text}");
        String::from_utf8(output.stdout).unwrap()
    };
    let listed = |args: &[&str]| -> Vec<String> {
        let out = amtool_ok(args);
        let alerts: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        fingerprints(&alerts).into_iter().map(str::to_owned).collect()
    };

    // Default query: active alerts only (the inhibited warning is suppressed).
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query"]), [CRITICAL, TTFB]);
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query", "--inhibited"]), [WARNING]);
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query", "HighErrorRate"]), [CRITICAL]);
    let simple = amtool_ok(&[&url, "alert", "query"]);
    assert!(simple.contains("ProviderTtfb") && simple.contains("ProviderTtfb is off"), "{simple}");

    // Without the token amtool's write fails and nothing is stored.
    let (refused, text) = run(
        &amtool,
        dir.path(),
        &[&url, "silence", "add", "alertname=ProviderTtfb", "--comment=x"],
    );
    assert!(!refused.status.success(), "{text}");
    assert!(server.silences.lock().is_empty());

    let before = Fixture::wall();
    let added = amtool_ok(&[
        &url,
        &auth,
        "silence",
        "add",
        "alertname=ProviderTtfb",
        "provider=~\"deep.*\"",
        "--author=oncall",
        "--comment=provider maintenance",
        "--duration=2h",
    ]);
    let id = added.trim().to_owned();
    {
        let store = server.silences.lock();
        let silence = store.get(&id).unwrap_or_else(|| panic!("amtool printed {added:?}"));
        assert_eq!(
            silence.matchers.iter().map(|m| m.render()).collect::<Vec<_>>(),
            [r#"alertname="ProviderTtfb""#, r#"provider=~"deep.*""#]
        );
        assert_eq!(
            (silence.created_by.as_str(), silence.comment.as_str()),
            ("oncall", "provider maintenance")
        );
        let window = silence.ends_at_ms - silence.starts_at_ms;
        assert!((7_190_000..=7_200_000).contains(&window), "window {window} ms");
        assert!(silence.starts_at_ms >= before - 1_000 && silence.starts_at_ms <= Fixture::wall());
        assert_eq!(silence.state(Fixture::wall()), SilenceState::Active);
    }
    // An update that keeps the past (a later end) keeps the id. (amtool 0.25's `-q`
    // prints a pointer here, so read its JSON.)
    let updated = amtool_ok(&[
        &url,
        &auth,
        "-o",
        "json",
        "silence",
        "update",
        &id,
        "--duration=3h",
        "--comment=maintenance runs late",
    ]);
    let updated: Value = serde_json::from_str(&updated).unwrap();
    assert_eq!(updated[0]["id"], id.as_str());
    {
        let store = server.silences.lock();
        let silence = store.get(&id).unwrap();
        assert_eq!(silence.ends_at_ms - silence.starts_at_ms, 3 * 3_600_000);
        assert_eq!(silence.comment, "maintenance runs late");
        assert_eq!(store.len(), 1);
    }
    // Silenced: gone from the default query, listed with --silenced.
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query"]), [CRITICAL]);
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query", "--silenced"]), [TTFB]);

    let queried: Value =
        serde_json::from_str(&amtool_ok(&[&url, "-o", "json", "silence", "query"])).unwrap();
    assert_eq!(queried.as_array().unwrap().len(), 1);
    assert_eq!(queried[0]["id"], id.as_str());
    assert_eq!(queried[0]["createdBy"], "oncall");
    assert_eq!(queried[0]["status"]["state"], "active");
    assert_eq!(amtool_ok(&[&url, "silence", "query", "-q", "alertname=ProviderTtfb"]).trim(), id);
    assert_eq!(amtool_ok(&[&url, "silence", "query", "-q", "alertname=Other"]).trim(), "");

    amtool_ok(&[&url, &auth, "silence", "expire", &id]);
    assert_eq!(
        server.silences.lock().get(&id).unwrap().state(Fixture::wall()),
        SilenceState::Expired
    );
    assert_eq!(amtool_ok(&[&url, "silence", "query", "-q"]).trim(), "");
    assert_eq!(amtool_ok(&[&url, "silence", "query", "-q", "--expired"]).trim(), id);
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query"]), [CRITICAL, TTFB]);
    assert!(server.fixture.acks.lock().unwrap().is_empty());
}

/// The structure of a JSON value: object keys with their structures (label sets as one
/// token), the first element of arrays, the type of scalars.
fn shape(value: &Value) -> Value {
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

fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().unwrap().remove(key);
    value
}

/// A real Prometheus evaluates rules like the fixture's; its `/api/v1/alerts` and
/// `/api/v1/rules` bodies have the same structure as the engine's, and the alerts the
/// same labels, annotations, states and value text.
#[tokio::test]
async fn api_v1_bodies_have_the_structure_a_real_prometheus_gives() {
    let Some(binary) = tool("prometheus", "prometheus") else { return };
    let dir = TempDir::new("prometheus-api");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: voxscope\n    interval: 1s\n    rules:\n\
         \x20     - record: \"slo:sli_error:ratio_rate5m\"\n        expr: vector(0.5)\n\
         \x20     - alert: HighErrorRate\n        expr: vector(0.2)\n        keep_firing_for: 1m\n\
         \x20       labels: {severity: critical}\n        annotations: {summary: \"HighErrorRate is off\"}\n\
         \x20     - alert: CallLatency\n        expr: vector(1)\n        for: 1h\n\
         \x20       annotations: {summary: \"CallLatency is off\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n",
    )
    .unwrap();
    let port = alert_support::free_port();
    let child = std::process::Command::new(&binary)
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _prometheus = alert_support::Daemon::new(child, dir);
    let prom = format!("http://127.0.0.1:{port}");

    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let prom_alerts = loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "Prometheus never showed both alerts"
        );
        let body = match client.get(format!("{prom}/api/v1/alerts")).send().await {
            Ok(response) => response.json::<Value>().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        if body["data"]["alerts"].as_array().is_some_and(|a| a.len() == 2) {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let (_, prom_rules) = get(format!("{prom}/api/v1/rules")).await;

    let server = serve(Some(NOW), Some(TOKEN));
    let (_, ours) = get(format!("{}/api/v1/alerts", server.base)).await;
    assert_eq!(ours["status"], prom_alerts["status"]);
    let by_name = |body: &Value, name: &str| -> Value {
        body["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name && a["labels"]["severity"] != "warning")
            .unwrap_or_else(|| panic!("{name} in {body}"))
            .clone()
    };
    for name in ["HighErrorRate", "CallLatency"] {
        let (ours, theirs) = (by_name(&ours, name), by_name(&prom_alerts, name));
        assert_eq!(shape(&ours), shape(&theirs), "{name}");
        assert_eq!(without(ours, "activeAt"), without(theirs, "activeAt"), "{name}");
    }

    let (_, our_rules) = get(format!("{}/api/v1/rules", server.base)).await;
    let (our_group, their_group) =
        (&our_rules["data"]["groups"][0], &prom_rules["data"]["groups"][0]);
    assert_eq!(
        shape(&without(our_group.clone(), "rules")),
        shape(&without(their_group.clone(), "rules"))
    );
    let their_recording = &their_group["rules"][0];
    assert_eq!(their_recording["type"], "recording");
    assert_eq!(shape(&our_group["rules"][0]), shape(their_recording));
    let their_alerting = &their_group["rules"][1];
    assert_eq!(their_alerting["state"], "firing");
    assert_eq!(their_alerting["keepFiringFor"], 60);
    // The fixture's alerting rule failed its last evaluation; Prometheus's did not.
    assert_eq!(shape(&without(our_group["rules"][1].clone(), "lastError")), shape(their_alerting));
    assert_eq!(our_group["rules"][1]["health"], "err");
    assert_eq!(their_alerting["health"], "ok");
}

/// The real Alertmanager, given the fixture's critical alert and the same silence, lists
/// them in bodies of the same structure, with the same status, receivers and silence
/// fields; its status body has the same structure too.
#[tokio::test]
async fn alertmanager_v2_bodies_have_the_structure_a_real_alertmanager_gives() {
    let Some(binary) = tool("prometheus-alertmanager", "prometheus-alertmanager") else { return };
    let dir = TempDir::new("alertmanager-api");
    std::fs::write(
        dir.path().join("am.yml"),
        "route:\n  receiver: critical\nreceivers:\n  - name: critical\n",
    )
    .unwrap();
    let port = alert_support::free_port();
    let child = std::process::Command::new(&binary)
        .arg(format!("--config.file={}", dir.path().join("am.yml").display()))
        .arg(format!("--storage.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _alertmanager = alert_support::Daemon::new(child, dir);
    let real = format!("http://127.0.0.1:{port}/api/v2");
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let alert = json!([{
        "labels": {"alertname": "HighErrorRate", "severity": "critical"},
        "annotations": {"summary": "HighErrorRate is off"},
    }]);
    while client.post(format!("{real}/alerts")).json(&alert).send().await.is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "Alertmanager never answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let server = serve(None, Some(TOKEN));
    let ours = format!("{}/alertmanager/api/v2", server.base);
    let (_, real_status) = get(format!("{real}/status")).await;
    let (_, our_status) = get(format!("{ours}/status")).await;
    assert_eq!(shape(&our_status), shape(&real_status));
    assert_eq!(our_status["cluster"], real_status["cluster"]);

    let ends =
        humantime::format_rfc3339_millis(SystemTime::now() + std::time::Duration::from_secs(3_600));
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "High.*", "isRegex": true, "isEqual": true}],
        "startsAt": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "endsAt": ends.to_string(),
        "createdBy": "oncall",
        "comment": "deploy",
    });
    let (status, real_id) =
        send(reqwest::Method::POST, format!("{real}/silences"), None, Some(silence.clone())).await;
    assert_eq!(status, 200, "{real_id}");
    let (status, our_id) =
        send(reqwest::Method::POST, format!("{ours}/silences"), Some(TOKEN), Some(silence)).await;
    assert_eq!(status, 200, "{our_id}");
    assert_eq!(shape(&our_id), shape(&real_id));

    let (_, real_alerts) = get(format!("{real}/alerts")).await;
    let (_, our_alerts) = get(format!("{ours}/alerts?filter=severity%3Dcritical")).await;
    let (real_alert, our_alert) = (&real_alerts[0], &our_alerts[0]);
    assert_eq!(shape(our_alert), shape(real_alert));
    for key in ["labels", "annotations", "receivers"] {
        assert_eq!(our_alert[key], real_alert[key], "{key}");
    }
    assert_eq!(our_alert["status"]["state"], "suppressed");
    assert_eq!(real_alert["status"]["state"], "suppressed");
    assert_eq!(our_alert["status"]["silencedBy"], json!([our_id["silenceID"]]));
    assert_eq!(real_alert["status"]["silencedBy"], json!([real_id["silenceID"]]));

    let (_, real_silences) = get(format!("{real}/silences")).await;
    let (_, our_silences) = get(format!("{ours}/silences")).await;
    assert_eq!(shape(&our_silences), shape(&real_silences));
    let fields = |s: &Value| {
        json!([
            s["matchers"],
            s["status"],
            s["createdBy"],
            s["comment"],
            s["endsAt"].as_str().map(|t| &t[..19])
        ])
    };
    assert_eq!(fields(&our_silences[0]), fields(&real_silences[0]));
}

/// The Alertmanager routes follow the configured prefix, with or without slashes; an
/// empty prefix puts them at the root, where a real Alertmanager has them.
#[tokio::test]
async fn the_alertmanager_prefix_is_normalised() {
    use tower::ServiceExt;
    let status_of = |prefix: &str, path: &str| {
        let fixture = Arc::new(Fixture {
            now: Some(NOW),
            alerts: alerts(NOW),
            groups: groups(NOW),
            acks: Mutex::default(),
        });
        let mut settings = ApiSettings::new(None);
        settings.alertmanager_prefix = prefix.to_owned();
        let app = router(fixture, Silences::default(), settings);
        let request = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
        async move { app.oneshot(request).await.unwrap().status().as_u16() }
    };
    assert_eq!(status_of("am/", "/am/api/v2/status").await, 200);
    assert_eq!(status_of("/am", "/am/api/v2/silences").await, 200);
    assert_eq!(status_of("/am", "/alertmanager/api/v2/status").await, 404);
    assert_eq!(status_of("", "/api/v2/alerts").await, 200);
    assert_eq!(status_of("/", "/api/v2/alerts").await, 200);
    assert_eq!(status_of("", "/api/v1/rules").await, 200);
}
