//! The `loadgen` binary, run briefly against the built `voice_agent`: it starts the demo
//! off, with metrics, on and under the alternative layers, drives wrk against each and
//! the media driver against the first three, checks that the instrumented demos counted
//! every frame it sent and every request wrk completed, and prints its tables.

use std::process::Command;

/// The cells of the table row that starts with `| name |`.
fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|line| line.starts_with(&format!("| {name} |")))
        .unwrap_or_else(|| panic!("no {name} row in:\n{table}"));
    line.trim_matches('|').split('|').map(str::trim).skip(1).collect()
}

#[test]
fn measures_every_mode_and_checks_the_accounting() {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--agent", env!("CARGO_BIN_EXE_voice_agent")])
        .args(["--seconds", "1", "--rounds", "1", "--connections", "4", "--calls", "3"])
        .output()
        .expect("run loadgen (needs wrk)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");

    // The metrics and on demos counted exactly what the driver sent them.
    for mode in ["metrics", "on"] {
        let line = stdout
            .lines()
            .find(|line| {
                line.starts_with(&format!("accounting: the demo ({mode}) counted "))
                    && line.ends_with(" frames")
            })
            .unwrap_or_else(|| panic!("no frame accounting line for {mode}:\n{stdout}"));
        let numbers: Vec<u64> =
            line.split_whitespace().filter_map(|word| word.parse().ok()).collect();
        assert_eq!(numbers.len(), 2, "{line}");
        assert_eq!(numbers[0], numbers[1], "{line}");
        assert!(numbers[0] >= 3 * 50, "each call sends at least one batch: {line}");
    }
    assert!(stdout.contains("the uninstrumented demo recorded no HTTP or call series"));

    // Each HTTP layer counted the 4 in 5 of wrk's requests on the routes it counts
    // (not /health), give or take one request a connection (4) and a thread (2), the 2
    // set-up requests and any request wrk gave up on.
    let errors: u64 = stdout
        .lines()
        .find_map(|line| line.split("wrk socket errors: ").nth(1)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no socket error count:\n{stdout}"));
    for mode in ["metrics", "on", "alternative"] {
        let prefix = format!("accounting: the demo ({mode}) counted ");
        let line = stdout
            .lines()
            .find(|line| line.starts_with(&prefix) && line.contains(" requests; wrk completed "))
            .unwrap_or_else(|| panic!("no HTTP accounting line for {mode}:\n{stdout}"));
        let numbers: Vec<f64> = line
            .split_whitespace()
            .filter_map(|word| word.trim_end_matches([';', ',']).parse().ok())
            .collect();
        assert_eq!(numbers.len(), 4, "{line}");
        let (counted, completed) = (numbers[0], numbers[1]);
        assert_eq!((numbers[2], numbers[3]), (4.0, 5.0), "{line}");
        assert!(completed > 0.0, "{line}");
        let slack = 4.0 + 2.0 + 2.0 + errors as f64;
        assert!((counted - completed * 0.8).abs() <= slack, "{line}");
    }
    let cells = row(&stdout, "requests/s (wrk)");
    assert_eq!(cells.len(), 5, "{cells:?}");
    for rate in &cells[..3] {
        let rate: f64 = rate.parse().expect("a rate");
        assert!(rate.is_finite() && rate > 0.0, "alternative table: {cells:?}");
    }
    let ratio = stdout
        .lines()
        .find_map(|line| line.strip_prefix("on is ")?.split(" x ").next()?.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no on/alternative ratio:\n{stdout}"));
    assert!(ratio.is_finite() && ratio > 0.0, "{ratio}");

    for name in ["HTTP requests/s (wrk)", "media frames/s"] {
        let cells = row(&stdout, name);
        assert_eq!(cells.len(), 5, "{cells:?}");
        for rate in &cells[..3] {
            let rate: f64 = rate.parse().expect("a rate");
            assert!(rate.is_finite() && rate > 0.0, "{name}: {cells:?}");
        }
        for ratio in &cells[3..] {
            let percent: f64 = ratio.trim_end_matches(" %").parse().expect("a percentage");
            assert!(percent > 0.0 && percent.is_finite(), "{name}: {cells:?}");
        }
    }
    for name in ["HTTP p99", "media batch round trip p99"] {
        let cells = row(&stdout, name);
        for latency in &cells[..3] {
            let ms: f64 = latency.trim_end_matches(" ms").parse().expect("milliseconds");
            assert!(ms > 0.0 && ms < 10_000.0, "{name}: {cells:?}");
        }
    }
}

#[test]
fn pins_the_demos_and_sets_their_sampling_ratio() {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--agent", env!("CARGO_BIN_EXE_voice_agent")])
        .args(["--agent-cpus", "0", "--sampling-ratio", "0"])
        .args(["--seconds", "1", "--rounds", "1", "--connections", "4", "--calls", "2"])
        .output()
        .expect("run loadgen (needs wrk and taskset)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("\ndemos on CPUs 0; head sampling ratio 0\n"), "{stdout}");
    for mode in ["off", "metrics", "on", "alternative"] {
        let line = format!("the demo ({mode}) runs on CPUs 0\n");
        assert!(stdout.contains(&line), "no {line:?} in:\n{stdout}");
    }
    // The demos ran under taskset and served: every mode's accounting held.
    let accounted = stdout.lines().filter(|line| line.starts_with("accounting: ")).count();
    assert_eq!(accounted, 3 + 2 + 1, "{stdout}");
    let cells = row(&stdout, "HTTP requests/s (wrk)");
    for rate in &cells[..3] {
        let rate: f64 = rate.parse().expect("a rate");
        assert!(rate.is_finite() && rate > 0.0, "{cells:?}");
    }
}

#[test]
fn refuses_a_bad_cpu_list_or_ratio_before_starting_anything() {
    for (flag, value, says) in [
        ("--agent-cpus", "1;2", "agent-cpus: \"1;2\" is not a CPU list"),
        ("--agent-cpus", "", "agent-cpus: \"\" is not a CPU list"),
        ("--agent-cpus", "3-", "agent-cpus: \"3-\" is not a CPU list"),
        ("--sampling-ratio", "1.5", "sampling-ratio: \"1.5\" is not a ratio in 0..=1"),
        ("--sampling-ratio", "NaN", "sampling-ratio: \"NaN\" is not a ratio in 0..=1"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(["--agent", env!("CARGO_BIN_EXE_voice_agent"), flag, value])
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run loadgen");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flag} {value:?} accepted");
        assert!(stderr.contains(says), "{flag} {value:?}: {stderr}");
    }
}
