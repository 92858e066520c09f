//! `[sms]`: SMS paging through Twilio's Messages API. Once `to` lists a number, the
//! critical receiver (critical and emergency alerts) texts every number on it, besides
//! PagerDuty, Slack and email.
//!
//! ```
//! let config = voxscope_alert::Config::from_toml(r#"
//!     [sms]
//!     account_sid = "AC0123456789abcdef0123456789abcdef"
//!     auth_token_file = "/run/secrets/twilio_auth_token"
//!     from = "+15005550006"
//!     to = ["+14155550100", "+14155550101"]
//! "#).unwrap();
//! assert!(config.sms.enabled());
//! assert_eq!(voxscope_alert::receiver::sms_integrations(&config).len(), 2);
//! ```
//!
//! The auth token is never config text: `auth_token_file`, or the environment variable
//! [`TWILIO_AUTH_TOKEN_ENV`], which wins over the file.

use serde::Deserialize;

use super::{Integration, Secret, http_url};
use crate::Error;

/// Environment variable holding the Twilio auth token.
pub const TWILIO_AUTH_TOKEN_ENV: &str = "VOXSCOPE_TWILIO_AUTH_TOKEN";

/// Twilio's documented API base URL.
pub const TWILIO_API_URL: &str = "https://api.twilio.com";

/// `[sms]` settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// The Twilio account SID, `AC` and 32 hex digits.
    pub account_sid: String,
    /// File holding the account's auth token; [`TWILIO_AUTH_TOKEN_ENV`] wins over it.
    pub auth_token_file: String,
    /// The sender: a Twilio number in E.164 form (`+15005550006`) or an alphanumeric
    /// sender ID of up to 11 characters where the destination country allows one.
    pub from: String,
    /// Numbers paged, in E.164 form; empty turns SMS off.
    pub to: Vec<String>,
    /// Whether a resolved notice is texted too.
    pub send_resolved: bool,
    /// Base URL of the API; `POST <api_url>/2010-04-01/Accounts/<sid>/Messages.json`.
    pub api_url: String,
    /// Where the generated Alertmanager configuration posts critical alerts for SMS: the
    /// webhook-to-SMS bridge (`sms_bridge` of voxscope-examples) that texts them through
    /// Twilio. The default reaches it on the host from the compose stack; `run-local.sh`
    /// rewrites it to loopback.
    pub alertmanager_webhook_url: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            account_sid: String::new(),
            auth_token_file: String::new(),
            from: String::new(),
            to: Vec::new(),
            send_resolved: true,
            api_url: TWILIO_API_URL.to_owned(),
            alertmanager_webhook_url: "http://host.docker.internal:9099/alertmanager".to_owned(),
        }
    }
}

impl SmsConfig {
    /// Whether any number is paged.
    pub fn enabled(&self) -> bool {
        !self.to.is_empty()
    }
}

/// One number texted through Twilio.
#[derive(Clone, Debug, PartialEq)]
pub struct Sms {
    /// The account SID, also the basic-auth user.
    pub account_sid: String,
    /// The auth token, the basic-auth password.
    pub auth_token: Secret,
    /// The sender number or ID.
    pub from: String,
    /// The recipient, E.164.
    pub to: String,
    /// Whether resolved notices are texted too.
    pub send_resolved: bool,
}

/// One [`Integration::Sms`] per number of `[sms] to`; none when SMS is off.
pub fn sms_integrations(config: &crate::Config) -> Vec<Integration> {
    let sms = &config.sms;
    sms.to
        .iter()
        .map(|to| {
            Integration::Sms(Sms {
                account_sid: sms.account_sid.clone(),
                auth_token: Secret {
                    file: sms.auth_token_file.clone(),
                    env: TWILIO_AUTH_TOKEN_ENV,
                },
                from: sms.from.clone(),
                to: to.clone(),
                send_resolved: sms.send_resolved,
            })
        })
        .collect()
}

/// Checks `[sms]` when it pages anyone: an account SID, a sender, E.164 numbers, URLs.
pub(crate) fn validate(sms: &SmsConfig) -> Result<(), Error> {
    http_url("sms.api_url", &sms.api_url)?;
    http_url("sms.alertmanager_webhook_url", &sms.alertmanager_webhook_url)?;
    if !sms.enabled() {
        return Ok(());
    }
    let sid = &sms.account_sid;
    if !(sid.len() == 34
        && sid.starts_with("AC")
        && sid[2..].bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(Error::invalid("sms.account_sid", sid, "AC followed by 32 hex digits"));
    }
    if !e164(&sms.from) && !alphanumeric_sender(&sms.from) {
        return Err(Error::invalid(
            "sms.from",
            &sms.from,
            "an E.164 number like +15005550006 or a sender ID of 1 to 11 letters, digits \
             and spaces with at least one letter",
        ));
    }
    for to in &sms.to {
        if !e164(to) {
            return Err(Error::invalid("sms.to", to, "an E.164 number like +14155550100"));
        }
    }
    if sms.auth_token_file.trim() != sms.auth_token_file {
        return Err(Error::invalid(
            "sms.auth_token_file",
            &sms.auth_token_file,
            "a path without leading or trailing whitespace",
        ));
    }
    Ok(())
}

/// `+` and 2 to 15 digits, the first not 0.
fn e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else { return false };
    (2..=15).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Twilio's alphanumeric sender IDs: up to 11 of A-Z, a-z, 0-9 and space, one letter.
fn alphanumeric_sender(from: &str) -> bool {
    (1..=11).contains(&from.len())
        && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && from.bytes().any(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sender_ids_follow_e164_and_twilio() {
        for good in ["+15005550006", "+442071838750", "+49"] {
            assert!(e164(good), "{good}");
        }
        for bad in ["15005550006", "+0123", "+1 500 555", "+1234567890123456", "+"] {
            assert!(!e164(bad), "{bad}");
        }
        assert!(alphanumeric_sender("VoxScope"));
        assert!(alphanumeric_sender("Ops 24"));
        assert!(!alphanumeric_sender("123456"));
        assert!(!alphanumeric_sender("VoxScopeOps1"));
        assert!(!alphanumeric_sender("Vox-Scope"));
    }
}
