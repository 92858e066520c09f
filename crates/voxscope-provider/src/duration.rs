//! Duration settings: positive, at most a day, and deadlines that never overflow.

use std::time::Duration;

use tokio::time::Instant;
use voxscope_core::ConfigError;

/// The longest timeout, cool-down or window a chain accepts: longer ones are typos (or
/// `Duration::MAX` meaning "never"), and would overflow an `Instant`.
pub const MAX_SETTING: Duration = Duration::from_secs(24 * 60 * 60);

/// Checks that a duration setting is above zero and at most [`MAX_SETTING`].
pub(crate) fn validate(field: String, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::Zero { field });
    }
    if value > MAX_SETTING {
        return Err(ConfigError::Invalid {
            field,
            value: format!("{value:?}"),
            reason: "at most 24 hours",
        });
    }
    Ok(())
}

/// `from + after`, capped at [`MAX_SETTING`] from `from` so that it cannot overflow
/// even when a caller skipped validation.
pub(crate) fn deadline(from: Instant, after: Duration) -> Instant {
    from.checked_add(after.min(MAX_SETTING)).unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_unbounded_durations_are_rejected() {
        assert!(matches!(validate("t".into(), Duration::ZERO), Err(ConfigError::Zero { .. })));
        let err = validate("p.timeout".into(), Duration::MAX).unwrap_err();
        assert_eq!(
            err.to_string(),
            "p.timeout: at most 24 hours (got \"18446744073709551615.999999999s\")"
        );
        assert!(validate("t".into(), MAX_SETTING).is_ok());
    }

    #[test]
    fn deadlines_never_overflow() {
        let now = Instant::now();
        assert_eq!(deadline(now, Duration::MAX), now + MAX_SETTING);
    }
}
