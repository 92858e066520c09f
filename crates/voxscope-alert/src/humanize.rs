//! Prometheus's template functions for `$value`, reproduced so that the generated
//! promtool tests can state the exact annotations an alert renders.

use crate::model::ValueFormat;

/// Renders `value` as Prometheus renders the template of `format`.
///
/// ```
/// use voxscope_alert::{ValueFormat, humanize::render};
/// assert_eq!(render(ValueFormat::Percent, 0.1), "10%");
/// assert_eq!(render(ValueFormat::Duration, 0.975), "975ms");
/// assert_eq!(render(ValueFormat::Bytes, 3.0 * 1024.0 * 1024.0 * 1024.0), "3Gi");
/// ```
pub fn render(format: ValueFormat, value: f64) -> String {
    match format {
        ValueFormat::Percent => format!("{}%", g4(value * 100.0)),
        ValueFormat::Duration => duration(value),
        ValueFormat::Bytes => scaled(value, 1024.0, &["ki", "Mi", "Gi", "Ti", "Pi", "Ei"]),
        ValueFormat::Plain => plain(value),
        ValueFormat::Score => format!("{value:.2}"),
        ValueFormat::Hidden => String::new(),
    }
}

/// Go's `%.4g` for values whose exponent is in -4..4, the range alerts show.
fn g4(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let exponent = value.abs().log10().floor() as i32;
    let decimals = (3 - exponent).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn scaled(mut value: f64, base: f64, prefixes: &[&str]) -> String {
    if value.abs() <= 1.0 {
        return g4(value);
    }
    let mut prefix = "";
    for p in prefixes {
        if value.abs() < base {
            break;
        }
        prefix = p;
        value /= base;
    }
    format!("{}{prefix}", g4(value))
}

fn small(mut value: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a"] {
        if value.abs() >= 1.0 {
            break;
        }
        prefix = p;
        value *= 1000.0;
    }
    (value, prefix)
}

fn plain(value: f64) -> String {
    if value == 0.0 || value.abs() >= 1.0 {
        return scaled(value, 1000.0, &["k", "M", "G", "T", "P", "E"]);
    }
    let (v, prefix) = small(value);
    format!("{}{prefix}", g4(v))
}

fn duration(value: f64) -> String {
    if value == 0.0 {
        return "0s".to_owned();
    }
    if value.abs() >= 1.0 {
        let sign = if value < 0.0 { "-" } else { "" };
        let whole = value.abs() as u64;
        let (days, hours, minutes, seconds) =
            (whole / 86_400, whole / 3_600 % 24, whole / 60 % 60, whole % 60);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(value.abs()))
        };
    }
    let (v, prefix) = small(value);
    format!("{}{prefix}s", g4(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_significant_digits_without_trailing_zeros() {
        assert_eq!(g4(10.0), "10");
        assert_eq!(g4(9.999999999999998), "10");
        assert_eq!(g4(2.85), "2.85");
        assert_eq!(g4(0.12345), "0.1235");
        assert_eq!(g4(-62.5), "-62.5");
    }

    #[test]
    fn durations_pick_prefix_or_clock_format() {
        assert_eq!(render(ValueFormat::Duration, 2.95), "2.95s");
        assert_eq!(render(ValueFormat::Duration, 0.2975), "297.5ms");
        assert_eq!(render(ValueFormat::Duration, 90.0), "1m 30s");
    }

    #[test]
    fn plain_numbers_use_si_prefixes() {
        assert_eq!(render(ValueFormat::Plain, 2.0), "2");
        assert_eq!(render(ValueFormat::Plain, 1500.0), "1.5k");
        assert_eq!(render(ValueFormat::Plain, 0.5), "500m");
        assert_eq!(render(ValueFormat::Score, -0.625), "-0.62");
    }
}
