//! The end-of-run checks: what `/metrics` says against what the driver did, and the
//! demo's memory and descriptors against their bounds.

use crate::drive::Tally;
use crate::exposition::Exposition;

/// One check: what was expected, what was found, and whether that passes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub expected: String,
    pub found: String,
    pub pass: bool,
}

impl Check {
    fn equal(name: impl Into<String>, expected: f64, found: f64) -> Self {
        let pass = expected == found;
        Self { name: name.into(), expected: expected.to_string(), found: found.to_string(), pass }
    }

    /// `found` at most `bound`.
    pub fn at_most(name: impl Into<String>, bound: f64, found: f64) -> Self {
        let pass = found.is_finite() && found <= bound;
        Self {
            name: name.into(),
            expected: format!("<= {bound}"),
            found: format!("{found:.3}"),
            pass,
        }
    }
}

/// The call, HTTP and in-flight accounting of `metrics` against `tally`.
pub fn checks(metrics: &Exposition, tally: &Tally) -> Vec<Check> {
    let calls = |outcome: &str| metrics.sum("voice_calls_total", &[("outcome", outcome)]);
    let mut checks = vec![
        Check::equal(
            "live calls (voice_calls_active)",
            0.0,
            metrics.sum("voice_calls_active", &[]),
        ),
        Check::equal(
            "HTTP requests in flight (http_server_active_requests)",
            0.0,
            metrics.sum("http_server_active_requests", &[]),
        ),
        Check::equal(
            "provider requests in flight (voice_provider_in_flight)",
            0.0,
            metrics.sum("voice_provider_in_flight", &[]),
        ),
        Check::equal(
            "calls ended (voice_calls_total)",
            tally.calls_served() as f64,
            metrics.sum("voice_calls_total", &[]),
        ),
        Check::equal(
            "completed: completed, with garbage, hung up",
            tally.calls_ended(&["completed", "completed (with garbage)", "hung up"]) as f64,
            calls("completed"),
        ),
        Check::equal(
            "dropped: reset mid-call",
            tally.calls_ended(&["disconnected"]) as f64,
            calls("dropped"),
        ),
        Check::equal(
            "rejected: answered 503",
            tally.calls_ended(&["rejected (503)"]) as f64,
            calls("rejected"),
        ),
        Check::equal("failed", 0.0, calls("failed")),
        Check::equal(
            "calls that did not run their script (error, cut, connect failed)",
            0.0,
            tally.calls_ended(&["error", "cut", "connect failed"]) as f64,
        ),
        Check::equal("HTTP requests without an answer", 0.0, tally.http_failed as f64),
    ];
    let requests = "http_server_request_duration_seconds_count";
    for ((method, route, status), count) in &tally.http {
        let status = status.to_string();
        let labels =
            [("method", method.as_str()), ("route", route.as_str()), ("status", status.as_str())];
        checks.push(Check::equal(
            format!("HTTP {method} {route} {status}"),
            *count as f64,
            metrics.sum(requests, &labels),
        ));
    }
    checks.push(Check::equal(
        "HTTP requests, all series",
        tally.http.values().sum::<u64>() as f64,
        metrics.sum(requests, &[]),
    ));
    checks
}
