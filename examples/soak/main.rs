//! A bounded soak of the voxscope demo, and its memory per call.
//!
//! `soak run` starts the built `voice_agent` binary on loopback (no built-in callers, no
//! timeline, provider faults on) and keeps `--calls` simulated Twilio callers on its
//! `/media` for `--duration` (real WebSocket clients: canonical audio, hang-ups, resets,
//! garbage), each using the HTTP API between its calls. It samples the demo's resident
//! memory and open descriptors from `/proc`, and at the end checks `/metrics` against
//! what it did: live gauges back to 0, call and HTTP counts exact, descriptors back near
//! where they started, memory flat after the warm-up. It exits 1 when a check fails.
//!
//! ```text
//! cargo build --release -p voxscope-examples --bin voice_agent --bin soak
//! target/release/soak run --calls 1000 --duration 10m
//! target/release/soak memory --calls 10000
//! ```
//!
//! `soak memory` measures what voxscope's call tracking costs per call: the same
//! WebSocket server with and without its `CallLayer`, each holding `--calls` idle calls.

mod accounting;
mod child;
mod drive;
mod exposition;
mod memory;
mod procfs;
mod samples;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Arg, ArgMatches, Command};

/// The faults `soak run` injects unless told otherwise: a share of every provider kind's
/// primary fails, so the fallback chains and breakers work through the run.
const DEFAULT_FAULTS: &str = "stt.primary=error:unavailable@0.1,llm.primary=error:rate_limited@0.2,tts.primary=error:timeout@0.1";

fn command() -> Command {
    let arg = |name: &'static str, value: &'static str, help: &'static str| {
        Arg::new(name).long(name).value_name(value).help(help)
    };
    Command::new("soak")
        .about("A bounded soak of the voxscope demo, and its memory per call (loopback only)")
        .subcommand_required(true)
        .subcommand(
            Command::new("run")
                .about("Drives the voice_agent binary with concurrent calls and checks its accounting")
                .arg(arg("calls", "N", "Concurrent simulated callers, 1 to 5000 [default: 1000]"))
                .arg(arg("duration", "TIME", "How long calls keep starting, e.g. 60s or 10m, at most 2h [default: 10m]"))
                .arg(arg("warmup", "TIME", "Memory readings before this are left out of the slope [default: a fifth of the duration]"))
                .arg(arg("sample", "TIME", "Between readings of the demo's memory and descriptors [default: 5s]"))
                .arg(arg("faults", "SPEC", "Provider faults, as voice_agent --faults takes them [default: a tenth to a fifth of each primary fails]"))
                .arg(arg("max-slope", "MIB_PER_MIN", "Largest resident-memory slope after the warm-up that passes [default: 1]"))
                .arg(arg("fd-slack", "N", "Descriptors the demo may hold at the end beyond those at the start [default: 16]"))
                .arg(arg("seed", "N", "Seed of the callers' plans and identities [default: 7]"))
                .arg(arg("demo", "PATH", "The voice_agent binary [default: next to this one]"))
                .arg(arg("json", "PATH", "Also writes the report as JSON here")),
        )
        .subcommand(
            Command::new("memory")
                .about("Memory per idle call of voxscope's call tracking: tracked minus untracked, over N")
                .arg(arg("calls", "N", "Idle calls held open, 100 to 15000 [default: 10000]"))
                .arg(arg("max-bytes", "N", "Largest memory per call that passes [default: 4096]"))
                .arg(arg("json", "PATH", "Also writes the figures as JSON here")),
        )
        .subcommand(
            Command::new("idle-server")
                .hide(true)
                .arg(arg("tracking", "on|off", "With voxscope's call layer or without"))
                .arg(arg("max-calls", "N", "The call layer's capacity")),
        )
}

fn number<T: std::str::FromStr>(m: &ArgMatches, name: &str, default: T) -> anyhow::Result<T> {
    match m.get_one::<String>(name) {
        None => Ok(default),
        Some(text) => text.parse().ok().with_context(|| format!("--{name} {text:?}: not a number")),
    }
}

fn duration(m: &ArgMatches, name: &str, default: Duration) -> anyhow::Result<Duration> {
    match m.get_one::<String>(name) {
        None => Ok(default),
        Some(text) => humantime::parse_duration(text).with_context(|| format!("--{name} {text:?}")),
    }
}

/// `soak run`'s settings.
#[derive(Debug)]
struct RunArgs {
    load: drive::Load,
    warmup: Duration,
    sample: Duration,
    faults: String,
    max_slope: f64,
    fd_slack: usize,
    demo: PathBuf,
    json: Option<PathBuf>,
}

impl RunArgs {
    fn from_matches(m: &ArgMatches) -> anyhow::Result<Self> {
        let calls = number(m, "calls", 1000)?;
        let length = duration(m, "duration", Duration::from_secs(600))?;
        if !(1..=5000).contains(&calls) {
            bail!("--calls {calls}: between 1 and 5000");
        }
        if length < Duration::from_secs(10) || length > Duration::from_secs(7200) {
            bail!("--duration: between 10s and 2h");
        }
        let warmup = duration(m, "warmup", length / 5)?;
        if warmup >= length {
            bail!("--warmup must be shorter than --duration");
        }
        let sample = duration(m, "sample", Duration::from_secs(5))?;
        if sample < Duration::from_millis(100) || sample * 3 > length - warmup {
            bail!("--sample: at least 100ms, and three readings after the warm-up");
        }
        let demo = match m.get_one::<String>("demo") {
            Some(path) => PathBuf::from(path),
            None => std::env::current_exe()?.with_file_name("voice_agent"),
        };
        Ok(Self {
            load: drive::Load {
                calls,
                duration: length,
                ramp: (length / 6).min(Duration::from_secs(20)),
                seed: number(m, "seed", 7)?,
            },
            warmup,
            sample,
            faults: m
                .get_one::<String>("faults")
                .cloned()
                .unwrap_or_else(|| DEFAULT_FAULTS.to_owned()),
            max_slope: number(m, "max-slope", 1.0)?,
            fd_slack: number(m, "fd-slack", 16)?,
            demo,
            json: m.get_one::<String>("json").map(PathBuf::from),
        })
    }
}

#[tokio::main]
async fn main() {
    let matches = command().try_get_matches().unwrap_or_else(|error| error.exit());
    let result = match matches.subcommand() {
        Some(("run", m)) => match RunArgs::from_matches(m) {
            Ok(args) => soak(args).await,
            Err(error) => Err(error),
        },
        Some(("memory", m)) => memory::measure(m).await,
        Some(("idle-server", m)) => memory::serve(m).await,
        _ => unreachable!("clap requires a subcommand"),
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            eprintln!("soak: {error:#}");
            std::process::exit(2);
        }
    }
}

/// Runs the soak; `Ok(false)` when a check failed.
async fn soak(args: RunArgs) -> anyhow::Result<bool> {
    let max_calls = (args.load.calls + 64).to_string();
    let demo_args = [
        "--bind",
        "127.0.0.1:0",
        "--callers",
        "0",
        "--timeline",
        "off",
        "--faults",
        &args.faults,
        "--max-calls",
        &max_calls,
    ];
    let demo =
        child::Server::start(&args.demo, &demo_args, &[("RUST_LOG", "warn,voice_agent=info")])?;
    let pid = demo.pid();
    println!(
        "soak: {} concurrent calls for {} against voice_agent (pid {pid}) at {}, faults {}",
        args.load.calls,
        humantime::format_duration(args.load.duration),
        demo.addr,
        args.faults
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fds_start = procfs::open_fds(pid)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(samples::sample(pid, args.sample, stopped));
    let tally = drive::run(demo.addr, &args.load, Duration::from_secs(90)).await;
    let metrics = settled_metrics(demo.addr).await?;
    let _ = stop.send(true);
    let readings = sampler.await?;
    let fds_end = procfs::open_fds(pid)?;

    let mut checks = accounting::checks(&metrics, &tally);
    let steady = args.warmup.as_secs_f64()..=args.load.duration.as_secs_f64();
    let slope = samples::rss_slope_mib_per_min(&readings, steady);
    checks.push(accounting::Check::at_most(
        format!(
            "RSS slope from {} to the end of the load, MiB/min",
            humantime::format_duration(args.warmup)
        ),
        args.max_slope,
        slope.unwrap_or(f64::NAN),
    ));
    checks.push(accounting::Check::at_most(
        format!("open descriptors at the end (start {fds_start})"),
        (fds_start + args.fd_slack) as f64,
        fds_end as f64,
    ));
    let panics = demo.panics.load(std::sync::atomic::Ordering::Relaxed);
    checks.push(accounting::Check::at_most("panics in the demo's log", 0.0, panics as f64));

    print_report(&tally, &readings, &checks, &metrics);
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "calls": args.load.calls,
            "duration_s": args.load.duration.as_secs_f64(),
            "faults": args.faults,
            "caller_view": tally.calls,
            "calls_served": tally.calls_served(),
            "http_requests": tally.http.values().sum::<u64>(),
            "turns_answered": tally.turns_answered,
            "turns_unanswered": tally.turns_unanswered,
            "frames_sent": tally.frames_sent,
            "frames_in_metric": metrics.sum("voice_call_frames_total", &[("direction", "in")]),
            "rss_slope_mib_per_min": slope,
            "fds_start": fds_start,
            "fds_end": fds_end,
            "readings": readings,
            "checks": checks,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(checks.iter().all(|c| c.pass))
}

/// `/metrics` once no call, HTTP request or provider request is in flight (up to 30 s:
/// a call's end is recorded when the service has seen its socket close).
async fn settled_metrics(addr: std::net::SocketAddr) -> anyhow::Result<exposition::Exposition> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = reqwest::get(format!("http://{addr}/metrics")).await?.text().await?;
        let metrics = exposition::Exposition::parse(&text)?;
        let busy =
            ["voice_calls_active", "http_server_active_requests", "voice_provider_in_flight"]
                .iter()
                .map(|name| metrics.sum(name, &[]))
                .sum::<f64>();
        if busy == 0.0 || std::time::Instant::now() > deadline {
            return Ok(metrics);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn print_report(
    tally: &drive::Tally,
    readings: &[samples::Reading],
    checks: &[accounting::Check],
    metrics: &exposition::Exposition,
) {
    println!("\ncalls (caller's view)");
    for (end, n) in &tally.calls {
        println!("  {end:<28} {n:>9}");
    }
    println!("  {:<28} {:>9}", "turns answered", tally.turns_answered);
    println!("  {:<28} {:>9}", "turns unanswered", tally.turns_unanswered);
    println!("  {:<28} {:>9}", "media frames sent", tally.frames_sent);
    println!(
        "  {:<28} {:>9}",
        "media frames in (metric)",
        metrics.sum("voice_call_frames_total", &[("direction", "in")])
    );
    println!("  {:<28} {:>9}", "HTTP requests", tally.http.values().sum::<u64>());
    println!("\n{:>8} {:>10} {:>8}", "t (s)", "RSS (MiB)", "fds");
    let step = (readings.len() / 20).max(1);
    for r in readings.iter().step_by(step).chain(readings.last()) {
        println!("{:>8.0} {:>10.1} {:>8}", r.at_s, r.rss_mib, r.fds);
    }
    println!("\n{:<4} {:<60} {:>14} {:>14}", "", "check", "expected", "found");
    for c in checks {
        let mark = if c.pass { "ok" } else { "FAIL" };
        println!("{mark:<4} {:<60} {:>14} {:>14}", c.name, c.expected, c.found);
    }
}
