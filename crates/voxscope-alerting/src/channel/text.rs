//! Text shared by the channels: RFC 3339 times, the title line, HTML and Slack escaping,
//! severity colours.

use std::time::{Duration, UNIX_EPOCH};

use crate::notification::{Notification, Status};

/// Unix milliseconds as RFC 3339 UTC with milliseconds.
///
/// ```
/// assert_eq!(voxscope_alerting::channel::rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
/// ```
pub fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

/// Alertmanager's zero time: the `endsAt` of a firing alert in a webhook payload.
pub(super) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `[FIRING:2] HighErrorRate (critical, availability)`, as the generated Alertmanager
/// template titles a notification.
pub(super) fn title(n: &Notification) -> String {
    let common = n.common_labels();
    let get = |key: &str| common.get(key).map(String::as_str).unwrap_or("");
    let status = match n.status {
        Status::Firing => {
            let firing = n.alerts.iter().filter(|a| a.status == Status::Firing).count();
            format!("FIRING:{firing}")
        }
        Status::Resolved => "RESOLVED".to_owned(),
    };
    format!("[{status}] {} ({}, {})", get("alertname"), get("severity"), get("category"))
}

/// The notification's severity: the common one, else the highest of its alerts.
pub(super) fn severity(n: &Notification) -> &str {
    const ORDER: [&str; 4] = ["emergency", "critical", "warning", "info"];
    let of = |a: &crate::notification::NotifiedAlert| a.labels.get("severity").cloned();
    ORDER.into_iter().find(|s| n.alerts.iter().any(|a| of(a).as_deref() == Some(*s))).unwrap_or("")
}

/// A colour per severity, green when resolved.
pub(super) fn colour(severity: &str, status: Status) -> &'static str {
    if status == Status::Resolved {
        return "#2eb886";
    }
    match severity {
        "emergency" => "#7b0000",
        "critical" => "#d63232",
        "warning" => "#daa038",
        "info" => "#439fe0",
        _ => "#808080",
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attributes.
pub(super) fn html(text: &str) -> String {
    voxscope_alert::report::escape_html(text)
}

/// Escapes `&`, `<` and `>`, the characters Slack's message formatting reserves.
pub(super) fn slack(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_each_format_reserves() {
        assert_eq!(
            html(r#"<b>"a" & 'b'</b>"#),
            "&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;"
        );
        assert_eq!(slack("p95 > 2s & <rising>"), "p95 &gt; 2s &amp; &lt;rising&gt;");
    }

    #[test]
    fn times_before_the_epoch_clamp_to_it() {
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000Z");
    }
}
