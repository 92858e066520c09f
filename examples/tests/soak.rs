//! The soak's one-minute version: the built `soak` binary drives the built `voice_agent`
//! binary (its own process, so its memory and descriptors are the demo's alone) with
//! 100 concurrent simulated Twilio calls for 60 s under provider faults, then checks
//! `/metrics` against what it did. The ten-minute, thousand-call run is the same binary
//! with other flags (docs/soak.md).

use std::process::Command;

use serde_json::Value;

/// The bound on the demo's memory growth after the warm-up, KiB per call served, in a
/// debug build. A leaked call socket (its 128 KiB read buffer) crosses it on every call.
/// A bound per minute cannot be right in one minute: the demo's bounded stores (the
/// embedded history's raw hour, the trace store, the registry's last 1,000 ended calls)
/// are still filling, about 4 KiB per call on a quiet machine and up to 22 KiB per call
/// seen at load average 9, when fewer calls are served in the minute while the
/// allocator's arenas still grow. The ten-minute run's 1 MiB/min bound, after two
/// minutes of warm-up, is the tight one (docs/soak.md).
const MAX_KIB_PER_CALL: f64 = 64.0;

#[test]
fn a_minute_of_a_hundred_concurrent_calls_balances_and_leaks_nothing() {
    let dir = std::env::temp_dir().join(format!("voxscope-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("soak.json");
    let output = Command::new(env!("CARGO_BIN_EXE_soak"))
        .args(["run", "--calls", "100", "--duration", "60s", "--warmup", "20s", "--sample", "2s"])
        // The per-minute bound is checked per call below.
        .args(["--max-slope", "1000", "--fd-slack", "16", "--seed", "3"])
        .args(["--demo", env!("CARGO_BIN_EXE_voice_agent"), "--json"])
        .arg(&json)
        .output()
        .expect("run soak");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "soak failed:\n{stdout}\n{stderr}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    // Every check held, and there were checks of each kind.
    let checks = report["checks"].as_array().expect("checks");
    let failed: Vec<&Value> = checks.iter().filter(|c| c["pass"] != true).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    for wanted in [
        "live calls (voice_calls_active)",
        "calls ended (voice_calls_total)",
        "dropped: reset mid-call",
        "HTTP GET /media 101",
        "HTTP POST /calls/{id}/hangup 200",
        "HTTP requests, all series",
    ] {
        assert!(names.contains(&wanted), "no check {wanted:?} in {names:?}");
    }

    // The load was what it says: hundreds of calls of every kind, none lost.
    let view = &report["caller_view"];
    let count = |end: &str| view[end].as_u64().unwrap_or_default();
    let served = report["calls_served"].as_u64().unwrap();
    assert!(served >= 200, "{served} calls in a minute at 100 concurrent");
    for end in ["completed", "completed (with garbage)", "hung up", "disconnected"] {
        assert!(count(end) >= 10, "{end}: {}", count(end));
    }
    assert_eq!(count("error") + count("cut") + count("connect failed"), 0, "{view}");
    assert_eq!(
        report["http_requests"].as_u64().unwrap(),
        served * 5,
        "four API calls and /media per call"
    );
    assert!(report["turns_answered"].as_u64().unwrap() > 0);

    // Memory flat, descriptors back.
    let slope = report["rss_slope_mib_per_min"].as_f64().expect("a slope");
    assert!(slope.is_finite(), "{slope} MiB/min");
    let per_call_kib = slope * 1024.0 / served as f64; // served over the run's one minute
    assert!(
        per_call_kib <= MAX_KIB_PER_CALL,
        "{per_call_kib:.1} KiB per call ({slope:.2} MiB/min, {served} calls)"
    );
    let (start, end) = (report["fds_start"].as_u64().unwrap(), report["fds_end"].as_u64().unwrap());
    assert!(end <= start + 16, "descriptors {start} -> {end}");
    let readings = report["readings"].as_array().unwrap();
    assert!(readings.len() >= 25, "{} readings in 60 s at 2 s", readings.len());
    let peak = readings.iter().filter_map(|r| r["fds"].as_u64()).max().unwrap();
    assert!(peak >= start + 100, "the calls held descriptors: peak {peak}, start {start}");
}
