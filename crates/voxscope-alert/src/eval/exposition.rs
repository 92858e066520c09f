//! Scraping the Prometheus text exposition format into a [`Storage`], as Prometheus
//! scrapes a target: the target's labels added (a clashing exposed label kept as
//! `exported_<name>`), `up` written, series missing since the previous scrape ended
//! with a staleness marker, and a malformed exposition failing the whole scrape.

use super::Labels;
use super::storage::{METRIC_NAME, Storage};

/// What one scrape stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scrape {
    /// Samples stored (`up` not included).
    pub samples: usize,
    /// Samples the storage rejected (series limit, out of order): see
    /// [`Storage::rejected`].
    pub rejected: usize,
    /// Series of the previous scrape missing from this one, marked stale.
    pub stale: usize,
}

/// Why an exposition was not scraped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("exposition line {line}: {reason}: {text:?}")]
pub struct ExpositionError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
    /// The line.
    pub text: String,
}

type Parsed = (Labels, f64, Option<i64>);

impl Storage {
    /// Scrapes `text` (the Prometheus text format) at `t_ms` from the target `target`
    /// (e.g. `job` and `instance`).
    ///
    /// ```
    /// use voxscope_alert::eval::{Labels, Storage};
    /// let mut storage = Storage::new(Default::default());
    /// let target = Labels::from([("job".to_owned(), "voice_agent".to_owned())]);
    /// let text = "# TYPE x_total counter\nx_total{route=\"/calls\"} 3\n";
    /// let scrape = storage.ingest_exposition(text, 0, &target).unwrap();
    /// assert_eq!(scrape.samples, 1);
    /// assert_eq!(storage.series_count(), 2); // x_total and up
    /// assert!(storage.ingest_exposition("x_total{", 5_000, &target).is_err());
    /// ```
    ///
    /// # Errors
    /// The first malformed line; then nothing of the scrape is stored, `up` is 0 and the
    /// target's series of the previous scrape are marked stale.
    pub fn ingest_exposition(
        &mut self,
        text: &str,
        t_ms: i64,
        target: &Labels,
    ) -> Result<Scrape, ExpositionError> {
        let parsed = parse(text);
        let mut up = target.clone();
        up.insert(METRIC_NAME.to_owned(), "up".to_owned());
        let previous = self.scraped.remove(target).unwrap_or_default();
        let rows = match parsed {
            Ok(rows) => rows,
            Err(error) => {
                for series in &previous {
                    self.mark_stale(series, t_ms);
                }
                let _ = self.append(&up, t_ms, 0.0);
                return Err(error);
            }
        };
        let mut scrape = Scrape::default();
        let mut current = Vec::with_capacity(rows.len());
        for (exposed, value, timestamp) in rows {
            let mut labels = Labels::new();
            for (k, v) in exposed {
                let k = if target.contains_key(&k) { format!("exported_{k}") } else { k };
                labels.insert(k, v);
            }
            labels.extend(target.clone());
            match self.append(&labels, timestamp.unwrap_or(t_ms), value) {
                Ok(()) => scrape.samples += 1,
                Err(_) => scrape.rejected += 1,
            }
            current.push(labels);
        }
        current.sort();
        for gone in previous.iter().filter(|s| current.binary_search(s).is_err()) {
            self.mark_stale(gone, t_ms);
            scrape.stale += 1;
        }
        let _ = self.append(&up, t_ms, 1.0);
        self.scraped.insert(target.clone(), current);
        Ok(scrape)
    }
}

fn parse(text: &str) -> Result<Vec<Parsed>, ExpositionError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |reason| ExpositionError { line: i + 1, reason, text: raw.to_owned() };
        out.push(parse_line(line).map_err(error)?);
    }
    Ok(out)
}

fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!first && c.is_ascii_digit())
}

fn parse_line(line: &str) -> Result<Parsed, &'static str> {
    let end = line.find(|c: char| !is_name_char(c, false)).unwrap_or(line.len());
    let name = &line[..end];
    if name.is_empty() || !name.starts_with(|c| is_name_char(c, true)) {
        return Err("expected a metric name");
    }
    let mut labels = Labels::from([(METRIC_NAME.to_owned(), name.to_owned())]);
    let mut rest = &line[end..];
    if let Some(body) = rest.strip_prefix('{') {
        rest = parse_labels(body, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("expected a value")?;
    let value = match value {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse::<f64>().map_err(|_| "the value is not a number")?,
    };
    let timestamp = match fields.next() {
        Some(t) => Some(t.parse::<i64>().map_err(|_| "the timestamp is not an integer")?),
        None => None,
    };
    if fields.next().is_some() {
        return Err("unexpected text after the timestamp");
    }
    Ok((labels, value, timestamp))
}

/// Parses `name="value",...}` into `labels`; returns what follows the `}`.
fn parse_labels<'a>(mut body: &'a str, labels: &mut Labels) -> Result<&'a str, &'static str> {
    loop {
        body = body.trim_start();
        if let Some(rest) = body.strip_prefix('}') {
            return Ok(rest);
        }
        let end = body.find(|c: char| !is_name_char(c, false) || c == ':').unwrap_or(body.len());
        let name = &body[..end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err("expected a label name");
        }
        body = body[end..].trim_start().strip_prefix('=').ok_or("expected = after a label name")?;
        body = body.trim_start().strip_prefix('"').ok_or("expected a quoted label value")?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let close = loop {
            match chars.next() {
                None => return Err("unterminated label value"),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => return Err("invalid escape in a label value"),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err("a label appears twice");
        }
        body = body[close + 1..].trim_start();
        if let Some(rest) = body.strip_prefix(',') {
            body = rest;
        } else if !body.starts_with('}') {
            return Err("expected , or } after a label");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Labels {
        Labels::from([
            ("job".to_owned(), "voice_agent".to_owned()),
            ("instance".to_owned(), "a:3000".to_owned()),
        ])
    }

    #[test]
    fn labels_escapes_and_special_values_parse_as_prometheus_writes_them() {
        let rows = parse(
            "# HELP x A help line with \"quotes\".\n\
             x{a=\"q\\\"uote\",b=\"back\\\\slash\",c=\"new\\nline\",} +Inf\n\
             y -1.5e-3 1700000000000\n\
             z{le=\"0.5\"} NaN\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].0["a"], "q\"uote");
        assert_eq!(rows[0].0["b"], "back\\slash");
        assert_eq!(rows[0].0["c"], "new\nline");
        assert_eq!(rows[0].1, f64::INFINITY);
        assert_eq!((rows[1].1, rows[1].2), (-0.0015, Some(1_700_000_000_000)));
        assert!(rows[2].1.is_nan());
    }

    #[test]
    fn malformed_lines_name_the_line_and_the_reason() {
        for (text, reason) in [
            ("x{a=\"1", "unterminated label value"),
            ("x{a=\"1\" 2", "expected , or } after a label"),
            ("x{a=1} 2", "expected a quoted label value"),
            ("x 1 2 3", "unexpected text after the timestamp"),
            ("x one", "the value is not a number"),
            ("{a=\"1\"} 2", "expected a metric name"),
            ("x{a=\"1\",a=\"2\"} 2", "a label appears twice"),
        ] {
            let err = parse(&format!("ok 1\n{text}")).unwrap_err();
            assert_eq!((err.line, err.reason), (2, reason), "{text}");
        }
    }

    #[test]
    fn a_scrape_adds_target_labels_up_and_ends_missing_series() {
        let mut storage = Storage::new(Default::default());
        let first = storage.ingest_exposition("a{job=\"inner\"} 1\nb 2\n", 0, &target()).unwrap();
        assert_eq!(first, Scrape { samples: 2, rejected: 0, stale: 0 });
        let a = &storage.metrics["a"];
        let (labels, _) = a.iter().next().unwrap();
        assert_eq!(
            (labels["job"].as_str(), labels["exported_job"].as_str()),
            ("voice_agent", "inner")
        );
        let second = storage.ingest_exposition("b 3\n", 15_000, &target()).unwrap();
        assert_eq!(second.stale, 1);
        assert_eq!(a_value(&storage, "a", 20_000), None);
        assert_eq!(a_value(&storage, "b", 20_000), Some(3.0));
        assert_eq!(a_value(&storage, "up", 20_000), Some(1.0));
        // A failed scrape: up is 0 and every series of the target ends.
        assert!(storage.ingest_exposition("b{", 30_000, &target()).is_err());
        assert_eq!(a_value(&storage, "up", 30_000), Some(0.0));
        assert_eq!(a_value(&storage, "b", 30_000), None);
    }

    proptest::proptest! {
        /// Any text is scraped or refused with an error; never a panic.
        #[test]
        fn any_text_is_scraped_or_refused(text in "\\PC{0,200}", newline in proptest::bool::ANY) {
            let text = if newline { text.replace(';', "\n") } else { text };
            let mut storage = Storage::new(Default::default());
            let _ = storage.ingest_exposition(&text, 0, &target());
        }

        /// Label values with quotes, backslashes and newlines, escaped as the text format
        /// escapes them, parse back to themselves.
        #[test]
        fn escaped_label_values_parse_back(value in "[a-z\"\\\\\n{},= ]{0,20}", v in -1e9f64..1e9) {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            let rows = parse(&format!("m{{l=\"{escaped}\"}} {v}")).unwrap();
            proptest::prop_assert_eq!(&rows[0].0["l"], &value);
            proptest::prop_assert_eq!(rows[0].1, v);
        }
    }

    fn a_value(storage: &Storage, name: &str, t: i64) -> Option<f64> {
        storage.metrics.get(name)?.values().next()?.instant(&storage.limits, t)
    }
}
