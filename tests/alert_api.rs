//! The embedded engine's HTTP API on loopback over a fixture engine: Prometheus's
//! `/api/v1/alerts` and `/api/v1/rules` bodies, the Alertmanager v2 alerts and
//! silences, the bearer token and the ack endpoint.

mod alert_api_support;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use voxscope_alerting::api::{Ack, ApiSettings, router};
use voxscope_alerting::silence::Silences;

use alert_api_support::*;

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
