//! The `voice_agent` binary itself, started as the README starts it: flags, the listen
//! address, and the metrics of what it served.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running binary; killed when dropped.
struct Demo {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` and waits for its "listening on" line.
fn start(args: &[&str]) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voice_agent"))
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("VOXSCOPE_BIND")
        .env_remove("VOXSCOPE_PORT")
        .env_remove("PORT")
        .env_remove("VOXSCOPE_DEMO_STT_KEY")
        .env_remove("VOXSCOPE_DEMO_LLM_KEY")
        .env_remove("VOXSCOPE_DEMO_TTS_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start voice_agent");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).expect("the demo said where it listens");
    Demo { child, addr: addr.parse().expect("a socket address") }
}

/// One HTTP/1.1 request on its own connection; the status and the body.
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: demo\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// The sum of the samples of `name` whose labels include every `key="value"` pair of
/// `labels`, in any order.
fn value(exposition: &str, name: &str, labels: &[&str]) -> f64 {
    exposition
        .lines()
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, rest) = series.split_once('{').unwrap_or((series, "}"));
            let pairs: Vec<&str> = rest.trim_end_matches('}').split(',').collect();
            (series_name == name && labels.iter().all(|l| pairs.contains(l)))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

const COUNT: &str = "http_server_request_duration_seconds_count";

#[test]
fn the_binary_listens_where_it_is_told_and_counts_what_it_served() {
    // Without the built-in callers: every request counted here is the test's.
    let args = ["--bind", "127.0.0.1", "--port", "0", "--metrics-token", "t0ken", "--callers", "0"];
    let demo = start(&args);
    assert!(demo.addr.ip().is_loopback() && demo.addr.port() != 0, "{}", demo.addr);
    assert_eq!(request(demo.addr, "GET", "/health"), (200, "ok".to_owned()));
    for i in 0..20 {
        assert_eq!(request(demo.addr, "GET", &format!("/scan/{i}.php")).0, 404);
        assert_eq!(request(demo.addr, "POST", &format!("/upload/{i}")).0, 404);
        assert_eq!(request(demo.addr, "DELETE", "/calls/42").0, 405);
    }
    assert_eq!(request(demo.addr, "GET", "/metrics").0, 401);
    // The upkeep thread drains histograms every few seconds; scrape until all 60 show.
    let deadline = Instant::now() + Duration::from_secs(30);
    let exposition = loop {
        let mut stream = TcpStream::connect(demo.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nhost: demo\r\nauthorization: Bearer t0ken\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let unmatched = value(&text, COUNT, &[r#"route="unmatched""#, r#"method="GET""#]);
        if unmatched == 20.0 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let count = |labels: &[&str]| value(&exposition, COUNT, labels);
    let service = r#"service="voice_agent""#;
    assert_eq!(
        count(&[service, r#"method="GET""#, r#"route="unmatched""#, r#"status="404""#]),
        20.0
    );
    assert_eq!(count(&[r#"method="POST""#, r#"route="unmatched""#, r#"status="404""#]), 20.0);
    assert_eq!(count(&[r#"method="DELETE""#, r#"route="/calls/{id}""#, r#"status="405""#]), 20.0);
    assert_eq!(count(&[]), 60.0, "/health and /metrics are excluded from the HTTP metrics");
    assert_eq!(value(&exposition, "voice_calls_capacity", &[r#"transport="twilio""#]), 500.0);
    assert_eq!(value(&exposition, "voxscope_config_missing", &[]), 3.0, "three demo keys unset");
}

#[test]
fn bad_flags_stop_the_binary_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_voice_agent"))
        .args(["--bind", "localhost:80"])
        .output()
        .expect("run voice_agent");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bind: \"localhost:80\" is neither IP:PORT nor an IP address"),
        "{stderr}"
    );
    let help = Command::new(env!("CARGO_BIN_EXE_voice_agent")).arg("--help").output().unwrap();
    assert!(help.status.success());
    let usage = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--bind",
        "--port",
        "--metrics-token",
        "--faults",
        "--callers",
        "--timeline",
        "--speed",
        "VOXSCOPE_BIND",
    ] {
        assert!(usage.contains(flag), "--help lacks {flag}:\n{usage}");
    }
}

#[test]
fn call_simulator_help_exits_zero_and_bad_flags_say_why() {
    let help = Command::new(env!("CARGO_BIN_EXE_call_simulator")).arg("--help").output().unwrap();
    assert!(help.status.success(), "{help:?}");
    let usage = String::from_utf8_lossy(&help.stdout);
    for flag in ["--url", "--calls", "--concurrency", "--turns", "--seconds", "--seed", "--gap-ms"]
    {
        assert!(usage.contains(flag), "--help lacks {flag}:\n{usage}");
    }
    assert!(help.stderr.is_empty(), "{}", String::from_utf8_lossy(&help.stderr));

    let run = |args: &[&str]| {
        let output =
            Command::new(env!("CARGO_BIN_EXE_call_simulator")).args(args).output().unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (code, stderr) = run(&["--calls", "0"]);
    assert_eq!((code, stderr.trim()), (Some(1), "call_simulator: --calls 0: between 1 and 10000"));
    let (code, stderr) = run(&["--url", "ws://example.com/media"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("loopback only"), "{stderr}");
    assert!(!stderr.contains("Stack backtrace"), "{stderr}");
    let (code, stderr) = run(&["--bogus"]);
    assert_eq!(code, Some(2), "clap's usage error: {stderr}");
    assert!(stderr.contains("--bogus"), "{stderr}");
}

#[test]
fn the_demo_says_where_its_live_page_is_first() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voice_agent"))
        .args(["--bind", "127.0.0.1", "--port", "0", "--callers", "0", "--timeline", "off"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start voice_agent");
    let stderr = child.stderr.take().expect("stderr");
    let first = BufReader::new(stderr).lines().map_while(Result::ok).next().unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let url = first.split("live page at ").nth(1).and_then(|rest| rest.split_whitespace().next());
    let url = url.unwrap_or_else(|| panic!("the first line names the live page: {first}"));
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/live"), "{first}");
    assert!(first.contains("listening on http://127.0.0.1:"), "{first}");
}
