//! Whole-service throughput of the demo with voxscope's layers on and off, in one run.
//!
//! `cargo build --release -p voxscope-examples --bins && target/release/loadgen`
//!
//! Starts the `voice_agent` binary three times, `--instrumentation off`, `metrics` and
//! `on` (its story off), then, round by round and rotating which goes first: `wrk`
//! against the HTTP API (routes in [`wrk::ROUTES`]), and the media driver ([`frames`])
//! against `/media`. Prints a table of the medians over the rounds, each against off.
//! Before it reports, it checks the accounting: the instrumented demos counted exactly
//! the media frames the driver sent them, and the uninstrumented one recorded no HTTP or
//! call series at all.

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
/// off, metrics, on.
const MODES: usize = 3;

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
    let demos = [
        Demo::start(&settings.agent, "off")?,
        Demo::start(&settings.agent, "metrics")?,
        Demo::start(&settings.agent, "on")?,
    ];
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
    let mut http: [Vec<WrkReport>; MODES] = Default::default();
    let mut media: [Vec<FramesReport>; MODES] = Default::default();
    let mut frames_sent = [0_u64; MODES];
    for round in 0..settings.rounds {
        let order: [usize; MODES] = std::array::from_fn(|i| (i + round) % MODES);
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

/// The instrumented demos counted every frame sent to them (calls end asynchronously
/// after the driver's close: waits up to 10 s for the last ones); the other recorded
/// nothing.
fn check_accounting(demos: &[Demo; MODES], frames_sent: [u64; MODES]) -> anyhow::Result<()> {
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
    for (demo, sent) in demos.iter().zip(frames_sent).skip(1) {
        let mut counted = 0.0;
        for _ in 0..50 {
            counted = inbound(&demo.request("GET", "/metrics")?.1);
            if counted == sent as f64 {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if counted != sent as f64 {
            bail!("the demo ({}) counted {counted} inbound frames of {sent}", demo.instrumentation);
        }
        println!(
            "accounting: the demo ({}) counted {counted} of {sent} frames",
            demo.instrumentation
        );
    }
    println!("accounting: the uninstrumented demo recorded no HTTP or call series");
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn print_table(
    settings: &Settings,
    http: &[Vec<WrkReport>; MODES],
    media: &[Vec<FramesReport>; MODES],
) {
    let http_rate = |i: usize| median(http[i].iter().map(|r| r.requests_per_sec).collect());
    let http_p50 = |i: usize| median(http[i].iter().map(|r| r.p50.as_secs_f64() * 1e3).collect());
    let http_p99 = |i: usize| median(http[i].iter().map(|r| r.p99.as_secs_f64() * 1e3).collect());
    let media_rate = |i: usize| median(media[i].iter().map(FramesReport::per_sec).collect());
    let media_p50 =
        |i: usize| median(media[i].iter().map(|r| r.round_trip(0.5).as_secs_f64() * 1e3).collect());
    let media_p99 = |i: usize| {
        median(media[i].iter().map(|r| r.round_trip(0.99).as_secs_f64() * 1e3).collect())
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
    println!("| measure | off | metrics | on | metrics vs off | on vs off |");
    println!("|---|---|---|---|---|---|");
    type Measure<'a> = &'a dyn Fn(usize) -> f64;
    let rates: [(&str, Measure<'_>); 2] =
        [("HTTP requests/s (wrk)", &http_rate), ("media frames/s", &media_rate)];
    for (name, f) in rates {
        let ratio = |i: usize| format!("{:.1} %", f(i) / f(0) * 100.0);
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {} | {} |",
            f(0),
            f(1),
            f(2),
            ratio(1),
            ratio(2)
        );
    }
    let latencies: [(&str, Measure<'_>); 4] = [
        ("HTTP p50", &http_p50),
        ("HTTP p99", &http_p99),
        ("media batch round trip p50", &media_p50),
        ("media batch round trip p99", &media_p99),
    ];
    for (name, f) in latencies {
        let diff = |i: usize| format!("{:+.3} ms", f(i) - f(0));
        let ms = |i: usize| format!("{:.3} ms", f(i));
        println!("| {name} | {} | {} | {} | {} | {} |", ms(0), ms(1), ms(2), diff(1), diff(2));
    }
    let verdict =
        |f: Measure<'_>, i: usize| if f(i) / f(0) >= TARGET_RATIO { "met" } else { "missed" };
    println!(
        "\ntarget {:.0} % of off: on: HTTP {}, media {}; metrics: HTTP {}, media {}; wrk socket errors: {errors}",
        TARGET_RATIO * 100.0,
        verdict(&http_rate, 2),
        verdict(&media_rate, 2),
        verdict(&http_rate, 1),
        verdict(&media_rate, 1),
    );
}
