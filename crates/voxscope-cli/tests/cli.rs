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

/// A loopback server answering every request with `answer(request line)`: a status
/// and a JSON body.
fn fake_prometheus(answer: fn(&str) -> (u16, String)) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let (status, json) = answer(&line);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                json.len()
            );
        }
    });
    url
}

#[test]
fn report_writes_every_row_from_prometheus_answers_and_names_what_failed() {
    let empty = fake_prometheus(|line| {
        let kind = if line.contains("query_range") { "matrix" } else { "vector" };
        (200, format!(r#"{{"status":"success","data":{{"resultType":"{kind}","result":[]}}}}"#))
    });
    let dir = temp("report");
    let out = dir.join("report.html");
    let out_arg = out.to_str().expect("utf-8");
    let (ok, _, stderr) = voxscope(&[
        "report",
        "--prometheus",
        &empty,
        "--since",
        "2d",
        "--format",
        "html",
        "--out",
        out_arg,
    ]);
    assert!(ok, "{stderr}");
    let page = std::fs::read_to_string(&out).expect("written");
    assert!(page.contains("Period 2d") && page.matches("status no_data").count() == 11, "{page}");

    let (ok, stdout, _) = voxscope(&["report", "--prometheus", &empty, "--end", "1700000000"]);
    assert!(
        ok && stdout.starts_with("# KPI report, 2023-11-07T22:13:20Z to 2023-11-14T22:13:20Z"),
        "{stdout}"
    );

    let refusing = fake_prometheus(|_| {
        (422, r#"{"status":"error","errorType":"execution","error":"query timed out"}"#.to_owned())
    });
    let (ok, _, stderr) = voxscope(&["report", "--prometheus", &refusing]);
    assert!(
        !ok && stderr.contains("Prometheus answered 422") && stderr.contains("query timed out"),
        "{stderr}"
    );

    let (ok, _, stderr) = voxscope(&["report", "--prometheus", &empty, "--since", "0s"]);
    assert!(!ok && stderr.contains("--since \"0s\" must be at least one second"), "{stderr}");
    let (ok, _, stderr) = voxscope(&["report", "--prometheus", &empty, "--format", "pdf"]);
    assert!(!ok && stderr.contains("invalid value 'pdf'"), "{stderr}");
    let (ok, _, stderr) = voxscope(&["report", "--prometheus", &empty, "--state-dir", "/tmp"]);
    assert!(!ok && stderr.contains("cannot be used with"), "{stderr}");
    let (ok, _, stderr) = voxscope(&["report"]);
    assert!(!ok && stderr.contains("--prometheus <URL>|--state-dir <DIR>"), "{stderr}");
    let (ok, _, stderr) = voxscope(&["report", "--state-dir", dir.to_str().expect("utf-8")]);
    assert!(!ok && stderr.contains("holds no saved metric history"), "{stderr}");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[report]\nuptime = 2\n").expect("write");
    let (ok, _, stderr) = voxscope(&["check", bad.to_str().expect("utf-8")]);
    assert!(!ok && stderr.contains("report.uptime"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn docs_writes_the_page_of_a_configs_own_metrics() {
    let dir = temp("docs");
    let config = dir.join("shop.toml");
    std::fs::write(
        &config,
        r#"
[[metrics]]
name = "orders_total"
kind = "counter"
help = "Orders placed, by payment method."
family = "shop"
labels = [{ name = "method", values = ["card", "invoice"] }, { name = "campaign", cap = 20 }]
thresholds = [{ alert = "FewOrders", below = 0.01, severity = "critical", by = ["method"] }]

[[metrics]]
name = "basket_value"
kind = "histogram"
unit = "currency"
help = "Basket value per order."
family = "shop"
buckets = [10, 50, 100]
thresholds = [{ alert = "BigBaskets", above = 50, quantile = 0.9, window_seconds = 600 }]
"#,
    )
    .expect("write");
    let config_arg = config.to_str().expect("utf-8");
    let out = dir.join("app-metrics.md");
    let out_arg = out.to_str().expect("utf-8");
    let (ok, _, stderr) = voxscope(&["docs", "--config", config_arg, "--out", out_arg]);
    assert!(ok, "{stderr}");
    let page = std::fs::read_to_string(&out).expect("written");
    let expected_lines = [
        format!("Do not edit by hand: run `voxscope docs --config {config_arg} --out {out_arg}`."),
        "## Application metrics: shop".to_owned(),
        "| `orders_total` | counter | count | `method` (card, invoice), `campaign` (at most 20) \
         | Orders placed, by payment method. |"
            .to_owned(),
        "| `basket_value` | histogram | currency units | none | Basket value per order. |"
            .to_owned(),
        "- `basket_value`: 10, 50, 100".to_owned(),
        "- `FewOrders` (critical): rate of `orders_total` below 0.01/s over 5m, for 5m, per \
         `method`"
            .to_owned(),
        "- `BigBaskets` (warning): p90 of `basket_value` above 50 over 10m, for 5m".to_owned(),
    ];
    for line in &expected_lines {
        assert!(page.contains(line.as_str()), "missing {line:?} in\n{page}");
    }

    let (ok, stdout, stderr) = voxscope(&["docs"]);
    assert!(ok, "{stderr}");
    assert!(stdout.ends_with("No application metric is declared.\n"), "{stdout}");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[metrics]]\nname = \"orders\"\nkind = \"counter\"\nhelp = \"x\"\n")
        .expect("write");
    let (ok, _, stderr) = voxscope(&["docs", "--config", bad.to_str().expect("utf-8")]);
    assert!(!ok && stderr.contains("metrics[0].name") && stderr.contains("_total"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
