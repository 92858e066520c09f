//! Drives simulated Twilio calls at the voice agent's `/media` with real WebSocket
//! clients ([`voice_agent::simulator`]): synthesized speech, turns answered by the
//! agent, callers who hang up, connections reset under the call, protocol garbage, and
//! optionally a gap in each caller's audio. Bounded in count and time, and loopback
//! only. Prints a summary table.
//!
//! `cargo run --release -p voxscope-examples --bin call_simulator -- --calls 100 --concurrency 20`
//! (start `voice_agent` first; compare with `curl localhost:3000/metrics | grep voice_`).
//!
//! `--gap-ms 3000` holds back three seconds of each caller's first turn, as a network
//! outage would: `voice_call_audio_quality` falls and `LowAudioQuality` can fire.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Arg, ArgMatches, Command};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use voice_agent::simulator::{self, Outcome, Plan, Script};

const MAX_CALLS: usize = 10_000;
const MAX_CONCURRENCY: usize = 500;
const MAX_SECONDS: u64 = 600;
/// The longest media gap `--gap-ms` accepts: under the demo's 10 s idle timeout.
const MAX_GAP_MS: u64 = 8_000;

#[derive(Debug)]
struct Args {
    url: String,
    calls: usize,
    concurrency: usize,
    turns: usize,
    seconds: u64,
    seed: u64,
    gap_ms: u64,
}

fn command() -> Command {
    let arg = |name: &'static str, value: &'static str, help: String| {
        Arg::new(name).long(name).value_name(value).help(help)
    };
    Command::new("call_simulator")
        .about("Simulated Twilio callers for the voxscope demo's /media (loopback only)")
        .arg(arg(
            "url",
            "URL",
            "The agent's media stream [default: ws://127.0.0.1:3000/media]".into(),
        ))
        .arg(arg("calls", "N", format!("Calls to place, 1 to {MAX_CALLS} [default: 50]")))
        .arg(arg(
            "concurrency",
            "N",
            format!("Calls at a time, 1 to {MAX_CONCURRENCY} [default: 20]"),
        ))
        .arg(arg("turns", "N", "Turns each caller speaks [default: 2]".into()))
        .arg(arg(
            "seconds",
            "N",
            format!("Bound on the whole run, 1 to {MAX_SECONDS} [default: 120]"),
        ))
        .arg(arg("seed", "N", "Seed of the callers' plans [default: 7]".into()))
        .arg(arg(
            "gap-ms",
            "MS",
            format!(
                "Audio lost halfway through each first turn, at most {MAX_GAP_MS} [default: 0]"
            ),
        ))
}

impl Args {
    /// The process's flags; `--help` prints the usage and exits 0, a bad flag exits 2.
    fn from_env() -> anyhow::Result<Self> {
        let matches = command().try_get_matches().unwrap_or_else(|error| error.exit());
        Self::from_matches(&matches)
    }

    fn from_matches(matches: &ArgMatches) -> anyhow::Result<Self> {
        fn number<T: std::str::FromStr>(
            m: &ArgMatches,
            name: &str,
            default: T,
        ) -> anyhow::Result<T> {
            match m.get_one::<String>(name) {
                None => Ok(default),
                Some(text) => {
                    text.parse().ok().with_context(|| format!("--{name} {text:?}: not a number"))
                }
            }
        }
        let args = Args {
            url: matches
                .get_one::<String>("url")
                .cloned()
                .unwrap_or_else(|| "ws://127.0.0.1:3000/media".to_owned()),
            calls: number(matches, "calls", 50)?,
            concurrency: number(matches, "concurrency", 20)?,
            turns: number(matches, "turns", 2)?,
            seconds: number(matches, "seconds", 120)?,
            seed: number(matches, "seed", 7)?,
            gap_ms: number(matches, "gap-ms", 0)?,
        };
        if !simulator::is_loopback(&args.url) {
            bail!(
                "--url {}: the simulator talks to loopback only (ws://127.0.0.1:PORT/...)",
                args.url
            );
        }
        if args.calls == 0 || args.calls > MAX_CALLS {
            bail!("--calls {}: between 1 and {MAX_CALLS}", args.calls);
        }
        if args.concurrency == 0 || args.concurrency > MAX_CONCURRENCY {
            bail!("--concurrency {}: between 1 and {MAX_CONCURRENCY}", args.concurrency);
        }
        if args.seconds == 0 || args.seconds > MAX_SECONDS {
            bail!("--seconds {}: between 1 and {MAX_SECONDS}", args.seconds);
        }
        if args.gap_ms > MAX_GAP_MS {
            bail!("--gap-ms {}: at most {MAX_GAP_MS}", args.gap_ms);
        }
        Ok(args)
    }
}

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("call_simulator: {error:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let args = Args::from_env()?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let scripts: Vec<Script> = (0..args.calls)
        .map(|_| Script {
            plan: Plan::random(&mut rng),
            turns: args.turns,
            stop_at: rng.random_range(0..args.turns.max(1)),
            gap_ms: args.gap_ms,
        })
        .collect();
    println!(
        "{} calls, {} at a time, {} turns each, at {} (at most {} s)",
        args.calls, args.concurrency, args.turns, args.url, args.seconds
    );
    let started = Instant::now();
    let url = args.url.as_str();
    let runs =
        futures_util::stream::iter(scripts.into_iter().enumerate().map(|(n, script)| async move {
            simulator::call(url, &format!("CAsim{n}"), script).await
        }))
        .buffer_unordered(args.concurrency)
        .collect::<Vec<_>>();
    let results = match tokio::time::timeout(Duration::from_secs(args.seconds), runs).await {
        Ok(results) => results,
        Err(_) => bail!("the run passed its {} s bound; unfinished calls were cut", args.seconds),
    };
    print_summary(&results, started.elapsed());
    Ok(())
}

fn print_summary(results: &[Outcome], elapsed: Duration) {
    let mut by_end: BTreeMap<&str, usize> = BTreeMap::new();
    let mut latencies: Vec<Duration> = Vec::new();
    let (mut sent, mut received, mut unanswered) = (0, 0, 0);
    for outcome in results {
        *by_end.entry(outcome.ended).or_default() += 1;
        latencies.extend(&outcome.turn_latencies);
        sent += outcome.frames_sent;
        received += outcome.frames_received;
        unanswered += outcome.unanswered;
    }
    latencies.sort();
    let quantile = |q: f64| -> String {
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(index).map_or("-".to_owned(), |d| format!("{} ms", d.as_millis()))
    };
    println!("\n{:<28} {:>8}", "calls (caller's view)", results.len());
    for (ended, count) in &by_end {
        println!("  {ended:<26} {count:>8}");
    }
    println!("{:<28} {:>8}", "turns answered", latencies.len());
    println!("{:<28} {:>8}", "turns unanswered", unanswered);
    println!("{:<28} {:>8}", "turn latency p50", quantile(0.5));
    println!("{:<28} {:>8}", "turn latency p95", quantile(0.95));
    println!("{:<28} {:>8}", "frames sent", sent);
    println!("{:<28} {:>8}", "frames received", received);
    println!("{:<28} {:>8.1}", "elapsed s", elapsed.as_secs_f64());
    println!(
        "\nTurn latency here runs from the caller's last speech frame, so it includes the \
         agent's 400 ms endpointing; voice_turn_latency_seconds starts after it."
    );
}
