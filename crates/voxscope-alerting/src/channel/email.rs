//! SMTP email through lettre: the title as subject, an HTML body with one block per
//! alert (summary, description, severity, start time, runbook and dashboard links)
//! coloured by severity, and the same as plain text for mail readers without HTML.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use voxscope_alert::receiver::Smtp;

use super::SendError;
use super::text::{colour, html, rfc3339, title};
use crate::notification::{Notification, Status};
use crate::secret::{Env, resolve};

/// Mails one recipient through the configured relay.
#[derive(Clone)]
pub struct EmailChannel {
    pub(super) smtp: Arc<Smtp>,
    pub(super) env: Env,
    pub(super) to: String,
    pub(super) send_resolved: bool,
    pub(super) timeout: Duration,
}

impl EmailChannel {
    pub(super) async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let refused =
            |what: &str, e: &dyn std::fmt::Display| SendError::Refused(format!("{what}: {e}"));
        let from: Mailbox = self.smtp.from.parse().map_err(|e| refused("smtp_from", &e))?;
        let to: Mailbox = self.to.parse().map_err(|e| refused("email recipient", &e))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(title(n))
            .multipart(MultiPart::alternative_plain_html(plain_body(n), html_body(n)))
            .map_err(|e| refused("email", &e))?;
        let transport = self.transport()?;
        transport.send(message).await.map(drop).map_err(|e| {
            if e.is_permanent() {
                SendError::Refused(e.to_string())
            } else if e.is_transient() {
                SendError::Temporary(e.to_string())
            } else {
                SendError::Unreachable(e.to_string())
            }
        })
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let smarthost = &self.smtp.smarthost;
        let (host, port) = smarthost
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                SendError::Refused(format!("smtp_smarthost {smarthost:?}: host:port"))
            })?;
        let mut builder = if self.smtp.require_tls {
            tls_builder(host, port)?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        };
        builder = builder.port(port).timeout(Some(self.timeout));
        if !self.smtp.username.is_empty() {
            let password = resolve(&self.smtp.password, &*self.env)
                .map_err(SendError::Refused)?
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(self.smtp.username.clone(), password));
        }
        Ok(builder.build())
    }
}

/// Implicit TLS on port 465, STARTTLS required elsewhere.
#[cfg(feature = "tls")]
fn tls_builder(
    host: &str,
    port: u16,
) -> Result<lettre::transport::smtp::AsyncSmtpTransportBuilder, SendError> {
    let built = if port == 465 {
        AsyncSmtpTransport::<Tokio1Executor>::relay(host)
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
    };
    built.map_err(|e| SendError::Refused(format!("TLS to {host}: {e}")))
}

#[cfg(not(feature = "tls"))]
fn tls_builder(
    host: &str,
    _port: u16,
) -> Result<lettre::transport::smtp::AsyncSmtpTransportBuilder, SendError> {
    Err(SendError::Refused(format!(
        "smtp_require_tls is on but voxscope-alerting was built without its `tls` feature ({host})"
    )))
}

/// The HTML body: a block per alert, its left border in the severity's colour.
///
/// ```
/// # use voxscope_alerting::notification::*;
/// let alert = NotifiedAlert {
///     fingerprint: "f".into(),
///     status: Status::Firing,
///     labels: [("alertname", "ServiceDown"), ("severity", "critical")]
///         .map(|(k, v)| (k.to_owned(), v.to_owned())).into(),
///     annotations: [("summary", "voice_agent is down"), ("runbook_url", "https://rb/ServiceDown.md")]
///         .map(|(k, v)| (k.to_owned(), v.to_owned())).into(),
///     starts_at_ms: 0,
///     ends_at_ms: None,
///     generator_url: String::new(),
/// };
/// let n = Notification {
///     receiver: "critical".into(),
///     group_key: "k".into(),
///     group_labels: Default::default(),
///     status: Status::Firing,
///     alerts: vec![alert],
///     escalation_step: None,
/// };
/// let html = voxscope_alerting::channel::email_html(&n);
/// assert!(html.contains("border-left:6px solid #d63232"));
/// assert!(html.contains(r#"<a href="https://rb/ServiceDown.md">Runbook</a>"#));
/// ```
pub fn html_body(n: &Notification) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<h2>{}</h2>\n",
        html(&title(n))
    );
    if let Some(step) = n.escalation_step {
        out.push_str(&format!(
            "<p><strong>Escalation step {}: not acknowledged.</strong></p>\n",
            step + 1
        ));
    }
    for alert in &n.alerts {
        let get = |key: &str| html(alert.annotations.get(key).map(String::as_str).unwrap_or(""));
        let severity = alert.labels.get("severity").map(String::as_str).unwrap_or("");
        let status = match alert.status {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        };
        out.push_str(&format!(
            "<div style=\"border-left:6px solid {colour};padding:4px 12px;margin:12px 0\">\n\
             <h3 style=\"color:{colour};margin:0\">{summary}</h3>\n\
             <p>{description}</p>\n\
             <p>Severity: <strong style=\"color:{colour}\">{severity}</strong> ({status})<br>\n\
             Started: {started}{ended}</p>\n\
             <p><a href=\"{runbook}\">Runbook</a> | <a href=\"{dashboard}\">Dashboard</a></p>\n\
             </div>\n",
            colour = colour(severity, alert.status),
            summary = get("summary"),
            description = get("description"),
            severity = html(severity),
            started = rfc3339(alert.starts_at_ms),
            ended = alert
                .ends_at_ms
                .map(|t| format!("<br>\nResolved: {}", rfc3339(t)))
                .unwrap_or_default(),
            runbook = get("runbook_url"),
            dashboard = get("dashboard"),
        ));
    }
    out.push_str("</body></html>\n");
    out
}

/// The plain-text alternative of [`html_body`].
fn plain_body(n: &Notification) -> String {
    let mut out = format!("{}\n", title(n));
    for alert in &n.alerts {
        let get = |key: &str| alert.annotations.get(key).map(String::as_str).unwrap_or("");
        let severity = alert.labels.get("severity").map(String::as_str).unwrap_or("");
        out.push_str(&format!(
            "\n{}\n{}\nSeverity: {severity}\nStarted: {}\nRunbook: {}\nDashboard: {}\n",
            get("summary"),
            get("description"),
            rfc3339(alert.starts_at_ms),
            get("runbook_url"),
            get("dashboard"),
        ));
    }
    out
}
