//! A text message through Twilio's Messages API: `POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json` with the form fields `To`, `From` and
//! `Body`, HTTP basic auth of the account SID and auth token. The body fits one segment
//! where it can ([`message`]).

use voxscope_alert::receiver::Sms;

use super::gsm::{plain, segments};
use super::{SendError, http};
use crate::notification::{Notification, Status};
use crate::secret::{Env, required};

/// The most characters Twilio takes in `Body`.
const BODY_MAX: usize = 1600;

/// POSTs one message to one number.
#[derive(Clone)]
pub struct SmsChannel {
    pub(super) client: reqwest::Client,
    pub(super) env: Env,
    pub(super) api_url: String,
    pub(super) sms: Sms,
}

impl SmsChannel {
    /// The number texted.
    pub fn to(&self) -> &str {
        &self.sms.to
    }

    /// Whether resolved notices are texted too.
    pub(super) fn send_resolved(&self) -> bool {
        self.sms.send_resolved
    }

    pub(super) async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let token = required(&self.sms.auth_token, &*self.env).map_err(SendError::Refused)?;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.api_url.trim_end_matches('/'),
            self.sms.account_sid
        );
        let body = message(n);
        let fields =
            [("To", self.sms.to.as_str()), ("From", self.sms.from.as_str()), ("Body", &body)];
        http::post_form(&self.client, &url, &fields, (&self.sms.account_sid, &token))
            .await
            .map(drop)
    }
}

/// The text of `n`: status, severity, alertname, the first summary and a short link (the
/// dashboard, else the runbook), typographic punctuation made plain. When that takes
/// more than one segment the summary is cut (marked `...`), then the link dropped; only
/// a name too long for one segment on its own is sent as several, at most 1600
/// characters.
///
/// ```
/// # use voxscope_alerting::notification::*;
/// use voxscope_alerting::channel::{gsm, sms_message};
/// let alert = NotifiedAlert {
///     fingerprint: "f".into(),
///     status: Status::Firing,
///     labels: [("alertname", "ServiceDown"), ("severity", "critical")]
///         .map(|(k, v)| (k.to_owned(), v.to_owned())).into(),
///     annotations: [("summary", "voice-agent:3000 is down"), ("dashboard", "http://g/d/svc")]
///         .map(|(k, v)| (k.to_owned(), v.to_owned())).into(),
///     starts_at_ms: 0,
///     ends_at_ms: None,
///     generator_url: String::new(),
/// };
/// let mut n = Notification {
///     receiver: "critical".into(),
///     group_key: "k".into(),
///     group_labels: Default::default(),
///     status: Status::Firing,
///     alerts: vec![alert],
///     escalation_step: None,
/// };
/// assert_eq!(sms_message(&n), "FIRING critical ServiceDown: voice-agent:3000 is down http://g/d/svc");
///
/// n.alerts[0].annotations.insert("summary".into(), "x".repeat(400));
/// let cut = sms_message(&n);
/// assert_eq!(gsm::segments(&cut), 1);
/// assert_eq!(cut.chars().count(), 160);
/// assert!(cut.ends_with("... http://g/d/svc"));
/// ```
pub fn message(n: &Notification) -> String {
    let firing: Vec<_> = n.alerts.iter().filter(|a| a.status == Status::Firing).collect();
    let status = match n.status {
        Status::Firing if firing.len() > 1 => format!("FIRING:{}", firing.len()),
        Status::Firing => "FIRING".to_owned(),
        Status::Resolved => "RESOLVED".to_owned(),
    };
    let first = firing.first().copied().or(n.alerts.first());
    let annotation = |key: &str| {
        first.and_then(|a| a.annotations.get(key)).map(|v| plain(v.trim())).unwrap_or_default()
    };
    let common = n.common_labels();
    let label = |key: &str| {
        common
            .get(key)
            .or_else(|| first.and_then(|a| a.labels.get(key)))
            .map(String::as_str)
            .unwrap_or("")
    };
    let head = plain(&format!("{status} {} {}", label("severity"), label("alertname")));
    let summary = annotation("summary").replace(['\n', '\r'], " ");
    let link = Some(annotation("dashboard"))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| annotation("runbook_url"));
    let compose = |summary: &str, link: &str| {
        let mut text = head.clone();
        if !summary.is_empty() {
            text.push_str(": ");
            text.push_str(summary);
        }
        if !link.is_empty() {
            text.push(' ');
            text.push_str(link);
        }
        text
    };
    for link in [link.as_str(), ""] {
        if let Some(text) = shortened(&summary, |s| compose(s, link)) {
            return text;
        }
    }
    compose(&summary, &link).chars().take(BODY_MAX).collect()
}

/// `compose` of `summary`, or of the longest cut of it marked `...`, that fits one
/// segment; `None` when not even an empty summary does.
fn shortened(summary: &str, compose: impl Fn(&str) -> String) -> Option<String> {
    let whole = compose(summary);
    if segments(&whole) == 1 {
        return Some(whole);
    }
    // `ends[k]` is where the first k characters end. Fewer characters never take more
    // segments, so the longest cut that fits is found by bisection between none (lo)
    // and the whole summary (hi), which does not fit.
    let ends: Vec<usize> = summary.char_indices().map(|(i, _)| i).collect();
    let cut = |k: usize| compose(&format!("{}...", summary[..ends[k]].trim_end()));
    let (mut lo, mut hi) = (0, ends.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if segments(&cut(mid)) == 1 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if lo > 0 {
        return Some(cut(lo));
    }
    let bare = compose("");
    (segments(&bare) == 1).then_some(bare)
}
