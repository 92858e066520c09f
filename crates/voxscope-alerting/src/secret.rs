//! Reading a [`Secret`]: the environment variable wins over the file, and the file is
//! read at each send, so a rotated secret is used without a restart.
//!
//! ```
//! use voxscope_alert::receiver::Secret;
//! use voxscope_alerting::secret::resolve;
//! let secret = Secret { file: String::new(), env: "VOXSCOPE_WEBHOOK_TOKEN" };
//! let env = |name: &str| (name == "VOXSCOPE_WEBHOOK_TOKEN").then(|| "t0ken\n".to_owned());
//! assert_eq!(resolve(&secret, &env).unwrap(), Some("t0ken".to_owned()));
//! assert_eq!(resolve(&secret, &|_| None).unwrap(), None);
//! ```

use std::sync::Arc;

use voxscope_alert::Config;
pub use voxscope_alert::receiver::Secret;
use voxscope_alert::receiver::{self, Integration};

/// How the environment is read: `std::env::var` in a service, a closure in tests.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub fn process_env() -> Env {
    Arc::new(|name: &str| std::env::var(name).ok())
}

/// The secret's value, surrounding whitespace trimmed: the environment variable when set
/// and not empty, else the file's content; `None` when neither is configured.
///
/// # Errors
/// The file is configured and unreadable; the message names the file and the variable.
pub fn resolve(
    secret: &Secret,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    if let Some(value) = env(secret.env).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        return Ok(Some(value));
    }
    if secret.file.is_empty() {
        return Ok(None);
    }
    match std::fs::read_to_string(&secret.file) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_owned())),
        Ok(_) => Err(format!("{} is empty and {} is not set", secret.file, secret.env)),
        Err(e) => Err(format!("cannot read {} ({e}) and {} is not set", secret.file, secret.env)),
    }
}

/// [`resolve`], where a missing secret is an error too.
pub(crate) fn required(
    secret: &Secret,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    resolve(secret, env)?.ok_or_else(|| format!("no secret: set {} or a file", secret.env))
}

/// Every secret a receiver of `config` needs and cannot have now, one line per receiver
/// and integration: what a service logs at start, before the first page needs it.
///
/// ```
/// let config = voxscope_alert::Config::from_toml(
///     "[alertmanager]\nslack_api_url_file = \"/nonexistent/slack\"\n",
/// ).unwrap();
/// let problems = voxscope_alerting::secret::problems(&config, &|_| None);
/// assert!(problems.iter().any(|p| p.starts_with("receiver warning, slack: cannot read /nonexistent/slack")));
/// let env = |name: &str| Some(format!("value of {name}"));
/// let with_env = voxscope_alerting::secret::problems(&config, &env);
/// assert_eq!(with_env, Vec::<String>::new());
/// ```
pub fn problems(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    let smtp = receiver::smtp(config);
    for receiver in receiver::receivers(config) {
        for integration in &receiver.integrations {
            let (kind, secret, needed) = match integration {
                Integration::Webhook(hook) => match &hook.token {
                    Some(token) => ("webhook", token, false),
                    None => continue,
                },
                Integration::Slack(slack) => ("slack", &slack.api_url, true),
                Integration::PagerDuty(pd) => ("pagerduty", &pd.routing_key, true),
                Integration::Email(_) if smtp.username.is_empty() => continue,
                Integration::Email(_) => ("email", &smtp.password, true),
                Integration::Sms(sms) => ("sms", &sms.auth_token, true),
            };
            let problem = match resolve(secret, env) {
                Err(e) => e,
                Ok(None) if needed => format!("no secret: set {} or a file", secret.env),
                Ok(_) => continue,
            };
            out.push(format!("receiver {}, {kind}: {problem}", receiver.name));
        }
    }
    out.dedup();
    out
}
