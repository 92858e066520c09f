//! Settings from flags (`--port 3000`, `--metrics-token T`, `--faults SPEC`) or the
//! environment (`VOXSCOPE_PORT` or `PORT`, `VOXSCOPE_METRICS_TOKEN`,
//! `VOXSCOPE_DEMO_FAULTS`).

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};

/// The demo's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the service listens; always loopback.
    pub addr: SocketAddr,
    /// When set, `/metrics` answers 401 without `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// Faults injected into the simulated providers (see [`crate::providers`]).
    pub faults: Option<String>,
}

impl Config {
    /// Reads the process's flags and environment.
    pub fn from_env_and_args() -> anyhow::Result<Self> {
        Self::parse(std::env::args().skip(1), |key| std::env::var(key).ok())
    }

    /// Parses flags, falling back to `env` for what they leave unset.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let mut port = None;
        let mut metrics_token = None;
        let mut faults = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let mut value = || inline.clone().or_else(|| args.next());
            match flag.as_str() {
                "--port" => port = Some(value().context("--port needs a value")?),
                "--metrics-token" => {
                    metrics_token = Some(value().context("--metrics-token needs a value")?)
                }
                "--faults" => faults = Some(value().context("--faults needs a value")?),
                "-h" | "--help" => bail!(
                    "usage: voice_agent [--port N] [--metrics-token TOKEN] [--faults SPEC]\n\
                     env: VOXSCOPE_PORT or PORT, VOXSCOPE_METRICS_TOKEN, VOXSCOPE_DEMO_FAULTS\n\
                     faults: stt.primary=outage,llm.primary=error:rate_limited@0.5,tts.primary=stall:3s"
                ),
                other => bail!("unknown argument {other:?} (try --help)"),
            }
        }
        let port = port.or_else(|| env("VOXSCOPE_PORT")).or_else(|| env("PORT"));
        let port: u16 = match port {
            Some(text) => {
                text.parse().with_context(|| format!("port: {text:?} is not a port number"))?
            }
            None => 3000,
        };
        let metrics_token =
            metrics_token.or_else(|| env("VOXSCOPE_METRICS_TOKEN")).filter(|t| !t.is_empty());
        let faults = faults.or_else(|| env("VOXSCOPE_DEMO_FAULTS")).filter(|f| !f.is_empty());
        Ok(Self { addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)), metrics_token, faults })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_beat_environment_and_default_is_3000() {
        let none = |_: &str| None;
        assert_eq!(Config::parse(args(&[]), none).unwrap().addr.port(), 3000);
        let env = |k: &str| (k == "PORT").then(|| "4000".to_owned());
        assert_eq!(Config::parse(args(&[]), env).unwrap().addr.port(), 4000);
        assert_eq!(Config::parse(args(&["--port", "5000"]), env).unwrap().addr.port(), 5000);
        assert_eq!(Config::parse(args(&["--port=0"]), none).unwrap().addr.port(), 0);
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let none = |_: &str| None;
        let err = Config::parse(args(&["--port", "http"]), none).unwrap_err();
        assert_eq!(err.to_string(), "port: \"http\" is not a port number");
        assert!(Config::parse(args(&["--bogus"]), none).is_err());
    }
}
