//! Settings from flags or the environment, parsed with clap:
//!
//! | flag | environment | default |
//! |---|---|---|
//! | `--bind ADDR` (`IP:PORT` or `IP`) | `VOXSCOPE_BIND` | `127.0.0.1:3000` |
//! | `--port N` (replaces the port of the bind address) | `VOXSCOPE_PORT`, then `PORT` | |
//! | `--metrics-token T` | `VOXSCOPE_METRICS_TOKEN` | none: `/metrics` is open |
//! | `--admin-bind IP:PORT` (`/metrics`, `/traces`, the live page and the alert API only there) | `VOXSCOPE_ADMIN_BIND` | none: served on the main listener |
//! | `--faults SPEC` | `VOXSCOPE_DEMO_FAULTS` | none |
//! | `--alert-config PATH` (TOML: thresholds, receivers, routes, cooldowns, escalation) | `VOXSCOPE_ALERT_CONFIG` | the built-in defaults |
//! | `--notify log\|receivers` (where alert notifications go) | `VOXSCOPE_NOTIFY` | `log` |
//! | `--callers N` (built-in simulated callers on `/media`; 0 turns them off) | `VOXSCOPE_DEMO_CALLERS` | 8 |
//! | `--timeline on\|off` (the scripted incident timeline) | `VOXSCOPE_DEMO_TIMELINE` | `on` |
//! | `--speed N` (the story's minutes pass N times faster, 1 to 60) | `VOXSCOPE_DEMO_SPEED` | 1 |
//! | `--instrumentation on\|metrics\|off\|alternative` (voxscope's HTTP, trace and call layers; metrics: no trace layer; alternative: tower-http's and axum-prometheus's layers instead) | `VOXSCOPE_INSTRUMENTATION` | `on` |
//! | `--max-calls N` (concurrent `/media` calls before 503, 1 to 20000) | `VOXSCOPE_MAX_CALLS` | 500 |
//!
//! The provider keys (`VOXSCOPE_DEMO_STT_KEY`, …) come from the environment only, so they
//! never show in a process list.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::{Arg, Command};

use crate::instrumentation::Instrumentation;
use crate::providers::KEY_VARS;

/// The address the demo listens on when nothing else is said: loopback only.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000);

/// The demo's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the service listens. Loopback unless `--bind` or `VOXSCOPE_BIND` say
    /// otherwise (`0.0.0.0:3000` lets a Prometheus in a container scrape it).
    pub addr: SocketAddr,
    /// When set, `/metrics` answers 401 without `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// The production profile: when set, `/metrics`, `/traces`, the live page and the
    /// alert API are served only on this second listener, and the main one answers 404
    /// for them (see [`crate::admin`]).
    pub admin_addr: Option<SocketAddr>,
    /// Faults injected into the simulated providers (see [`crate::providers`]).
    pub faults: Option<String>,
    /// The provider keys that are set, by variable name (values are never logged).
    pub provider_keys: BTreeMap<&'static str, String>,
    /// The alerting config file (`voxscope check` validates the same file).
    pub alert_config: Option<PathBuf>,
    /// Where the embedded engine's notifications go.
    pub notify: Notify,
    /// How many built-in simulated callers dial `/media` at a time (0: none).
    pub callers: usize,
    /// Whether the scripted incident timeline runs (see [`crate::timeline`]).
    pub timeline: bool,
    /// How many times faster than the wall clock the story runs: the timeline's
    /// minutes, the alert engine's clock (its `for` durations, windows and rates are per
    /// scaled second) and the breakers' cool-down. 1 is real time.
    pub speed: u32,
    /// Whether voxscope's layers are on (see [`crate::instrumentation`]).
    pub instrumentation: Instrumentation,
    /// Concurrent `/media` calls; the next one is refused with 503.
    pub max_calls: usize,
}

/// The built-in callers when nothing else is said.
pub const DEFAULT_CALLERS: usize = 8;
/// At most this many built-in callers.
pub const MAX_CALLERS: usize = 200;
/// The most concurrent calls `--max-calls` accepts.
pub const MAX_MAX_CALLS: usize = 20_000;
/// The fastest the story may run.
pub const MAX_SPEED: u32 = 60;

/// Where the demo's alert notifications go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Notify {
    /// Every receiver writes to the log (target `voxscope::alert`): nothing leaves the
    /// machine.
    #[default]
    Log,
    /// The receivers of the alert config: email, Slack, PagerDuty, webhooks, with
    /// secrets from their files or `VOXSCOPE_*` variables.
    Receivers,
}

fn command() -> Command {
    Command::new("voice_agent")
        .about("The voxscope demo voice service: HTTP API, Twilio media streams, simulated providers")
        .arg(
            Arg::new("bind")
                .long("bind")
                .value_name("ADDR")
                .help("Listen address, IP:PORT or IP [env: VOXSCOPE_BIND] [default: 127.0.0.1:3000]"),
        )
        .arg(
            Arg::new("port")
                .long("port")
                .value_name("N")
                .help("Port, replacing the bind address's [env: VOXSCOPE_PORT, PORT]"),
        )
        .arg(
            Arg::new("metrics-token")
                .long("metrics-token")
                .value_name("TOKEN")
                .help("Bearer token that /metrics requires [env: VOXSCOPE_METRICS_TOKEN]"),
        )
        .arg(Arg::new("admin-bind").long("admin-bind").value_name("IP:PORT").help(
            "Serves /metrics, /traces, the live page and the alert API only on this listener [env: VOXSCOPE_ADMIN_BIND]",
        ))
        .arg(Arg::new("alert-config").long("alert-config").value_name("PATH").help(
            "Alerting config (TOML): thresholds, receivers, cooldowns, escalation [env: VOXSCOPE_ALERT_CONFIG]",
        ))
        .arg(Arg::new("notify").long("notify").value_name("WHERE").help(
            "Where alert notifications go: log, or the config's receivers [env: VOXSCOPE_NOTIFY] [default: log]",
        ))
        .arg(Arg::new("callers").long("callers").value_name("N").help(
            "Built-in simulated callers on /media, 0 for none [env: VOXSCOPE_DEMO_CALLERS] [default: 8]",
        ))
        .arg(Arg::new("timeline").long("timeline").value_name("on|off").help(
            "The scripted incident timeline: a TTS stall, an LLM rate-limit storm, the recovery [env: VOXSCOPE_DEMO_TIMELINE] [default: on]",
        ))
        .arg(Arg::new("speed").long("speed").value_name("N").help(
            "Runs the story N times faster (timeline, alert engine clock, breaker cool-down), 1 to 60 [env: VOXSCOPE_DEMO_SPEED] [default: 1]",
        ))
        .arg(Arg::new("instrumentation").long("instrumentation").value_name("on|metrics|off|alternative").help(
            "voxscope's HTTP metrics, trace and call layers; metrics leaves out the trace layer, off serves the same routes without any, alternative under tower-http's TraceLayer and axum-prometheus instead [env: VOXSCOPE_INSTRUMENTATION] [default: on]",
        ))
        .arg(Arg::new("max-calls").long("max-calls").value_name("N").help(
            "Concurrent /media calls before 503, 1 to 20000 [env: VOXSCOPE_MAX_CALLS] [default: 500]",
        ))
        .arg(Arg::new("faults").long("faults").value_name("SPEC").help(
            "Provider faults, e.g. stt.primary=outage,llm.primary=error:rate_limited@0.5,tts.primary=stall:3s [env: VOXSCOPE_DEMO_FAULTS]",
        ))
}

impl Config {
    /// Reads the process's flags and environment. `--help` prints the usage and exits.
    pub fn from_env_and_args() -> anyhow::Result<Self> {
        match Self::parse(std::env::args(), |key| std::env::var(key).ok()) {
            Err(err) => match err.downcast::<clap::Error>() {
                Ok(clap) => clap.exit(),
                Err(other) => Err(other),
            },
            config => config,
        }
    }

    /// Parses `args` (the program name first, as `std::env::args` gives it), falling
    /// back to `env` for what they leave unset.
    ///
    /// ```
    /// use voice_agent::config::Config;
    ///
    /// let config = Config::parse(["voice_agent", "--bind", "0.0.0.0:8080"], |_| None).unwrap();
    /// assert_eq!(config.addr.to_string(), "0.0.0.0:8080");
    /// ```
    pub fn parse<I, T>(args: I, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = command().try_get_matches_from(args)?;
        let flag = |name: &str| matches.get_one::<String>(name).cloned();
        let env = |key: &str| env(key).filter(|value| !value.is_empty());

        let mut addr = match flag("bind").or_else(|| env("VOXSCOPE_BIND")) {
            Some(text) => parse_bind(&text)?,
            None => DEFAULT_ADDR,
        };
        if let Some(text) = flag("port").or_else(|| env("VOXSCOPE_PORT")).or_else(|| env("PORT")) {
            addr.set_port(
                text.parse().with_context(|| format!("port: {text:?} is not a port number"))?,
            );
        }
        let metrics_token = flag("metrics-token").or_else(|| env("VOXSCOPE_METRICS_TOKEN"));
        let admin_addr = match flag("admin-bind").or_else(|| env("VOXSCOPE_ADMIN_BIND")) {
            Some(text) => Some(parse_admin_bind(&text, addr)?),
            None => None,
        };
        let faults = flag("faults").or_else(|| env("VOXSCOPE_DEMO_FAULTS"));
        let provider_keys = KEY_VARS.iter().filter_map(|var| Some((*var, env(var)?))).collect();
        let alert_config =
            flag("alert-config").or_else(|| env("VOXSCOPE_ALERT_CONFIG")).map(PathBuf::from);
        let notify = match flag("notify").or_else(|| env("VOXSCOPE_NOTIFY")).as_deref() {
            None | Some("log") => Notify::Log,
            Some("receivers") => Notify::Receivers,
            Some(other) => return Err(anyhow!("notify: {other:?} is neither log nor receivers")),
        };
        let callers = match flag("callers").or_else(|| env("VOXSCOPE_DEMO_CALLERS")) {
            None => DEFAULT_CALLERS,
            Some(text) => text.parse().ok().filter(|n| *n <= MAX_CALLERS).with_context(|| {
                format!("callers: {text:?} is not a number from 0 to {MAX_CALLERS}")
            })?,
        };
        let timeline = match flag("timeline").or_else(|| env("VOXSCOPE_DEMO_TIMELINE")).as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(anyhow!("timeline: {other:?} is neither on nor off")),
        };
        let speed = match flag("speed").or_else(|| env("VOXSCOPE_DEMO_SPEED")) {
            None => 1,
            Some(text) => {
                text.parse().ok().filter(|n| (1..=MAX_SPEED).contains(n)).with_context(|| {
                    format!("speed: {text:?} is not a number from 1 to {MAX_SPEED}")
                })?
            }
        };
        let instrumentation =
            match flag("instrumentation").or_else(|| env("VOXSCOPE_INSTRUMENTATION")) {
                None => Instrumentation::On,
                Some(text) => Instrumentation::parse(&text)?,
            };
        let max_calls = match flag("max-calls").or_else(|| env("VOXSCOPE_MAX_CALLS")) {
            None => crate::media::MAX_CALLS,
            Some(text) => {
                text.parse().ok().filter(|n| (1..=MAX_MAX_CALLS).contains(n)).with_context(
                    || format!("max-calls: {text:?} is not a number from 1 to {MAX_MAX_CALLS}"),
                )?
            }
        };
        Ok(Self {
            addr,
            metrics_token,
            admin_addr,
            faults,
            provider_keys,
            alert_config,
            notify,
            callers,
            timeline,
            speed,
            instrumentation,
            max_calls,
        })
    }
}

fn parse_bind(text: &str) -> anyhow::Result<SocketAddr> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, DEFAULT_ADDR.port())))
        .map_err(|_| anyhow!("bind: {text:?} is neither IP:PORT nor an IP address"))
}

/// The admin listener's address: a full `IP:PORT`, other than the main listener's.
fn parse_admin_bind(text: &str, main: SocketAddr) -> anyhow::Result<SocketAddr> {
    let addr =
        text.parse::<SocketAddr>().map_err(|_| anyhow!("admin-bind: {text:?} is not IP:PORT"))?;
    if addr == main && addr.port() != 0 {
        return Err(anyhow!("admin-bind: {text:?} is the main listener's address too"));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        std::iter::once("voice_agent").chain(list.iter().copied()).map(str::to_owned).collect()
    }

    #[test]
    fn flags_beat_environment_and_default_is_loopback_3000() {
        let none = |_: &str| None;
        assert_eq!(Config::parse(args(&[]), none).unwrap().addr, DEFAULT_ADDR);
        let env = |k: &str| (k == "PORT").then(|| "4000".to_owned());
        assert_eq!(Config::parse(args(&[]), env).unwrap().addr.to_string(), "127.0.0.1:4000");
        assert_eq!(Config::parse(args(&["--port", "5000"]), env).unwrap().addr.port(), 5000);
        assert_eq!(Config::parse(args(&["--port=0"]), none).unwrap().addr.port(), 0);
    }

    #[test]
    fn bind_from_flag_or_environment_and_port_replaces_its_port() {
        let bind = |k: &str| (k == "VOXSCOPE_BIND").then(|| "0.0.0.0:9000".to_owned());
        assert_eq!(Config::parse(args(&[]), bind).unwrap().addr.to_string(), "0.0.0.0:9000");
        let flag = Config::parse(args(&["--bind", "::1"]), bind).unwrap();
        assert_eq!(flag.addr.to_string(), "[::1]:3000");
        let both = Config::parse(args(&["--port", "7000"]), bind).unwrap();
        assert_eq!(both.addr.to_string(), "0.0.0.0:7000");
    }

    #[test]
    fn empty_values_count_as_unset_and_keys_come_from_the_environment() {
        let env = |k: &str| match k {
            "VOXSCOPE_METRICS_TOKEN" => Some(String::new()),
            "VOXSCOPE_DEMO_LLM_KEY" => Some("sk-live-123456".to_owned()),
            _ => None,
        };
        let config = Config::parse(args(&[]), env).unwrap();
        assert_eq!(config.metrics_token, None);
        assert_eq!(
            config.provider_keys.into_iter().collect::<Vec<_>>(),
            [("VOXSCOPE_DEMO_LLM_KEY", "sk-live-123456".to_owned())]
        );
    }

    #[test]
    fn the_story_is_on_by_default_and_flags_or_environment_change_it() {
        let none = |_: &str| None;
        let config = Config::parse(args(&[]), none).unwrap();
        assert_eq!((config.callers, config.timeline, config.speed), (DEFAULT_CALLERS, true, 1));
        let env = |k: &str| match k {
            "VOXSCOPE_DEMO_CALLERS" => Some("0".to_owned()),
            "VOXSCOPE_DEMO_TIMELINE" => Some("off".to_owned()),
            "VOXSCOPE_DEMO_SPEED" => Some("10".to_owned()),
            _ => None,
        };
        let config = Config::parse(args(&[]), env).unwrap();
        assert_eq!((config.callers, config.timeline, config.speed), (0, false, 10));
        let flags = ["--callers", "3", "--timeline=on", "--speed", "60"];
        let config = Config::parse(args(&flags), env).unwrap();
        assert_eq!((config.callers, config.timeline, config.speed), (3, true, 60));
    }

    #[test]
    fn the_admin_listener_is_off_by_default_and_set_by_flag_or_environment() {
        let none = |_: &str| None;
        assert_eq!(Config::parse(args(&[]), none).unwrap().admin_addr, None);
        let env = |k: &str| (k == "VOXSCOPE_ADMIN_BIND").then(|| "127.0.0.1:9464".to_owned());
        let config = Config::parse(args(&[]), env).unwrap();
        assert_eq!(config.admin_addr, Some("127.0.0.1:9464".parse().unwrap()));
        let config = Config::parse(args(&["--admin-bind", "[::1]:9000"]), env).unwrap();
        assert_eq!(config.admin_addr, Some("[::1]:9000".parse().unwrap()));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let none = |_: &str| None;
        let err = Config::parse(args(&["--port", "http"]), none).unwrap_err();
        assert_eq!(err.to_string(), "port: \"http\" is not a port number");
        let err = Config::parse(args(&["--bind", "localhost:80"]), none).unwrap_err();
        assert_eq!(err.to_string(), "bind: \"localhost:80\" is neither IP:PORT nor an IP address");
        let err = Config::parse(args(&["--notify", "slack"]), none).unwrap_err();
        assert_eq!(err.to_string(), "notify: \"slack\" is neither log nor receivers");
        let receivers = Config::parse(args(&["--notify=receivers"]), none).unwrap();
        assert_eq!(receivers.notify, Notify::Receivers);
        let err = Config::parse(args(&["--callers", "many"]), none).unwrap_err();
        assert_eq!(err.to_string(), "callers: \"many\" is not a number from 0 to 200");
        let err = Config::parse(args(&["--speed", "0"]), none).unwrap_err();
        assert_eq!(err.to_string(), "speed: \"0\" is not a number from 1 to 60");
        let err = Config::parse(args(&["--timeline", "maybe"]), none).unwrap_err();
        assert_eq!(err.to_string(), "timeline: \"maybe\" is neither on nor off");
        let err = Config::parse(args(&["--instrumentation", "none"]), none).unwrap_err();
        assert_eq!(
            err.to_string(),
            "instrumentation: \"none\" is not on, metrics, off or alternative"
        );
        let metrics = Config::parse(args(&["--instrumentation", "metrics"]), none).unwrap();
        assert_eq!(metrics.instrumentation, Instrumentation::Metrics);
        let alternative = Config::parse(args(&["--instrumentation", "alternative"]), none).unwrap();
        assert_eq!(alternative.instrumentation, Instrumentation::Alternative);
        let env = |k: &str| (k == "VOXSCOPE_INSTRUMENTATION").then(|| "off".to_owned());
        assert_eq!(Config::parse(args(&[]), env).unwrap().instrumentation, Instrumentation::Off);
        let flag = Config::parse(args(&["--instrumentation=on"]), env).unwrap();
        assert_eq!(flag.instrumentation, Instrumentation::On);
        assert_eq!(Config::parse(args(&[]), none).unwrap().instrumentation, Instrumentation::On);
        let err = Config::parse(args(&["--admin-bind", "127.0.0.1"]), none).unwrap_err();
        assert_eq!(err.to_string(), "admin-bind: \"127.0.0.1\" is not IP:PORT");
        let err = Config::parse(args(&["--admin-bind", "127.0.0.1:3000"]), none).unwrap_err();
        assert_eq!(
            err.to_string(),
            "admin-bind: \"127.0.0.1:3000\" is the main listener's address too"
        );
        let err = Config::parse(args(&["--max-calls", "0"]), none).unwrap_err();
        assert_eq!(err.to_string(), "max-calls: \"0\" is not a number from 1 to 20000");
        let env = |k: &str| (k == "VOXSCOPE_MAX_CALLS").then(|| "1200".to_owned());
        assert_eq!(Config::parse(args(&[]), env).unwrap().max_calls, 1200);
        assert_eq!(Config::parse(args(&[]), none).unwrap().max_calls, crate::media::MAX_CALLS);
        let err = Config::parse(args(&["--bogus"]), none).unwrap_err();
        assert!(err.to_string().contains("--bogus"), "{err}");
    }
}
