//! Whole-service throughput of the demo with voxscope's layers on and off, in one run.
//!
//! `cargo build --release -p voxscope-examples --bins && target/release/loadgen`
//!
//! Starts the `voice_agent` binary twice, `--instrumentation on` and `off` (its story
//! off), then, round by round and alternating which goes first: `wrk` against the HTTP
//! API (routes in [`wrk::ROUTES`]), and the media driver ([`frames`]) against `/media`.
//! Prints a table of the medians over the rounds, on against off. Before it reports, it
//! checks the accounting: the instrumented demo counted exactly the media frames the
//! driver sent it, and the uninstrumented one recorded no HTTP or call series at all.

mod demo;
mod frames;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Arg, Command};

use crate::demo::Demo;
use crate::frames::FramesReport;
use crate::wrk::WrkReport;

/// The target: instrumented throughput at least this share of the uninstrumented.
const TARGET_RATIO: f64 = 0.95;

struct Settings {
    agent: PathBuf,
    seconds: u64,
    rounds: usize,
    threads: usize,
    connections: usize,
    calls: usize,
    batch: usize,
}

fn command() -> Command {
    let number = |name: &'static str, help: &'static str| {
        Arg::new(name).long(name).value_name("N").help(help)
    };
    Command::new("loadgen")
        .about("wrk and a media-frame driver against the demo, voxscope's layers on vs off")
        .arg(
            Arg::new("agent")
                .long("agent")
                .value_name("PATH")
                .help("The voice_agent binary [default: voice_agent next to this program]"),
        )
        .arg(number("seconds", "Seconds of each measurement [default: 10]"))
        .arg(number("rounds", "Rounds, each measuring on and off once [default: 3]"))
        .arg(number("threads", "wrk threads [default: 2]"))
        .arg(number("connections", "wrk connections [default: 64]"))
        .arg(number("calls", "Concurrent media-stream calls of the frame driver [default: 32]"))
        .arg(number("batch", "Media frames per ping of each call [default: 50]"))
}

fn settings() -> anyhow::Result<Settings> {
    let matches = command().get_matches();
    let number = |name: &str, default: usize| -> anyhow::Result<usize> {
        match matches.get_one::<String>(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("{name}: {text:?} is not a positive number")),
        }
    };
    let agent = match matches.get_one::<String>("agent") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()?.with_file_name("voice_agent"),
    };
    Ok(Settings {
        agent,
        seconds: number("seconds", 10)? as u64,
        rounds: number("rounds", 3)?,
        threads: number("threads", 2)?,
        connections: number("connections", 64)?,
        calls: number("calls", 32)?,
        batch: number("batch", 50)?,
    })
}

fn main() -> anyhow::Result<()> {
    let settings = settings()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let demos = [Demo::start(&settings.agent, "off")?, Demo::start(&settings.agent, "on")?];
    for demo in &demos {
        for _ in 0..2 {
            let (status, body) = demo.request("POST", "/calls")?;
            if status != 201 {
                bail!("POST /calls on the demo ({}): {status} {body}", demo.instrumentation);
            }
        }
    }
    let script = wrk::write_script(&std::env::temp_dir())?;
    let duration = Duration::from_secs(settings.seconds);
    let mut http: [Vec<WrkReport>; 2] = Default::default();
    let mut media: [Vec<FramesReport>; 2] = Default::default();
    let mut frames_sent = [0_u64; 2];
    for round in 0..settings.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let report = wrk::run(
                &demos[i].base_url(),
                &script,
                settings.threads,
                settings.connections,
                duration,
            )?;
            eprintln!("round {} wrk {}: {report:?}", round + 1, demos[i].instrumentation);
            http[i].push(report);
        }
        for i in order {
            let url = demos[i].media_url();
            let report =
                runtime.block_on(frames::drive(&url, settings.calls, settings.batch, duration))?;
            eprintln!(
                "round {} media {}: {} frames in {:.2?}, {:.0}/s",
                round + 1,
                demos[i].instrumentation,
                report.frames,
                report.elapsed,
                report.per_sec()
            );
            frames_sent[i] += report.frames;
            media[i].push(report);
        }
    }
    let _ = std::fs::remove_file(&script);
    check_accounting(&demos, frames_sent)?;
    print_table(&settings, &http, &media);
    Ok(())
}

/// The instrumented demo counted every frame sent to it (calls end asynchronously after
/// the driver's close: waits up to 10 s for the last ones); the other recorded nothing.
fn check_accounting(demos: &[Demo; 2], frames_sent: [u64; 2]) -> anyhow::Result<()> {
    let inbound = |text: &str| -> f64 {
        text.lines()
            .filter(|line| line.starts_with("voice_call_frames_total{"))
            .filter(|line| line.contains("direction=\"in\""))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let (_, off) = demos[0].request("GET", "/metrics")?;
    let off_series = ["voice_call_frames_total", "voice_calls_total", "http_server_request"];
    if let Some(line) = off.lines().find(|line| off_series.iter().any(|s| line.starts_with(s))) {
        bail!("the uninstrumented demo recorded {line:?}");
    }
    let mut counted = 0.0;
    for _ in 0..50 {
        counted = inbound(&demos[1].request("GET", "/metrics")?.1);
        if counted == frames_sent[1] as f64 {
            println!(
                "accounting: the instrumented demo counted {counted} of {} frames sent; the uninstrumented one recorded no HTTP or call series",
                frames_sent[1]
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "the instrumented demo counted {counted} inbound frames, the driver sent {}",
        frames_sent[1]
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn ms(value: f64) -> String {
    format!("{value:.3} ms")
}

fn print_table(settings: &Settings, http: &[Vec<WrkReport>; 2], media: &[Vec<FramesReport>; 2]) {
    let http_rate = |i: usize| median(http[i].iter().map(|r| r.requests_per_sec).collect());
    let http_p99 = |i: usize| median(http[i].iter().map(|r| r.p99.as_secs_f64() * 1e3).collect());
    let http_p50 = |i: usize| median(http[i].iter().map(|r| r.p50.as_secs_f64() * 1e3).collect());
    let media_rate = |i: usize| median(media[i].iter().map(FramesReport::per_sec).collect());
    let media_q = |i: usize, q: f64| {
        median(media[i].iter().map(|r| r.round_trip(q).as_secs_f64() * 1e3).collect())
    };
    let errors: u64 = http.iter().flatten().map(|r| r.socket_errors).sum();
    println!(
        "\n{} rounds of {} s; wrk -t{} -c{}; {} calls, {} frames per ping (medians over the rounds)\n",
        settings.rounds,
        settings.seconds,
        settings.threads,
        settings.connections,
        settings.calls,
        settings.batch
    );
    println!("| measure | off | on | on vs off |");
    println!("|---|---|---|---|");
    let ratio = |on: f64, off: f64| format!("{:.1} %", on / off * 100.0);
    let diff = |on: f64, off: f64| format!("{:+.3} ms", on - off);
    println!(
        "| HTTP requests/s (wrk) | {:.0} | {:.0} | {} |",
        http_rate(0),
        http_rate(1),
        ratio(http_rate(1), http_rate(0))
    );
    for (name, f) in [("p50", &http_p50 as &dyn Fn(usize) -> f64), ("p99", &http_p99)] {
        println!("| HTTP {name} | {} | {} | {} |", ms(f(0)), ms(f(1)), diff(f(1), f(0)));
    }
    println!(
        "| media frames/s | {:.0} | {:.0} | {} |",
        media_rate(0),
        media_rate(1),
        ratio(media_rate(1), media_rate(0))
    );
    for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
        let (off, on) = (media_q(0, q), media_q(1, q));
        println!(
            "| media batch round trip {name} | {} | {} | {} |",
            ms(off),
            ms(on),
            diff(on, off)
        );
    }
    let verdict = |on: f64, off: f64| if on / off >= TARGET_RATIO { "met" } else { "missed" };
    println!(
        "\ntarget {:.0} %: HTTP {}, media {}; wrk socket errors: {errors}",
        TARGET_RATIO * 100.0,
        verdict(http_rate(1), http_rate(0)),
        verdict(media_rate(1), media_rate(0)),
    );
}
