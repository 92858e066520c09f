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

pub use voxscope_alert::receiver::Secret;

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
