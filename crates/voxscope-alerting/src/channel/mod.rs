//! The integrations a notification goes out through: each one turns a
//! [`Notification`] into its vendor's documented format and sends it once; retries,
//! timeouts and counting are [`crate::delivery`]'s.
//!
//! ```
//! use voxscope_alerting::channel::{self, Channel};
//! let config = voxscope_alert::Config::default();
//! let receivers = channel::from_config(&config, voxscope_alerting::secret::process_env());
//! assert!(matches!(receivers["critical"][0], Channel::PagerDuty(_)));
//! ```

mod alertmanager;
mod email;
mod error;
pub mod gsm;
mod http;
mod log;
mod pagerduty;
mod slack;
mod sms;
mod text;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use alertmanager::{AlertmanagerPush, body as alertmanager_body};
pub use email::{EmailChannel, html_body as email_html};
pub use error::SendError;
pub use log::LogChannel;
pub use pagerduty::{EVENTS_URL, PagerDutyChannel, event as pagerduty_event};
pub use slack::{SlackChannel, payload as slack_payload};
pub use sms::{SmsChannel, message as sms_message};
pub use text::rfc3339;
use voxscope_alert::Config;
use voxscope_alert::receiver::{self, Integration};
pub use webhook::{WebhookChannel, payload as webhook_payload};

use crate::notification::{Notification, Status};
use crate::secret::Env;

/// One integration, ready to send.
#[derive(Clone)]
pub enum Channel {
    /// The Alertmanager webhook payload, version 4.
    Webhook(WebhookChannel),
    /// A Slack incoming webhook.
    Slack(SlackChannel),
    /// PagerDuty Events API v2.
    PagerDuty(PagerDutyChannel),
    /// SMTP email with an HTML body.
    Email(EmailChannel),
    /// `POST /api/v2/alerts` of a real Alertmanager.
    Alertmanager(AlertmanagerPush),
    /// A structured `tracing` event per notification.
    Log(LogChannel),
    /// A text message through Twilio.
    Sms(SmsChannel),
}

impl Channel {
    /// The `channel` label of `voxscope_notifications_total`: `webhook`, `slack`,
    /// `pagerduty`, `email`, `alertmanager`, `log` or `sms`.
    pub fn label(&self) -> &'static str {
        match self {
            Channel::Webhook(_) => "webhook",
            Channel::Slack(_) => "slack",
            Channel::PagerDuty(_) => "pagerduty",
            Channel::Email(_) => "email",
            Channel::Alertmanager(_) => "alertmanager",
            Channel::Log(_) => "log",
            Channel::Sms(_) => "sms",
        }
    }

    /// Whether this integration is told about `notification`: resolved notices only
    /// where `send_resolved` is on.
    pub fn wants(&self, notification: &Notification) -> bool {
        let send_resolved = match self {
            Channel::Webhook(c) => c.send_resolved,
            Channel::Slack(c) => c.send_resolved,
            Channel::PagerDuty(c) => c.send_resolved,
            Channel::Email(c) => c.send_resolved,
            Channel::Sms(c) => c.send_resolved(),
            Channel::Alertmanager(_) | Channel::Log(_) => true,
        };
        send_resolved || notification.status == Status::Firing
    }

    /// Sends `notification` once.
    ///
    /// # Errors
    /// What the receiver answered or why it could not be reached; [`SendError`] says
    /// whether another attempt may succeed.
    pub async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        match self {
            Channel::Webhook(c) => c.send(notification).await,
            Channel::Slack(c) => c.send(notification).await,
            Channel::PagerDuty(c) => c.send(notification).await,
            Channel::Email(c) => c.send(notification).await,
            Channel::Alertmanager(c) => c.send(&notification.alerts).await,
            Channel::Sms(c) => c.send(notification).await,
            Channel::Log(c) => {
                c.send(notification);
                Ok(())
            }
        }
    }
}

/// Every receiver of `config` ([`receiver::receivers`]) with its integrations, sharing
/// one HTTP client; secrets are read through `env` and their files at each send.
pub fn from_config(config: &Config, env: Env) -> BTreeMap<String, Vec<Channel>> {
    let client = http::client();
    let external_url = config.service.grafana_url.clone();
    let smtp = Arc::new(receiver::smtp(config));
    let pagerduty_url = Arc::<str>::from(config.delivery.pagerduty_url.as_str());
    receiver::receivers(config)
        .into_iter()
        .map(|receiver| {
            let channels = receiver
                .integrations
                .into_iter()
                .map(|integration| match integration {
                    Integration::Webhook(hook) => Channel::Webhook(WebhookChannel {
                        client: client.clone(),
                        env: env.clone(),
                        url: hook.url,
                        token: hook.token,
                        send_resolved: hook.send_resolved,
                        external_url: external_url.clone(),
                    }),
                    Integration::Slack(slack) => Channel::Slack(SlackChannel {
                        client: client.clone(),
                        env: env.clone(),
                        channel: slack.channel,
                        api_url: slack.api_url,
                        send_resolved: slack.send_resolved,
                    }),
                    Integration::PagerDuty(pd) => Channel::PagerDuty(PagerDutyChannel {
                        client: client.clone(),
                        env: env.clone(),
                        url: pagerduty_url.clone(),
                        routing_key: pd.routing_key,
                        send_resolved: pd.send_resolved,
                    }),
                    Integration::Email(email) => Channel::Email(EmailChannel {
                        smtp: smtp.clone(),
                        env: env.clone(),
                        to: email.to,
                        send_resolved: email.send_resolved,
                        timeout: std::time::Duration::from_secs(config.delivery.timeout_seconds),
                    }),
                    Integration::Sms(sms) => Channel::Sms(SmsChannel {
                        client: client.clone(),
                        env: env.clone(),
                        api_url: config.sms.api_url.clone(),
                        sms,
                    }),
                })
                .collect();
            (receiver.name, channels)
        })
        .collect()
}

/// The push to `[delivery] alertmanager_url`, if one is configured.
pub fn alertmanager_from_config(config: &Config) -> Option<Channel> {
    let url = &config.delivery.alertmanager_url;
    (!url.is_empty()).then(|| Channel::Alertmanager(AlertmanagerPush::new(http::client(), url)))
}

/// Every receiver of `config` delivered to the log only: the demo's receivers.
///
/// ```
/// let receivers = voxscope_alerting::channel::log_only(&Default::default());
/// assert_eq!(receivers["critical"].len(), 1);
/// assert_eq!(receivers["critical"][0].label(), "log");
/// ```
pub fn log_only(config: &Config) -> BTreeMap<String, Vec<Channel>> {
    receiver::receivers(config)
        .into_iter()
        .map(|r| (r.name, vec![Channel::Log(LogChannel)]))
        .collect()
}
