//! Typed receivers: who hears a notification, and through which integrations. The
//! generated Alertmanager configuration and the embedded engine's delivery both read
//! them from here, so the two always send to the same places.
//!
//! ```
//! let config = voxscope_alert::Config::default();
//! let receivers = voxscope_alert::receiver::receivers(&config);
//! ```
//!
//! The built-in receivers `watchdog`, `default`, `critical`, `warning` and `quality`
//! come from the `[alertmanager]` settings. `[receivers.<name>]` adds named ones, for
//! escalation steps; `team-lead`, `manager` and `director` exist unless replaced:
//!
//! ```toml
//! [receivers.manager]
//! email = ["manager@example.org"]
//! slack_channels = ["#voice-urgent"]
//! pagerduty = false
//! webhook_urls = []
//! send_resolved = true
//! ```
//!
//! Secrets are never config text: each is a file (the `*_file` settings of
//! `[alertmanager]`, which Alertmanager reads too) or, for the embedded engine, an
//! environment variable that wins over the file: [`SLACK_API_URL_ENV`],
//! [`PAGERDUTY_ROUTING_KEY_ENV`], [`SMTP_PASSWORD_ENV`], [`WEBHOOK_TOKEN_ENV`],
//! [`TWILIO_AUTH_TOKEN_ENV`].
//!
//! `[sms]` ([`SmsConfig`]) adds a text message per number to the critical receiver.

mod sms;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::alertmanager::receivers as builtin;
use crate::{Config, Error};

pub(crate) use sms::validate as validate_sms;
pub use sms::{Sms, SmsConfig, TWILIO_API_URL, TWILIO_AUTH_TOKEN_ENV, sms_integrations};

/// Environment variable holding the Slack incoming-webhook URL.
pub const SLACK_API_URL_ENV: &str = "VOXSCOPE_SLACK_API_URL";
/// Environment variable holding the PagerDuty Events API v2 routing key.
pub const PAGERDUTY_ROUTING_KEY_ENV: &str = "VOXSCOPE_PAGERDUTY_ROUTING_KEY";
/// Environment variable holding the SMTP password.
pub const SMTP_PASSWORD_ENV: &str = "VOXSCOPE_SMTP_PASSWORD";
/// Environment variable holding the webhooks' bearer token.
pub const WEBHOOK_TOKEN_ENV: &str = "VOXSCOPE_WEBHOOK_TOKEN";

/// A secret: the environment variable, when set and not empty, else the file's content
/// (surrounding whitespace trimmed). An empty `file` and an unset variable: no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    /// Path of the file holding it; empty for none.
    pub file: String,
    /// The environment variable that overrides the file.
    pub env: &'static str,
}

/// One way of reaching a receiver.
#[derive(Clone, Debug, PartialEq)]
pub enum Integration {
    /// JSON POST of the Alertmanager webhook payload (version 4).
    Webhook(Webhook),
    /// A Slack incoming webhook, posting into `channel`.
    Slack(Slack),
    /// A PagerDuty Events API v2 trigger and resolve.
    PagerDuty(PagerDuty),
    /// An HTML email.
    Email(Email),
    /// A text message through Twilio's Messages API.
    Sms(Sms),
}

/// A webhook integration.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    /// Where the payload is posted.
    pub url: String,
    /// The bearer token, if any.
    pub token: Option<Secret>,
    /// Whether resolved notices are posted too.
    pub send_resolved: bool,
}

/// A Slack integration.
#[derive(Clone, Debug, PartialEq)]
pub struct Slack {
    /// The channel, e.g. `#voice-alerts`.
    pub channel: String,
    /// The incoming-webhook URL.
    pub api_url: Secret,
    /// Whether resolved notices are posted too.
    pub send_resolved: bool,
}

/// A PagerDuty integration.
#[derive(Clone, Debug, PartialEq)]
pub struct PagerDuty {
    /// The Events API v2 routing (integration) key.
    pub routing_key: Secret,
    /// Whether a resolve event follows the trigger.
    pub send_resolved: bool,
}

/// An email integration; the relay is [`Smtp`].
#[derive(Clone, Debug, PartialEq)]
pub struct Email {
    /// The recipient.
    pub to: String,
    /// Whether resolved notices are mailed too.
    pub send_resolved: bool,
}

/// A named receiver and its integrations.
#[derive(Clone, Debug, PartialEq)]
pub struct Receiver {
    /// The name routes and escalation steps refer to.
    pub name: String,
    /// How it is reached, in order.
    pub integrations: Vec<Integration>,
}

/// The SMTP relay every email goes through.
#[derive(Clone, Debug, PartialEq)]
pub struct Smtp {
    /// `host:port`.
    pub smarthost: String,
    /// Sender address.
    pub from: String,
    /// User; empty for no authentication.
    pub username: String,
    /// The password.
    pub password: Secret,
    /// Whether the connection must be TLS: implicit TLS on port 465, STARTTLS
    /// elsewhere. Off only for a relay on the same host or in tests.
    pub require_tls: bool,
}

/// `[receivers.<name>]`: a receiver added to the built-in ones.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiverConfig {
    /// Recipients of an HTML email each.
    pub email: Vec<String>,
    /// Slack channels, posted to through the incoming webhook of
    /// `alertmanager.slack_api_url_file` (or [`SLACK_API_URL_ENV`]).
    pub slack_channels: Vec<String>,
    /// Whether PagerDuty is paged, with the routing key of
    /// `alertmanager.pagerduty_routing_key_file` (or [`PAGERDUTY_ROUTING_KEY_ENV`]).
    pub pagerduty: bool,
    /// URLs posted the Alertmanager webhook payload, with the bearer token of
    /// `alertmanager.webhook_token_file` (or [`WEBHOOK_TOKEN_ENV`]).
    pub webhook_urls: Vec<String>,
    /// Whether resolved notices are sent too.
    pub send_resolved: bool,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            email: Vec::new(),
            slack_channels: Vec::new(),
            pagerduty: false,
            webhook_urls: Vec::new(),
            send_resolved: true,
        }
    }
}

/// Names of the receivers `[receivers]` has unless it replaces them: the default
/// escalation steps page them.
pub mod named {
    /// 15 minutes unacknowledged: the team lead, by email.
    pub const TEAM_LEAD: &str = "team-lead";
    /// 30 minutes: the manager, by email and the urgent Slack channel.
    pub const MANAGER: &str = "manager";
    /// 60 minutes: the director, by email and PagerDuty.
    pub const DIRECTOR: &str = "director";
}

/// The `[receivers]` in effect: `team-lead`, `manager` and `director` as documented,
/// each replaced by a `[receivers.<name>]` of the same name, plus any other one.
///
/// ```
/// let config = voxscope_alert::Config::from_toml(
///     "[receivers.sre]\nwebhook_urls = [\"http://bot:8080/hook\"]\n",
/// ).unwrap();
/// let named = voxscope_alert::receiver::named_configs(&config);
/// assert_eq!(named.keys().collect::<Vec<_>>(), ["director", "manager", "sre", "team-lead"]);
/// assert_eq!(named["manager"].slack_channels, ["#voice-urgent"]);
/// ```
pub fn named_configs(config: &Config) -> BTreeMap<String, ReceiverConfig> {
    let email = |to: &str| ReceiverConfig { email: vec![to.to_owned()], ..Default::default() };
    let mut out = BTreeMap::from([
        (named::TEAM_LEAD.to_owned(), email("lead@example.org")),
        (
            named::MANAGER.to_owned(),
            ReceiverConfig {
                slack_channels: vec!["#voice-urgent".to_owned()],
                ..email("manager@example.org")
            },
        ),
        (
            named::DIRECTOR.to_owned(),
            ReceiverConfig { pagerduty: true, ..email("director@example.org") },
        ),
    ]);
    out.extend(config.receivers.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// Every receiver: the built-in ones of `[alertmanager]` (`watchdog`, `default`,
/// `critical`, `warning`, `quality`), then those of [`named_configs`] by name. The
/// critical receiver texts the numbers of `[sms]` when it lists any.
///
/// ```
/// use voxscope_alert::receiver::{self, Integration};
/// let all = receiver::receivers(&Default::default());
/// let critical = all.iter().find(|r| r.name == "critical").unwrap();
/// assert!(matches!(critical.integrations[0], Integration::PagerDuty(_)));
/// let director = all.iter().find(|r| r.name == "director").unwrap();
/// assert_eq!(director.integrations.len(), 2);
/// ```
pub fn receivers(config: &Config) -> Vec<Receiver> {
    let am = &config.alertmanager;
    let slack = |channel: &str, send_resolved| {
        Integration::Slack(Slack {
            channel: channel.to_owned(),
            api_url: secret(&am.slack_api_url_file, SLACK_API_URL_ENV),
            send_resolved,
        })
    };
    let email =
        |to: &str, send_resolved| Integration::Email(Email { to: to.to_owned(), send_resolved });
    let pagerduty = |send_resolved| {
        Integration::PagerDuty(PagerDuty {
            routing_key: secret(&am.pagerduty_routing_key_file, PAGERDUTY_ROUTING_KEY_ENV),
            send_resolved,
        })
    };
    let webhook = |url: &str, token: bool, send_resolved| {
        Integration::Webhook(Webhook {
            url: url.to_owned(),
            token: token.then(|| secret(&am.webhook_token_file, WEBHOOK_TOKEN_ENV)),
            send_resolved,
        })
    };
    let receiver = |name: &str, integrations| Receiver { name: name.to_owned(), integrations };
    let mut out = vec![
        // The heartbeat's dead-man's switch takes no token and no resolved notices.
        receiver(builtin::WATCHDOG, vec![webhook(&am.watchdog_url, false, false)]),
        receiver(builtin::DEFAULT, vec![webhook(&am.webhook_url, true, true)]),
        receiver(
            builtin::CRITICAL,
            [
                vec![
                    pagerduty(true),
                    slack(&am.slack_critical_channel, true),
                    email(&am.oncall_email, true),
                ],
                sms_integrations(config),
            ]
            .concat(),
        ),
        receiver(builtin::WARNING, vec![slack(&am.slack_warning_channel, true)]),
        receiver(
            builtin::QUALITY,
            vec![slack(&am.slack_warning_channel, true), email(&am.quality_email, true)],
        ),
    ];
    for (name, named) in named_configs(config) {
        let resolved = named.send_resolved;
        let mut integrations: Vec<Integration> = Vec::new();
        if named.pagerduty {
            integrations.push(pagerduty(resolved));
        }
        integrations.extend(named.slack_channels.iter().map(|c| slack(c, resolved)));
        integrations.extend(named.email.iter().map(|to| email(to, resolved)));
        integrations.extend(named.webhook_urls.iter().map(|url| webhook(url, true, resolved)));
        out.push(Receiver { name, integrations });
    }
    out
}

/// The SMTP relay of `[alertmanager]`.
///
/// ```
/// let smtp = voxscope_alert::receiver::smtp(&Default::default());
/// assert_eq!(smtp.smarthost, "smtp.example.org:587");
/// assert_eq!(smtp.password.env, "VOXSCOPE_SMTP_PASSWORD");
/// ```
pub fn smtp(config: &Config) -> Smtp {
    let am = &config.alertmanager;
    Smtp {
        smarthost: am.smtp_smarthost.clone(),
        from: am.smtp_from.clone(),
        username: am.smtp_auth_username.clone(),
        password: secret(&am.smtp_auth_password_file, SMTP_PASSWORD_ENV),
        require_tls: am.smtp_require_tls,
    }
}

fn secret(file: &str, env: &'static str) -> Secret {
    Secret { file: file.to_owned(), env }
}

/// Checks `[receivers]`: names that are new and plain, at least one integration each,
/// addresses, channels and URLs that can be used.
pub(crate) fn validate(config: &Config) -> Result<(), Error> {
    for (name, named) in &config.receivers {
        let field = |key: &str| format!("receivers.{name}.{key}");
        let builtin_names = [
            builtin::CRITICAL,
            builtin::WARNING,
            builtin::QUALITY,
            builtin::DEFAULT,
            builtin::WATCHDOG,
        ];
        if builtin_names.contains(&name.as_str()) {
            return Err(Error::invalid(
                &format!("receivers.{name}"),
                name,
                "a built-in receiver, set through [alertmanager]; pick another name",
            ));
        }
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::invalid("receivers", name, "a name of letters, digits, - and _"));
        }
        if named.email.is_empty()
            && named.slack_channels.is_empty()
            && !named.pagerduty
            && named.webhook_urls.is_empty()
        {
            return Err(Error::invalid(
                &format!("receivers.{name}"),
                name,
                "reaches nobody: set email, slack_channels, pagerduty or webhook_urls",
            ));
        }
        for to in &named.email {
            let plain = !to.chars().any(|c| c.is_whitespace() || c.is_control());
            let parts = to.split_once('@');
            if !plain
                || !matches!(parts, Some((user, host)) if !user.is_empty() && host.contains('.'))
            {
                return Err(Error::invalid(&field("email"), to, "an address like ops@example.org"));
            }
        }
        for channel in &named.slack_channels {
            if channel.is_empty() || channel.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::invalid(
                    &field("slack_channels"),
                    channel,
                    "a channel like #voice-urgent",
                ));
            }
        }
        for url in &named.webhook_urls {
            http_url(&field("webhook_urls"), url)?;
        }
    }
    Ok(())
}

/// An `http://` or `https://` URL with a host.
pub(crate) fn http_url(field: &str, url: &str) -> Result<(), Error> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest)
            if !rest.is_empty() && !rest.starts_with('/') && !url.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(Error::invalid(field, url, "an http:// or https:// URL")),
    }
}
