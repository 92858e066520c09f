//! Alertmanager's matcher syntax of `filter` parameters and amtool arguments:
//! `name op value` with an optional double-quoted value, OpenMetrics escapes inside it.

use voxscope_alert::expr::{MatchOp, Matcher};

/// Parses one matcher as Alertmanager's `labels.ParseMatcher` does: `job=voice`,
/// `job="voice"`, `job=~"voice.*"`, `severity!=info`; surrounding whitespace ignored.
///
/// ```
/// use voxscope_alert::expr::MatchOp;
/// use voxscope_alerting::api::parse_matcher;
///
/// let m = parse_matcher(r#" alertname =~ "High.*" "#).unwrap();
/// assert_eq!((m.label.as_str(), m.op, m.value.as_str()), ("alertname", MatchOp::Re, "High.*"));
/// assert_eq!(parse_matcher("job=voice agent").unwrap().value, "voice agent");
/// assert_eq!(parse_matcher(r#"q="say \"hi\"""#).unwrap().value, r#"say "hi""#);
/// assert!(parse_matcher("HighErrorRate").is_err());
/// assert!(parse_matcher(r#"job="open"#).is_err());
/// ```
///
/// # Errors
/// A message naming the malformed matcher.
pub fn parse_matcher(text: &str) -> Result<Matcher, String> {
    let bad = |why: &str| format!("bad matcher {text:?}: {why}");
    let trimmed = text.trim();
    let name_end = trimmed
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(trimmed.len());
    let label = &trimmed[..name_end];
    if label.is_empty() || label.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad("expected a label name first"));
    }
    let rest = trimmed[name_end..].trim_start();
    let (op, raw) = [("=~", MatchOp::Re), ("!~", MatchOp::NotRe), ("!=", MatchOp::Ne)]
        .into_iter()
        .find_map(|(token, op)| rest.strip_prefix(token).map(|r| (op, r)))
        .or_else(|| rest.strip_prefix('=').map(|r| (MatchOp::Eq, r)))
        .ok_or_else(|| bad("expected =, !=, =~ or !~ after the label"))?;
    let value = unescape(raw.trim()).ok_or_else(|| bad("unescaped double quote in the value"))?;
    Ok(Matcher { label: label.to_owned(), op, value })
}

/// The value of a matcher: an optional surrounding pair of double quotes, `\"`, `\\`
/// and `\n` escapes; a lone backslash stays literal.
fn unescape(raw: &str) -> Option<String> {
    let body = match raw.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => raw,
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                Some(&e @ ('"' | '\\')) => {
                    out.push(e);
                    chars.next();
                }
                _ => out.push('\\'),
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}
