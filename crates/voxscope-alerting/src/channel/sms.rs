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

/// Characters of the summary worth more than the link: with fewer beside it, the link
/// goes.
const SUMMARY_KEPT: usize = 24;

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
/// more than one segment (160 GSM-7 septets, or 70 UCS-2 units once one character is
/// outside the GSM alphabet) the summary is cut (marked `...`); when fewer than 24 of its
/// characters would fit beside the link, the link is dropped instead. Only a name too
/// long for one segment on its own is sent as several, at most 1600 characters.
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
    // The link stays while a useful part of the summary fits beside it.
    let useful = summary.chars().count().min(SUMMARY_KEPT);
    for (link, least) in [(link.as_str(), useful), ("", 0)] {
        if let Some(text) = shortened(&summary, least, |s| compose(s, link)) {
            return text;
        }
    }
    compose(&summary, &link).chars().take(BODY_MAX).collect()
}

/// `compose` of `summary`, or of the longest cut of it marked `...`, that fits one
/// segment and keeps at least `least` characters; `None` when none does.
fn shortened(summary: &str, least: usize, compose: impl Fn(&str) -> String) -> Option<String> {
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
    if lo > 0 && lo >= least {
        return Some(cut(lo));
    }
    let bare = compose("");
    (least == 0 && segments(&bare) == 1).then_some(bare)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::gsm::{Encoding, measure};
    use crate::notification::NotifiedAlert;

    fn alert(status: Status, summary: &str) -> NotifiedAlert {
        let pairs =
            |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        NotifiedAlert {
            fingerprint: "f".into(),
            status,
            labels: pairs(&[("alertname", "HighProviderTTFB"), ("severity", "critical")]),
            annotations: pairs(&[
                ("summary", summary),
                ("runbook_url", "https://runbooks.example.org/HighProviderTTFB.md"),
            ]),
            starts_at_ms: 0,
            ends_at_ms: None,
            generator_url: String::new(),
        }
    }

    fn notification(status: Status, alerts: Vec<NotifiedAlert>) -> Notification {
        Notification {
            receiver: "critical".into(),
            group_key: "k".into(),
            group_labels: Default::default(),
            status,
            alerts,
            escalation_step: None,
        }
    }

    #[test]
    fn a_summary_outside_gsm_drops_the_link_and_is_cut_to_70_ucs2_units() {
        let summary = "Zażółć: TTS acme wolny w Krakowie, p95 1,2 s od 10 minut. ".repeat(2);
        let text = message(&notification(Status::Firing, vec![alert(Status::Firing, &summary)]));
        assert_eq!(measure(&text).0, Encoding::Ucs2);
        assert_eq!(segments(&text), 1);
        assert!(text.starts_with("FIRING critical HighProviderTTFB: Zażółć: TTS"), "{text}");
        // Beside the 48-character link not even 24 characters of the summary fit.
        assert!(!text.contains("https://"), "{text}");
        assert!(text.ends_with("..."), "{text}");
        assert_eq!(text.encode_utf16().count(), 70, "{text}");
    }

    #[test]
    fn typographic_quotes_stay_gsm_and_a_group_counts_its_firing_alerts() {
        let alerts = vec![
            alert(Status::Firing, "TTS \u{201c}acme\u{201d} is slow \u{2014} p95 1.2 s"),
            alert(Status::Firing, "other"),
            alert(Status::Resolved, "recovered"),
        ];
        let text = message(&notification(Status::Firing, alerts));
        assert_eq!(
            text,
            "FIRING:2 critical HighProviderTTFB: TTS \"acme\" is slow - p95 1.2 s \
             https://runbooks.example.org/HighProviderTTFB.md"
        );
        assert_eq!(measure(&text), (Encoding::Gsm7, text.len()));
    }

    #[test]
    fn a_resolved_notice_says_so() {
        let text = message(&notification(Status::Resolved, vec![alert(Status::Resolved, "ok")]));
        assert_eq!(
            text,
            "RESOLVED critical HighProviderTTFB: ok https://runbooks.example.org/HighProviderTTFB.md"
        );
    }
}
