//! SMS paging through Twilio's Messages API against a loopback server that checks each
//! request as Twilio documents it: the path with the account SID, a form of `To`, `From`
//! and `Body`, basic auth of the SID and auth token; a 429 with `Retry-After` and a 503
//! retried, a 400 refused, and only the critical receiver texting.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use support::{Answer, Receiver, TempDir, answer, notification, run};
use voxscope_alert::Config;
use voxscope_alerting::channel;
use voxscope_alerting::delivery::{Delivery, Enqueued};
use voxscope_alerting::notification::Status;
use voxscope_alerting::secret::Env;

const FLUSH: Duration = Duration::from_secs(3600);
const SID: &str = "AC0123456789abcdef0123456789abcdef";
/// `Basic` and base64 of `AC0123456789abcdef0123456789abcdef:tw1l10-t0ken`, encoded
/// by Python's `base64.b64encode`.
const BASIC_AUTH: &str = "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0dzFsMTAtdDBrZW4=";
/// The form of the support notification to +14155550100, encoded by Python's
/// `urllib.parse.urlencode`.
const FORM: &str = "To=%2B14155550100&From=%2B15005550006&Body=FIRING+critical+ServiceDown%3A+\
                    voice_agent+is+down+http%3A%2F%2Fgrafana%3A3000%2Fd%2Fvoxscope-overview";
/// What Twilio answers to a created message (abridged from its API reference).
const CREATED: &str = r#"{"sid": "SM1234567890abcdef1234567890abcdef", "status": "queued"}"#;

fn sms_config(api_url: &str, token_file: &str, extra: &str) -> Config {
    let toml = format!(
        "[sms]\naccount_sid = \"{SID}\"\nauth_token_file = \"{token_file}\"\n\
         from = \"+15005550006\"\nto = [\"+14155550100\", \"+14155550101\"]\n\
         api_url = \"{api_url}\"\n{extra}"
    );
    Config::from_toml(&toml).expect("config")
}

fn delivery(config: &Config, env: Env) -> Delivery {
    Delivery::new(&config.delivery, channel::from_config(config, env), None)
}

fn no_env() -> Env {
    Arc::new(|_: &str| None)
}

#[test]
fn a_critical_alert_texts_every_number_with_the_form_and_basic_auth_twilio_documents() {
    let dir = TempDir::new("sms");
    let counts = run(false, || async {
        let twilio =
            Receiver::start(Arc::new(|_| (StatusCode::CREATED, CREATED).into_response())).await;
        let token = dir.file("twilio_auth_token", "tw1l10-t0ken\n");
        let config = sms_config(&twilio.url(""), &token, "");
        let delivery = delivery(&config, no_env());
        // PagerDuty, Slack and email have no secret here: they fail, the texts go out.
        let sent = delivery.notify(notification("critical", Status::Firing));
        assert_eq!(sent, Enqueued { queued: 5, dropped: 0 });
        delivery.shutdown(FLUSH).await;
        let mut received = twilio.received.lock().unwrap().clone();
        received.sort_by(|a, b| a.raw.cmp(&b.raw));
        assert_eq!(received.len(), 2);
        for request in &received {
            assert_eq!(request.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
            assert_eq!(request.headers["authorization"], BASIC_AUTH);
            assert_eq!(request.headers["content-type"], "application/x-www-form-urlencoded");
        }
        assert_eq!(received[0].raw, FORM);
        assert_eq!(received[1].raw, FORM.replace("%2B14155550100", "%2B14155550101"));
    });
    assert_eq!(counts.get("sms", "success"), 2);
    assert_eq!(counts.get("sms", "failed"), 0);
}

#[test]
fn a_429_and_a_503_are_retried_honouring_retry_after_and_the_text_goes_out_once() {
    let dir = TempDir::new("sms-retry");
    let counts = run(true, || async {
        let busy: Answer = Arc::new(|n| match n {
            0 => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "7")],
                r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#,
            )
                .into_response(),
            1 => (StatusCode::SERVICE_UNAVAILABLE, "").into_response(),
            _ => (StatusCode::CREATED, CREATED).into_response(),
        });
        let twilio = Receiver::start(busy).await;
        let token = dir.file("token", "tw1l10-t0ken");
        let mut config = sms_config(&twilio.url("/"), &token, "");
        config.sms.to.truncate(1);
        config.delivery.max_attempts = 5;
        let delivery = delivery(&config, no_env());
        delivery.notify(notification("critical", Status::Firing));
        assert_eq!(delivery.shutdown(FLUSH).await, 0);
        let received = twilio.received.lock().unwrap().clone();
        assert_eq!(received.len(), 3);
        assert!(received.iter().all(|r| r.raw == FORM), "the same form every attempt");
        assert_eq!(received[1].at - received[0].at, Duration::from_secs(7));
        assert!(received[2].at > received[1].at);
    });
    assert_eq!(counts.get("sms", "retried"), 2);
    assert_eq!(counts.get("sms", "success"), 1);
    assert_eq!(counts.get("sms", "failed"), 0);
}

#[test]
fn a_refused_number_fails_at_once_and_a_missing_token_never_reaches_twilio() {
    let dir = TempDir::new("sms-refused");
    let counts = run(true, || async {
        let invalid = r#"{"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}"#;
        let twilio = Receiver::start(answer(400, invalid)).await;
        let token = dir.file("token", "tw1l10-t0ken");
        let mut config = sms_config(&twilio.url(""), &token, "");
        config.sms.to.truncate(1);
        let refused = delivery(&config, no_env());
        refused.notify(notification("critical", Status::Firing));
        refused.shutdown(FLUSH).await;
        assert_eq!(twilio.count(), 1);
        let untokened = sms_config(&twilio.url(""), "", "");
        let missing = delivery(&untokened, no_env());
        missing.notify(notification("critical", Status::Firing));
        missing.shutdown(FLUSH).await;
        assert_eq!(twilio.count(), 1);
    });
    assert_eq!(counts.get("sms", "failed"), 3);
    assert_eq!(counts.get("sms", "retried"), 0);
    assert_eq!(counts.get("sms", "success"), 0);
}

#[test]
fn the_environment_token_wins_and_only_critical_pages_text_resolved_only_when_asked() {
    let dir = TempDir::new("sms-env");
    run(false, || async {
        let twilio = Receiver::start(answer(201, CREATED)).await;
        let token = dir.file("token", "from-file");
        let config = sms_config(&twilio.url(""), &token, "send_resolved = false\n");
        let env: Env = Arc::new(|name: &str| {
            (name == "VOXSCOPE_TWILIO_AUTH_TOKEN").then(|| "tw1l10-t0ken".to_owned())
        });
        let quiet = delivery(&config, env.clone());
        for receiver in ["warning", "quality", "default", "team-lead"] {
            quiet.notify(notification(receiver, Status::Firing));
        }
        quiet.notify(notification("critical", Status::Resolved));
        quiet.shutdown(FLUSH).await;
        assert_eq!(twilio.count(), 0, "no SMS but for critical firing pages");
        let delivery = delivery(&config, env);
        delivery.notify(notification("critical", Status::Firing));
        delivery.shutdown(FLUSH).await;
        let received = twilio.received.lock().unwrap().clone();
        assert_eq!(received.len(), 2);
        assert!(received.iter().all(|r| r.headers["authorization"] == BASIC_AUTH));
    });
}
