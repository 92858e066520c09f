//! Email through lettre to a real SMTP server on loopback (Python's aiosmtpd, writing a
//! Maildir), read back with Python's own MIME parser: subject, addresses, and an HTML
//! body per alert with summary, description, severity, start time and links, coloured
//! by severity.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{TempDir, notification, run};
use voxscope_alert::Config;
use voxscope_alerting::channel;
use voxscope_alerting::delivery::Delivery;
use voxscope_alerting::notification::Status;

const INSTALL: &str = "python3 -m pip install aiosmtpd";

/// aiosmtpd on `port`, killed on drop.
struct SmtpServer(Child);

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// aiosmtpd on `port` delivering into the Maildir `dir`; with a login and password,
/// it requires `AUTH` (PLAIN or LOGIN) with exactly those.
const SERVER: &str = r#"
import sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, maildir, credentials = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def authenticate(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and [data.login.decode(), data.password.decode()] == credentials
    return AuthResult(success=ok, handled=False)
options = dict(authenticator=authenticate, auth_required=True, auth_require_tls=False) if credentials else {}
Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, **options).start()
while True:
    time.sleep(3600)
"#;

/// Starts aiosmtpd delivering into the Maildir `dir` (requiring `credentials` when
/// given), or `None` (skip) when it is not installed and CI is not set.
fn smtp_server(dir: &std::path::Path, credentials: &[&str]) -> Option<(SmtpServer, u16)> {
    let python = support::tool("python3", INSTALL)?;
    let present = Command::new(&python).args(["-c", "import aiosmtpd"]).status();
    if !present.is_ok_and(|s| s.success()) {
        assert!(std::env::var_os("CI").is_none(), "aiosmtpd is missing and CI is set: {INSTALL}");
        eprintln!("skipped: aiosmtpd is not installed ({INSTALL})");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(python)
        .args(["-c", SERVER, &port.to_string(), &dir.to_string_lossy()])
        .args(credentials)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let server = SmtpServer(child);
    // Ready once it greets: a bare connect can succeed before aiosmtpd listens (a
    // loopback connect to a free ephemeral port may connect to itself), and a send that
    // then meets a refused connection is retried, which the tests count.
    let started = Instant::now();
    while !greets(port) {
        assert!(started.elapsed() < Duration::from_secs(20), "aiosmtpd did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((server, port))
}

/// Whether an SMTP server on `port` sends its `220` greeting.
fn greets(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    if stream.local_addr().is_ok_and(|local| local.port() == port) {
        return false;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut greeting = [0u8; 3];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"220"
}

/// Every message of the Maildir, parsed by Python's `email` package: subject, from, to,
/// content type, and the decoded text of each part by its content type.
fn messages(dir: &std::path::Path) -> serde_json::Value {
    let script = r#"
import email, json, mailbox, sys
out = []
for message in mailbox.Maildir(sys.argv[1], factory=None):
    parts = {}
    for part in message.walk():
        if not part.is_multipart():
            parts[part.get_content_type()] = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    out.append({"subject": message["Subject"], "from": message["From"], "to": message["To"],
                "type": message.get_content_type(), "parts": parts})
print(json.dumps(out))
"#;
    let output = Command::new("python3").args(["-c", script]).arg(dir).output().expect("python3");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json")
}

#[test]
fn an_html_email_per_notification_reaches_a_real_smtp_server() {
    let dir = TempDir::new("smtp");
    // aiosmtpd's Mailbox creates the Maildir, which must not exist yet.
    let maildir = dir.path().join("Maildir");
    let Some((_server, port)) = smtp_server(&maildir, &[]) else { return };
    let toml = format!(
        "[alertmanager]\nsmtp_smarthost = \"127.0.0.1:{port}\"\nsmtp_require_tls = false\n\
         smtp_auth_username = \"\"\nsmtp_from = \"voxscope@example.org\"\n"
    );
    let config = Config::from_toml(&toml).expect("config");
    let counts = run(false, || async {
        let receivers = channel::from_config(&config, Arc::new(|_: &str| None));
        let delivery = Delivery::new(&config.delivery, receivers, None);
        let mut escalated = notification("team-lead", Status::Firing);
        escalated.escalation_step = Some(0);
        assert_eq!(delivery.notify(escalated).queued, 1);
        assert_eq!(delivery.shutdown(Duration::from_secs(30)).await, 0);
    });
    assert_eq!(counts.0, [("email".to_owned(), "success".to_owned(), 1)]);

    let messages = messages(&maildir);
    let messages = messages.as_array().expect("messages");
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["subject"], "[FIRING:1] ServiceDown (critical, availability)");
    assert_eq!(message["from"], "voxscope@example.org");
    assert_eq!(message["to"], "lead@example.org");
    assert_eq!(message["type"], "multipart/alternative");
    let html = message["parts"]["text/html"].as_str().expect("an HTML part");
    for expected in [
        "<h2>[FIRING:1] ServiceDown (critical, availability)</h2>",
        "Escalation step 1: not acknowledged.",
        "<div style=\"border-left:6px solid #d63232;",
        "<h3 style=\"color:#d63232;margin:0\">voice_agent is down</h3>",
        "<p>No scrape of voice_agent succeeded for 1m &amp; &lt;nothing&gt; answers.</p>",
        "Severity: <strong style=\"color:#d63232\">critical</strong> (firing)",
        "Started: 2026-01-02T03:04:05.678Z",
        "<a href=\"https://runbooks.example.org/ServiceDown.md\">Runbook</a>",
        "<a href=\"http://grafana:3000/d/voxscope-overview\">Dashboard</a>",
    ] {
        assert!(html.contains(expected), "{expected:?} not in\n{html}");
    }
    let plain = message["parts"]["text/plain"].as_str().expect("a text part");
    assert!(plain.contains("Runbook: https://runbooks.example.org/ServiceDown.md"), "{plain}");
}

#[test]
fn an_smtp_server_that_is_down_is_retried_then_given_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let toml = format!(
        "[alertmanager]\nsmtp_smarthost = \"127.0.0.1:{port}\"\nsmtp_require_tls = false\n\
         smtp_auth_username = \"\"\n[delivery]\nmax_attempts = 2\nbackoff_initial_ms = 10\n"
    );
    let config = Config::from_toml(&toml).expect("config");
    let counts = run(false, || async {
        let receivers = channel::from_config(&config, Arc::new(|_: &str| None));
        let delivery = Delivery::new(&config.delivery, receivers, None);
        delivery.notify(notification("team-lead", Status::Firing));
        delivery.shutdown(Duration::from_secs(30)).await;
    });
    assert_eq!(
        counts.0,
        [
            ("email".to_owned(), "failed".to_owned(), 1),
            ("email".to_owned(), "retried".to_owned(), 1)
        ]
    );
}

#[test]
fn the_smtp_password_comes_from_the_environment_before_its_file() {
    let dir = TempDir::new("smtp-auth");
    let maildir = dir.path().join("Maildir");
    let Some((_server, port)) = smtp_server(&maildir, &["voxscope", "s3cret"]) else { return };
    let toml = format!(
        "[alertmanager]\nsmtp_smarthost = \"127.0.0.1:{port}\"\nsmtp_require_tls = false\n\
         smtp_auth_username = \"voxscope\"\nsmtp_auth_password_file = \"{}\"\n\
         [delivery]\nmax_attempts = 3\n",
        dir.file("smtp_password", "wrong\n"),
    );
    let config = Config::from_toml(&toml).expect("config");
    let send = |env: voxscope_alerting::secret::Env| {
        run(false, || async {
            let delivery =
                Delivery::new(&config.delivery, channel::from_config(&config, env), None);
            delivery.notify(notification("team-lead", Status::Firing));
            delivery.shutdown(Duration::from_secs(30)).await;
        })
    };
    // The file's password is refused (535): a permanent failure, not retried.
    let refused = send(Arc::new(|_: &str| None));
    assert_eq!(refused.0, [("email".to_owned(), "failed".to_owned(), 1)]);
    // The variable's is taken.
    let accepted = send(Arc::new(|name: &str| {
        (name == "VOXSCOPE_SMTP_PASSWORD").then(|| "s3cret".to_owned())
    }));
    assert_eq!(accepted.0, [("email".to_owned(), "success".to_owned(), 1)]);
    assert_eq!(messages(&maildir).as_array().map(Vec::len), Some(1));
}
