//! `wrk` against the demo's HTTP API: a Lua script cycles through its routes, and the
//! report is parsed from wrk's `--latency` output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

/// The routes each wrk connection requests in turn. `/calls/call-1` and `/calls/call-2`
/// exist (the driver starts them first); `/calls/call-0` does not (a 404, as a client
/// with a stale id gets). `/health` is what a load balancer polls.
pub const ROUTES: [(&str, &str); 5] = [
    ("GET", "/calls/call-1"),
    ("GET", "/calls"),
    ("POST", "/calls/call-2/hangup"),
    ("GET", "/calls/call-0"),
    ("GET", "/health"),
];

/// What one wrk run measured.
#[derive(Clone, Copy, Debug)]
pub struct WrkReport {
    /// Completed requests per second.
    pub requests_per_sec: f64,
    /// Completed requests.
    pub requests: u64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
}

/// The Lua script that cycles through [`ROUTES`], written once into `dir`.
pub fn write_script(dir: &Path) -> anyhow::Result<PathBuf> {
    let requests: Vec<String> = ROUTES
        .iter()
        .map(|(method, path)| format!("  wrk.format(\"{method}\", \"{path}\"),"))
        .collect();
    let script = format!(
        "-- Cycles through the demo's routes, one request each in turn.\n\
         local requests = {{\n{}\n}}\n\
         local next = 0\n\
         request = function()\n  next = next % #requests + 1\n  return requests[next]\nend\n",
        requests.join("\n")
    );
    let path = dir.join(format!("voxscope-loadgen-{}.lua", std::process::id()));
    std::fs::write(&path, script).with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}

/// Runs `wrk` with `threads` threads and `connections` connections for `duration`
/// against `base_url` with `script`.
pub fn run(
    base_url: &str,
    script: &Path,
    threads: usize,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<WrkReport> {
    let output = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(base_url)
        .output()
        .context("run wrk (Debian package wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    }
    parse(&text).with_context(|| format!("wrk's output: {text}"))
}

/// Reads wrk's report: `Requests/sec:`, the requests completed, the `50%` and `99%`
/// lines of its latency distribution, and its socket errors.
pub fn parse(text: &str) -> anyhow::Result<WrkReport> {
    let value = |prefix: &str| {
        text.lines().find_map(|line| line.trim().strip_prefix(prefix).map(str::trim))
    };
    let requests_per_sec = value("Requests/sec:")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .context("no Requests/sec")?;
    let requests = text
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .and_then(|(count, _)| count.parse::<u64>().ok())
        .context("no requests count")?;
    let p50 = value("50%").and_then(parse_latency).context("no 50% latency")?;
    let p99 = value("99%").and_then(parse_latency).context("no 99% latency")?;
    let socket_errors = value("Socket errors:")
        .map(|v| {
            v.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Ok(WrkReport { requests_per_sec, requests, p50, p99, socket_errors })
}

/// `512.00us`, `1.23ms`, `2.00s` as wrk writes them.
fn parse_latency(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report of Debian's wrk 4.1.0 (`wrk -t2 -c16 -d1s --latency -s routes.lua`).
    const REPORT: &str = "Running 1s test @ http://127.0.0.1:38415/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.22ms    2.69ms  28.28ms   91.89%
    Req/Sec    34.12k     9.28k   52.75k    75.00%
  Latency Distribution
     50%  127.00us
     75%    1.29ms
     90%    3.49ms
     99%   15.55ms
  68126 requests in 1.01s, 7.99MB read
  Non-2xx or 3xx responses: 34063
Requests/sec:  67216.29
Transfer/sec:      7.88MB
";

    /// wrk's socket error line, printed when any occurred (wrk.c's format).
    const ERRORS: &str = "  Socket errors: connect 0, read 2, write 0, timeout 1\n";

    #[test]
    fn reads_wrk_4_1_reports() {
        let report = parse(REPORT).unwrap();
        assert_eq!(report.requests_per_sec, 67216.29);
        assert_eq!(report.requests, 68126);
        assert_eq!(report.p50, Duration::from_micros(127));
        assert_eq!(report.p99, Duration::from_micros(15550));
        assert_eq!(report.socket_errors, 0);
        assert_eq!(parse(&format!("{REPORT}{ERRORS}")).unwrap().socket_errors, 3);
        assert_eq!(parse_latency("1.50s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_latency("12parsecs"), None);
        let err = parse("Running 2s test\n").unwrap_err();
        assert_eq!(err.to_string(), "no Requests/sec");
    }
}
