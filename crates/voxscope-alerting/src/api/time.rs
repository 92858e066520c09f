//! RFC 3339 at the API's edge; unix milliseconds inside.

use std::time::{Duration, UNIX_EPOCH};

/// What Go writes for a zero `time.Time`: Prometheus's `lastEvaluation` of a rule never
/// evaluated.
pub(crate) const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The last millisecond RFC 3339 can write (9999-12-31T23:59:59.999Z).
const MAX_MS: i64 = 253_402_300_799_999;

/// `ms` as RFC 3339 UTC with milliseconds, clamped to 1970..=9999.
pub(crate) fn format_ms(ms: i64) -> String {
    let ms = u64::try_from(ms.clamp(0, MAX_MS)).unwrap_or(0);
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Parses RFC 3339 with `Z` or a `±hh:mm` offset (Go writes local offsets) into unix
/// milliseconds.
pub(crate) fn parse_ms(text: &str) -> Result<i64, String> {
    let bad = |reason: &str| format!("invalid RFC 3339 time {text:?}: {reason}");
    let split = text.len().checked_sub(6).and_then(|i| Some((text.get(..i)?, text.get(i..)?)));
    let (local, offset_s) = match split {
        Some((local, offset)) if offset.starts_with(['+', '-']) && offset.as_bytes()[3] == b':' => {
            let hours: i64 = offset[1..3].parse().map_err(|_| bad("bad offset hours"))?;
            let minutes: i64 = offset[4..].parse().map_err(|_| bad("bad offset minutes"))?;
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            (local, sign * (hours * 3_600 + minutes * 60))
        }
        _ => (text, 0),
    };
    let time = if offset_s == 0 && (local.ends_with('Z') || local.ends_with('z')) {
        humantime::parse_rfc3339(&local.replace('z', "Z"))
    } else {
        humantime::parse_rfc3339_weak(local)
    }
    .map_err(|e| bad(&e.to_string()))?;
    let ms = time.duration_since(UNIX_EPOCH).map_err(|_| bad("before 1970"))?.as_millis();
    let ms = i64::try_from(ms).map_err(|_| bad("out of range"))?;
    Ok(ms - offset_s * 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_go_times() {
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_ms(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_ms("2023-11-14T22:13:20.123Z"), Ok(1_700_000_000_123));
        assert_eq!(parse_ms("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        // amtool --start 2023-11-14T23:13:20+01:00 keeps the offset.
        assert_eq!(parse_ms("2023-11-14T23:13:20.000+01:00"), Ok(1_700_000_000_000));
        assert_eq!(parse_ms("2023-11-14T20:43:20-01:30"), Ok(1_700_000_000_000));
        assert!(parse_ms("0001-01-01T00:00:00Z").is_err());
        assert!(parse_ms("yesterday").is_err());
        assert!(parse_ms("2023-11-14T23:13:20+0x:00").is_err());
        assert!(parse_ms("2023-11-14T23:13:20ü+01:00").is_err());
    }
}
