//! The demo's `/metrics`, read back: sample lines of the Prometheus text format.

use anyhow::{Context as _, bail};

/// One sample: series name, labels, value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Every sample line of an exposition.
#[derive(Clone, Debug, Default)]
pub struct Exposition(pub Vec<Sample>);

impl Exposition {
    /// Parses the text format; a line that is neither a comment nor a sample is an error.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let samples = text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| sample(line).with_context(|| format!("exposition line {line:?}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self(samples))
    }

    /// Sum of `name` over the series whose labels include every pair of `wanted`.
    pub fn sum(&self, name: &str, wanted: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| wanted.iter().all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v)))
            .map(|s| s.value)
            .sum()
    }
}

fn sample(line: &str) -> anyhow::Result<Sample> {
    let (series, value) = line.rsplit_once(' ').context("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().context("value is not a number")?,
    };
    let Some((name, rest)) = series.split_once('{') else {
        return Ok(Sample { name: series.to_owned(), labels: Vec::new(), value });
    };
    let mut labels = Vec::new();
    let mut rest = rest.strip_suffix('}').context("unclosed labels")?;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").context("label without =\"")?;
        let mut text = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => text.push('\n'),
                    Some((_, c)) => text.push(c),
                    None => bail!("dangling escape"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => text.push(c),
                None => bail!("unclosed label value"),
            }
        };
        labels.push((key.trim_start_matches(',').to_owned(), text));
        rest = after[end + 1..].trim_start_matches(',');
    }
    Ok(Sample { name: name.to_owned(), labels, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_prometheus_writes() {
        let text = "# HELP voice_calls_total x\n# TYPE voice_calls_total counter\n\
            voice_calls_total{transport=\"twilio\",outcome=\"completed\"} 12\n\
            voice_calls_total{transport=\"twilio\",outcome=\"dropped\"} 3\n\
            x_bucket{le=\"+Inf\",path=\"a \\\"q\\\" ,b\"} 4\nup 1\n";
        let e = Exposition::parse(text).unwrap();
        assert_eq!(e.sum("voice_calls_total", &[]), 15.0);
        assert_eq!(e.sum("voice_calls_total", &[("outcome", "dropped")]), 3.0);
        assert_eq!(e.0[2].labels[1], ("path".to_owned(), "a \"q\" ,b".to_owned()));
        assert_eq!(e.sum("up", &[]), 1.0);
        assert!(Exposition::parse("voice_calls_total{a=\"b} 1").is_err());
        assert!(Exposition::parse("nonsense").is_err());
    }
}
