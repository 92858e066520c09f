//! A server started as a child process, so that its memory and descriptors are its own:
//! started with flags, it says where it listens on a line of its output, and it is
//! killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// The running child.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Lines of its output that tell of a panic.
    pub panics: Arc<AtomicU64>,
}

impl Server {
    /// Starts `program` with `args` and `env`, and waits up to a minute for the line of
    /// its output (stdout or stderr) that contains `listening on http://ADDR`.
    pub fn start(program: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let panics = Arc::new(AtomicU64::new(0));
        let stdout = child.stdout.take().map(Output::Out);
        let stderr = child.stderr.take().map(Output::Err);
        for output in [stdout, stderr].into_iter().flatten() {
            let (tx, panics) = (tx.clone(), Arc::clone(&panics));
            std::thread::spawn(move || {
                for line in BufReader::new(output).lines().map_while(Result::ok) {
                    if line.contains("panicked") {
                        panics.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let _ =
                            tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                    }
                }
            });
        }
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            bail!("{} did not say where it listens within a minute", program.display());
        };
        let addr = addr.parse().with_context(|| format!("listen address {addr:?}"))?;
        Ok(Self { child, addr, panics })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One of the child's output pipes.
enum Output {
    Out(ChildStdout),
    Err(ChildStderr),
}

impl std::io::Read for Output {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Output::Out(out) => out.read(buf),
            Output::Err(err) => err.read(buf),
        }
    }
}
