//! The annotation templates the catalog writes, expanded as Prometheus expands them:
//! `{{ $labels.name }}`, `{{ $value }}` and `{{ $value | f }}` with the value functions
//! of [`crate::humanize`] (`humanize`, `humanize1024`, `humanizeDuration`,
//! `humanizePercentage`, `printf "%.2f"`).

use super::Labels;
use crate::humanize::render;
use crate::model::ValueFormat;

/// `text` with every action expanded for the sample `labels` and `value`. An action the
/// evaluator does not know makes the whole text an error message, as Prometheus's
/// template engine reports a failed expansion.
///
/// ```
/// use voxscope_alert::eval::{Labels, expand};
/// let labels = Labels::from([("route".to_owned(), "/calls".to_owned())]);
/// let text = "{{ $value | humanizePercentage }} of {{ $labels.route }} failed";
/// assert_eq!(expand(text, &labels, 0.125), "12.5% of /calls failed");
/// assert_eq!(expand("{{ $labels.nope }}", &labels, 0.0), "<no value>");
/// ```
pub fn expand(text: &str, labels: &Labels, value: f64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else {
            return error(text, "unclosed action");
        };
        let action = rest[start + 2..start + len].trim();
        match action_value(action, labels, value) {
            Some(expanded) => out.push_str(&expanded),
            None => return error(text, &format!("unsupported action {{{{ {action} }}}}")),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

fn error(text: &str, why: &str) -> String {
    format!("<error expanding template: {why} in {text:?}>")
}

fn action_value(action: &str, labels: &Labels, value: f64) -> Option<String> {
    if let Some(label) = action.strip_prefix("$labels.") {
        return Some(labels.get(label.trim()).cloned().unwrap_or_else(|| "<no value>".to_owned()));
    }
    let (head, pipe) = match action.split_once('|') {
        Some((head, pipe)) => (head.trim(), Some(pipe.trim())),
        None => (action, None),
    };
    if head != "$value" {
        return None;
    }
    let format = match pipe {
        None => return Some(go_float(value)),
        Some("humanize") => ValueFormat::Plain,
        Some("humanize1024") => ValueFormat::Bytes,
        Some("humanizeDuration") => ValueFormat::Duration,
        Some("humanizePercentage") => ValueFormat::Percent,
        Some(p) if p.replace(' ', "") == "printf\"%.2f\"" => ValueFormat::Score,
        Some(_) => return None,
    };
    Some(render(format, value))
}

/// A float64 as Go's `fmt` prints it with `%v`: shortest digits, exponent beyond 1e21.
fn go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let exponent = if value == 0.0 { 0 } else { value.abs().log10().floor() as i32 };
    if (-4..21).contains(&exponent) {
        return value.to_string();
    }
    let sci = format!("{value:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_function_of_the_catalog_expands() {
        let l = Labels::new();
        assert_eq!(expand("{{ $value | humanizeDuration }}", &l, 0.975), "975ms");
        assert_eq!(expand("{{ $value | humanize1024 }}B", &l, 2048.0), "2kiB");
        assert_eq!(expand("{{ $value | humanize }}", &l, 1500.0), "1.5k");
        assert_eq!(expand("{{ $value | printf \"%.2f\" }}", &l, -0.5), "-0.50");
        assert_eq!(expand("{{ $value }}", &l, 0.25), "0.25");
        assert_eq!(expand("{{ $value }}", &l, 1e-7), "1e-07");
    }

    #[test]
    fn unknown_actions_and_unclosed_braces_are_reported_not_dropped() {
        let l = Labels::new();
        assert!(expand("{{ $value | title }}", &l, 1.0).starts_with("<error expanding template"));
        assert!(expand("a {{ $value", &l, 1.0).contains("unclosed action"));
        assert_eq!(expand("no actions", &l, 1.0), "no actions");
    }
}
