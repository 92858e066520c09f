//! `voxscope check` validates the `[history]` section like every other.

use std::process::Command;

#[test]
fn check_names_a_bad_history_setting_and_accepts_a_good_one() {
    let dir = std::env::temp_dir().join(format!("voxscope-cli-{}-history", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let run = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        let output = Command::new(env!("CARGO_BIN_EXE_voxscope"))
            .arg("check")
            .arg(&path)
            .output()
            .expect("run");
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (ok, stderr) = run("good.toml", "[history]\naggregate_days = 14\nsummary_days = 60\n");
    assert!(ok, "{stderr}");
    let (ok, stderr) = run("bad.toml", "[history]\nsummary_days = 3\n");
    assert!(!ok);
    assert!(stderr.contains("history.summary_days"), "{stderr}");
    assert!(stderr.contains("at least aggregate_days (7)"), "{stderr}");
    let (ok, stderr) = run("unknown.toml", "[history]\nraw_hours = 2\n");
    assert!(!ok && stderr.contains("raw_hours"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
