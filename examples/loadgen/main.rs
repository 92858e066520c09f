//! Whole-service throughput of the demo with voxscope's layers on and off, in one run.
//!
//! `cargo build --release -p voxscope-examples --bins && target/release/loadgen`
//!
//! Starts the `voice_agent` binary four times, `--instrumentation off`, `metrics`, `on`
//! and `alternative` (its story off), then, round by round and rotating which goes
//! first: `wrk` against the HTTP API of each (routes in [`wrk::ROUTES`]), and the media
//! driver ([`frames`]) against `/media` of the first three (`alternative` has no call
//! layer: its `/media` is off's). Prints a table of the medians over the rounds, each
//! against off, and one of the HTTP figures of `on` beside `alternative`, the same
//! routes under tower-http's `TraceLayer` and axum-prometheus's layer.
//! Before it reports, it checks the accounting: the instrumented demos counted exactly
//! the media frames the driver sent them, each HTTP layer counted the requests wrk
//! completed (plus at most those it left in flight), and the uninstrumented demo
//! recorded no HTTP or call series at all.
//!
//! `--agent-cpus 1` starts each demo under `taskset -c 1`. Run loadgen itself under
//! `taskset -c 0` (wrk inherits it) and the demos get a core of their own, as a server
//! whose clients are elsewhere does: each demo is then bound by its own CPU per request,
//! not by how the scheduler shares two cores between it and wrk.
//! `--sampling-ratio R` gives the demos `OTEL_TRACES_SAMPLER_ARG=R`, the head ratio of
//! the routes the demo does not name (10 % by default).

mod demo;
mod frames;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Arg, Command};

use crate::demo::{Demo, Launch};
use crate::frames::FramesReport;
use crate::wrk::WrkReport;

/// The target: instrumented throughput at least this share of the uninstrumented.
const TARGET_RATIO: f64 = 0.95;
/// off, metrics, on: measured on both paths.
const MODES: usize = 3;
/// The three and `alternative`, measured on the HTTP path.
const HTTP_MODES: usize = MODES + 1;

struct Settings {
    agent: PathBuf,
    seconds: u64,
    rounds: usize,
    threads: usize,
    connections: usize,
    calls: usize,
    batch: usize,
    launch: Launch,
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
        .arg(
            Arg::new("agent-cpus").long("agent-cpus").value_name("LIST").help(
                "Start the demos under `taskset -c LIST` (such as 1 or 2-3) [default: any CPU]",
            ),
        )
        .arg(
            Arg::new("sampling-ratio")
                .long("sampling-ratio")
                .value_name("R")
                .help("The demos' OTEL_TRACES_SAMPLER_ARG, in 0..=1 [default: the demo's, 0.1]"),
        )
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
    let cpus = match matches.get_one::<String>("agent-cpus") {
        Some(list) if is_cpu_list(list) => Some(list.clone()),
        Some(list) => bail!("agent-cpus: {list:?} is not a CPU list such as 1, 0,2 or 2-3"),
        None => None,
    };
    let ratio = match matches.get_one::<String>("sampling-ratio") {
        None => None,
        Some(text) => Some(
            text.parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .with_context(|| format!("sampling-ratio: {text:?} is not a ratio in 0..=1"))?,
        ),
    };
    Ok(Settings {
        agent,
        seconds: number("seconds", 10)? as u64,
        rounds: number("rounds", 3)?,
        threads: number("threads", 2)?,
        connections: number("connections", 64)?,
        calls: number("calls", 32)?,
        batch: number("batch", 50)?,
        launch: Launch { cpus, ratio },
    })
}

/// A CPU list as taskset reads it: numbers and ranges separated by commas.
fn is_cpu_list(list: &str) -> bool {
    list.split(',').all(|part| {
        let mut bounds = part.split('-');
        let number = |n: Option<&str>| {
            n.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        match (bounds.next(), bounds.next(), bounds.next()) {
            (first, None, None) => number(first),
            (first, Some(last), None) => number(first) && number(Some(last)),
            _ => false,
        }
    })
}

fn main() -> anyhow::Result<()> {
    let settings = settings()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let demos = [
        Demo::start(&settings.agent, "off", &settings.launch)?,
        Demo::start(&settings.agent, "metrics", &settings.launch)?,
        Demo::start(&settings.agent, "on", &settings.launch)?,
    ];
    let alternative = Demo::start(&settings.agent, "alternative", &settings.launch)?;
    let http_demos: [&Demo; HTTP_MODES] = [&demos[0], &demos[1], &demos[2], &alternative];
    for demo in http_demos {
        for _ in 0..2 {
            let (status, body) = demo.request("POST", "/calls")?;
            if status != 201 {
                bail!("POST /calls on the demo ({}): {status} {body}", demo.instrumentation);
            }
        }
    }
    if settings.launch.cpus.is_some() {
        for demo in http_demos {
            let cpus = demo.cpus_allowed().unwrap_or_else(|| "unknown".to_owned());
            println!("the demo ({}) runs on CPUs {cpus}", demo.instrumentation);
        }
    }
    let script = wrk::write_script(&std::env::temp_dir())?;
    let duration = Duration::from_secs(settings.seconds);
    let mut http: [Vec<WrkReport>; HTTP_MODES] = Default::default();
    let mut media: [Vec<FramesReport>; MODES] = Default::default();
    let mut frames_sent = [0_u64; MODES];
    for round in 0..settings.rounds {
        let http_order: [usize; HTTP_MODES] = std::array::from_fn(|i| (i + round) % HTTP_MODES);
        for i in http_order {
            let report = wrk::run(
                &http_demos[i].base_url(),
                &script,
                settings.threads,
                settings.connections,
                duration,
            )?;
            eprintln!("round {} wrk {}: {report:?}", round + 1, http_demos[i].instrumentation);
            http[i].push(report);
        }
        let order: [usize; MODES] = std::array::from_fn(|i| (i + round) % MODES);
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
    check_http_accounting(&http_demos, &http, &settings)?;
    check_accounting(&demos, frames_sent)?;
    print_table(&settings, &http, &media);
    print_alternative(&http);
    Ok(())
}

/// The sum of the values of `series` over the wrk routes the demo's HTTP layer counts:
/// not `/health` nor `/metrics`, which it leaves out, nor `/media`'s upgrades.
fn http_counted(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .filter(|line| line.strip_prefix(series).is_some_and(|rest| rest.starts_with('{')))
        .filter(|line| UNCOUNTED.iter().all(|path| !line.contains(&format!("\"{path}\""))))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Paths the demo's HTTP layer does not count (and that are not counted here in
/// alternative's series either).
const UNCOUNTED: [&str; 3] = ["/health", "/metrics", "/media"];

/// Each HTTP layer counted the requests wrk completed on the routes it counts. Each wrk
/// thread cycles through [`wrk::ROUTES`] in turn, so those are that share of them, give
/// or take the requests left in flight at the end of each run (one a connection), one a
/// thread for where its cycle stopped, those wrk gave up on, and the two `POST /calls`
/// of the set-up.
fn check_http_accounting(
    demos: &[&Demo; HTTP_MODES],
    http: &[Vec<WrkReport>; HTTP_MODES],
    settings: &Settings,
) -> anyhow::Result<()> {
    let routes = wrk::ROUTES.len() as f64;
    let counted_routes = wrk::ROUTES.iter().filter(|(_, path)| !UNCOUNTED.contains(path)).count();
    let share = counted_routes as f64 / routes;
    for (i, demo) in demos.iter().enumerate().skip(1) {
        let series = match demo.instrumentation {
            "alternative" => "axum_http_requests_total",
            _ => "http_server_request_duration_seconds_count",
        };
        let completed: u64 = http[i].iter().map(|r| r.requests).sum();
        let expected = completed as f64 * share;
        let slack = http[i]
            .iter()
            .map(|r| (r.socket_errors + (settings.connections + settings.threads) as u64) as f64)
            .sum::<f64>()
            + 2.0;
        let counted = http_counted(&demo.request("GET", "/metrics")?.1, series);
        if (counted - expected).abs() > slack {
            bail!(
                "the demo ({}) counted {counted} requests in {series}; of the {completed} wrk completed, {expected:.0} were on the routes it counts (give or take {slack})",
                demo.instrumentation
            );
        }
        println!(
            "accounting: the demo ({}) counted {counted} requests; wrk completed {completed}, {counted_routes} in {} on the routes counted",
            demo.instrumentation,
            wrk::ROUTES.len()
        );
    }
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

/// One mode's wrk figures, medians over the rounds: requests/s, p50 and p99 in ms.
fn http_medians(reports: &[WrkReport]) -> (f64, f64, f64) {
    let of = |f: fn(&WrkReport) -> f64| median(reports.iter().map(f).collect());
    (
        of(|r| r.requests_per_sec),
        of(|r| r.p50.as_secs_f64() * 1e3),
        of(|r| r.p99.as_secs_f64() * 1e3),
    )
}

fn print_table(
    settings: &Settings,
    http: &[Vec<WrkReport>; HTTP_MODES],
    media: &[Vec<FramesReport>; MODES],
) {
    let http_rate = |i: usize| http_medians(&http[i]).0;
    let http_p50 = |i: usize| http_medians(&http[i]).1;
    let http_p99 = |i: usize| http_medians(&http[i]).2;
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
    let cpus = settings.launch.cpus.as_deref().unwrap_or("any");
    let ratio = settings.launch.ratio.map_or_else(|| "the demo's".to_owned(), |r| r.to_string());
    println!("demos on CPUs {cpus}; head sampling ratio {ratio}\n");
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

/// The HTTP figures of `on` beside those of `alternative`, each against off.
fn print_alternative(http: &[Vec<WrkReport>; HTTP_MODES]) {
    let (off, on, alternative) = (0, 2, HTTP_MODES - 1);
    let rate = |i: usize| http_medians(&http[i]).0;
    let p50 = |i: usize| http_medians(&http[i]).1;
    let p99 = |i: usize| http_medians(&http[i]).2;
    println!(
        "\n| HTTP, the usual stack beside voxscope | off | on | alternative | on vs off | alternative vs off |"
    );
    println!("|---|---|---|---|---|---|");
    let percent = |i: usize| format!("{:.1} %", rate(i) / rate(off) * 100.0);
    println!(
        "| requests/s (wrk) | {:.0} | {:.0} | {:.0} | {} | {} |",
        rate(off),
        rate(on),
        rate(alternative),
        percent(on),
        percent(alternative)
    );
    type Measure<'a> = &'a dyn Fn(usize) -> f64;
    let latencies: [(&str, Measure<'_>); 2] = [("p50", &p50), ("p99", &p99)];
    for (name, f) in latencies {
        let ms = |i: usize| format!("{:.3} ms", f(i));
        let diff = |i: usize| format!("{:+.3} ms", f(i) - f(off));
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            ms(off),
            ms(on),
            ms(alternative),
            diff(on),
            diff(alternative)
        );
    }
    println!(
        "\non is {:.2} x alternative's throughput (alternative: tower-http's TraceLayer at INFO and axum-prometheus's PrometheusMetricLayer, same subscriber and recorder)",
        rate(on) / rate(alternative)
    );
}
