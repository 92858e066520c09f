//! The `voice_agent` binary under test: started on a free loopback port with its story
//! off (no built-in callers, no incident timeline), so that the load is all the driver's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// A running demo; killed when dropped.
pub struct Demo {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `on` or `off`.
    pub instrumentation: &'static str,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the demos are started, beyond their mode.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Under `taskset -c` with this CPU list.
    pub cpus: Option<String>,
    /// `OTEL_TRACES_SAMPLER_ARG`: the head ratio of the routes without one of their own.
    pub ratio: Option<f64>,
}

impl Demo {
    /// Starts `binary` with `--instrumentation instrumentation` and waits until it says
    /// where it listens. Its log is read to the end (warnings and its listening line);
    /// nothing per request is logged at that level.
    pub fn start(
        binary: &Path,
        instrumentation: &'static str,
        launch: &Launch,
    ) -> anyhow::Result<Self> {
        let mut command = match &launch.cpus {
            Some(cpus) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", cpus]).arg(binary);
                taskset
            }
            None => Command::new(binary),
        };
        if let Some(ratio) = launch.ratio {
            command.env("OTEL_TRACES_SAMPLER_ARG", ratio.to_string());
        }
        let mut child = command
            .args(["--port", "0", "--callers", "0", "--timeline", "off"])
            .args(["--instrumentation", instrumentation])
            .env("RUST_LOG", "warn,voice_agent=info")
            .env_remove("VOXSCOPE_BIND")
            .env_remove("VOXSCOPE_METRICS_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let stderr = child.stderr.take().context("the demo's stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut last = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match line.split("listening on http://").nth(1) {
                    Some(rest) => {
                        let addr = rest.split_whitespace().next().unwrap_or_default();
                        let _ = tx.send(Ok(addr.to_owned()));
                    }
                    None if last.len() < 5 => last.push(line),
                    None => {}
                }
            }
            // Its stderr ended: it exited (or `taskset` refused to start it).
            let _ = tx.send(Err(last.join("\n")));
        });
        let demo = Demo { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), instrumentation };
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(addr)) => addr,
            Ok(Err(said)) => {
                bail!("the demo ({instrumentation}) exited before it listened: {said}")
            }
            Err(_) => {
                bail!("the demo ({instrumentation}) did not say where it listens within 60 s")
            }
        };
        let mut demo = demo;
        demo.addr = addr.parse().with_context(|| format!("the demo's address {addr:?}"))?;
        Ok(demo)
    }

    /// The CPUs the demo may run on, as the kernel reports them (`Cpus_allowed_list` in
    /// `/proc/PID/status`), where there is a `/proc`.
    pub fn cpus_allowed(&self) -> Option<String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| Some(line.strip_prefix("Cpus_allowed_list:")?.trim().to_owned()))
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://ADDR/media`.
    pub fn media_url(&self) -> String {
        voice_agent::callers::media_url(self.addr)
    }

    /// One HTTP/1.0 request on its own connection (so the body comes whole, not in
    /// chunks): the status and the body.
    pub fn request(&self, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
        let mut stream = TcpStream::connect(self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(stream, "{method} {path} HTTP/1.0\r\nhost: demo\r\ncontent-length: 0\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok());
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned());
        match (status, body) {
            (Some(status), Some(body)) => Ok((status, body)),
            _ => bail!("{method} {path}: not an HTTP response: {response:?}"),
        }
    }
}
