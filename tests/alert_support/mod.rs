//! Shared by the alert tests: external tools found on PATH (skip with a reason, or fail
//! under CI) and a temporary deploy/ tree written from the generators.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use std::time::Duration;

use serde_json::Value;
use voxscope::alert::{RuleCatalog, deploy};

/// `name` from PATH. Absent, the caller skips with a printed reason, unless `CI` is set,
/// where absence is a failure.
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not on PATH and CI is set: install Debian's {package} package"
        );
        eprintln!("skipped: {name} is not on PATH (apt-get install {package})");
    }
    found
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("voxscope-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes every generated deploy/ file of `catalog` under a fresh temp dir.
pub fn write_deploy(catalog: &RuleCatalog) -> TempDir {
    let dir = TempDir::new("deploy");
    for file in deploy::files(catalog) {
        let path = dir.path().join(&file.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &file.contents).expect("write");
    }
    dir
}

/// Runs `program args` in `dir`; returns the output and stdout+stderr as text.
pub fn run(program: &Path, dir: &Path, args: &[&str]) -> (Output, String) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

/// A tool running in the background (Prometheus, Alertmanager) with its temporary
/// directory: killed and reaped on drop, so a failing test leaves no process behind.
pub struct Daemon {
    /// The running process.
    pub child: Child,
    _dir: TempDir,
}

impl Daemon {
    /// Owns `child` and `dir` until dropped.
    pub fn new(child: Child, dir: TempDir) -> Self {
        Self { child, _dir: dir }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// HTTP traffic on the demo at `base`, forever: calls created, read, given a turn through
/// the providers and hung up; a 404, an unmatched path and `/fail` (a 503 where the test
/// mounted it) each round.
pub async fn drive_traffic(base: String) {
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.post(format!("{base}/calls")).send().await
            && let Ok(call) = response.json::<Value>().await
            && let Some(id) = call["id"].as_str()
        {
            let _ = client.get(format!("{base}/calls/{id}")).send().await;
            // A turn through the providers, whose primaries fail now and then.
            let _ = client
                .post(format!("{base}/calls/{id}/turn"))
                .body("move my appointment")
                .send()
                .await;
            let _ = client.post(format!("{base}/calls/{id}/hangup")).send().await;
        }
        let _ = client.get(format!("{base}/calls/nobody")).send().await; // 404
        let _ = client.get(format!("{base}/no/such/path")).send().await; // unmatched 404
        let _ = client.get(format!("{base}/fail")).send().await; // 503
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `run-local.sh` of a deploy/ tree running as its own process group, stopped with TERM
/// (its trap stops the daemons) on drop.
pub struct Stack(Child);

impl Stack {
    /// Runs `deploy/run-local.sh` of `dir` with `sh`, its state under `dir`, and `env`
    /// (`VOXSCOPE_TARGET`, the ports, the receivers).
    pub fn start(sh: &Path, dir: &Path, env: &[(&str, String)]) -> Self {
        use std::os::unix::process::CommandExt;
        let child = Command::new(sh)
            .arg(dir.join(deploy::LOCAL_SCRIPT))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("VOXSCOPE_STATE", dir.join("state"))
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run run-local.sh");
        Self(child)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// The JSON answer of `GET url`; null when unreachable or not JSON.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    match client.get(url).send().await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    }
}
