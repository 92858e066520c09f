//! A reader of the OpenMetrics text the month generator writes for promtool: sample
//! lines `name{k="v",...} value timestamp` (seconds), comments and `# EOF` skipped; and a
//! filter that keeps the sample lines of some metrics for promtool.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Whether the sample line `bytes` is of one of the metrics `names`.
fn of_metric(bytes: &[u8], names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| bytes.starts_with(n.as_bytes()) && matches!(bytes.get(n.len()), Some(b'{' | b' ')))
}

/// Writes to `out` the sample lines of `path` of the metrics `names` (untyped, as
/// promtool reads them), then `# EOF`.
pub fn filter(path: &Path, names: &[&str], out: &Path) {
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(path).expect("opens"));
    let mut writer =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(out).expect("creates"));
    let mut bytes = Vec::new();
    while reader.read_until(b'\n', &mut bytes).expect("reads") > 0 {
        if of_metric(&bytes, names) {
            writer.write_all(&bytes).expect("writes");
        }
        bytes.clear();
    }
    writer.write_all(b"# EOF\n").expect("writes");
    writer.flush().expect("flushes");
}

use voxscope::alert::eval::Labels;

/// The samples of the metrics named in `names`, by label set (`__name__` included), as
/// `(unix ms, value)` in file order.
pub fn read(path: &Path, names: &[&str]) -> BTreeMap<Labels, Vec<(i64, f64)>> {
    let file = std::fs::File::open(path).expect("month.om opens");
    let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    let mut last: Option<(String, Labels)> = None;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        if reader.read_until(b'\n', &mut bytes).expect("month.om reads") == 0 {
            break;
        }
        // Most lines are of metrics not read: skip them before decoding.
        if !names.iter().any(|n| bytes.starts_with(n.as_bytes())) {
            continue;
        }
        let line = std::str::from_utf8(&bytes).expect("ASCII").trim_end();
        let name_end = line.find(['{', ' ']).expect("a metric name");
        let name = &line[..name_end];
        if !names.contains(&name) {
            continue;
        }
        let (series, rest) = match line[name_end..].strip_prefix('{') {
            Some(after) => {
                let close = after.find('}').expect("labels close");
                (&line[..name_end + 1 + close + 1], after[close + 1..].trim_start())
            }
            None => (name, line[name_end..].trim_start()),
        };
        let mut fields = rest.split_whitespace();
        let value: f64 = fields.next().expect("a value").parse().expect("a number");
        let seconds: f64 = fields.next().expect("a timestamp").parse().expect("seconds");
        let labels = match &last {
            Some((text, labels)) if text == series => labels.clone(),
            _ => {
                let labels = parse_labels(name, &series[name.len()..]);
                last = Some((series.to_owned(), labels.clone()));
                labels
            }
        };
        out.entry(labels).or_default().push(((seconds * 1000.0).round() as i64, value));
    }
    out
}

/// `{k="v",...}` (values without escapes, as the generator writes them).
fn parse_labels(name: &str, text: &str) -> Labels {
    let mut labels = Labels::from([("__name__".to_owned(), name.to_owned())]);
    let inner = text.trim_start_matches('{').trim_end_matches('}');
    for pair in inner.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').expect("k=v");
        labels.insert(k.to_owned(), v.trim_matches('"').to_owned());
    }
    labels
}
