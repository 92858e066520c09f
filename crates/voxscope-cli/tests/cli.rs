//! The `voxscope` binary as an operator runs it.

use std::path::PathBuf;
use std::process::Command;

fn voxscope(args: &[&str]) -> (bool, String, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_voxscope")).args(args).output().expect("run voxscope");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voxscope-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn check_accepts_a_good_config_and_names_the_field_of_a_bad_one() {
    let dir = temp("check");
    let good = dir.join("good.toml");
    std::fs::write(&good, "[thresholds]\nhttp_error_ratio = 0.02\n").expect("write");
    let (ok, stdout, _) = voxscope(&["check", good.to_str().expect("utf-8")]);
    assert!(ok && stdout.contains(": ok ("), "{stdout}");

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[thresholds.ttfb.stt]\nwarning = 0.25\ncritical = 0.5\n").expect("write");
    let (ok, _, stderr) = voxscope(&["check", bad.to_str().expect("utf-8")]);
    assert!(!ok);
    assert!(stderr.contains("thresholds.ttfb.stt.warning: 0.25 is not a bucket bound"), "{stderr}");
    assert!(stderr.contains("bad.toml"), "the message does not say which file: {stderr}");

    let (ok, _, stderr) = voxscope(&["check", dir.join("absent.toml").to_str().expect("utf-8")]);
    assert!(!ok && stderr.contains("cannot read config"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rules_go_to_stdout_and_honour_the_config() {
    let dir = temp("rules");
    let config = dir.join("voxscope.toml");
    std::fs::write(&config, "[thresholds]\nhttp_error_ratio = 0.02\n").expect("write");
    let (ok, stdout, stderr) = voxscope(&["rules", "--config", config.to_str().expect("utf-8")]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("# ---- prometheus/rules/voxscope.rules.yml"), "{stdout}");
    assert!(stdout.contains("> 0.02"), "config ignored");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn out_writes_files_as_deploy_lays_them_out() {
    let dir = temp("out");
    let out = dir.to_str().expect("utf-8");
    for (command, file) in [
        ("alertmanager", "alertmanager/alertmanager.yml"),
        ("dashboards", "grafana/dashboards/voxscope-http.json"),
        ("runbooks", "runbooks/ConfigMissing.md"),
    ] {
        let (ok, _, stderr) = voxscope(&[command, "--out", out]);
        assert!(ok, "{command}: {stderr}");
        assert!(dir.join(file).is_file(), "{command} did not write {file}");
    }
    let (ok, _, stderr) = voxscope(&["deploy", "--out", out]);
    assert!(ok, "{stderr}");
    assert!(dir.join("docker-compose.yml").is_file());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn deploy_without_out_is_a_usage_error() {
    let (ok, _, stderr) = voxscope(&["deploy"]);
    assert!(!ok && stderr.contains("--out"), "{stderr}");
}
