//! `voxscope`: writes Prometheus rules, the Alertmanager config, Grafana dashboards and
//! runbooks from the typed rule catalog, and checks configs.
//!
//! ```text
//! voxscope rules [--config voxscope.toml] [--out DIR]   # stdout without --out
//! voxscope alertmanager | dashboards | runbooks [--config F] [--out DIR]
//! voxscope deploy --out deploy [--config F]             # every file of deploy/
//! voxscope check voxscope.toml
//! voxscope docs --config app.toml [--out docs/app-metrics.md]  # the app's [[metrics]]
//! voxscope report --prometheus URL [--since 7d] [--end T] [--format md|json|html] [--out F]
//! voxscope report --state-dir DIR [--config F] ...        # an engine's saved history
//! ```
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Arg, ArgMatches, Command};
use voxscope_alert::RuleCatalog;
use voxscope_alert::deploy::{self, File};
use voxscope_cli::report::{self, Format, ReportRequest, ReportSource};

fn cli() -> Command {
    let config = Arg::new("config")
        .long("config")
        .value_name("FILE")
        .help("TOML config with thresholds, objectives and receivers (default: built-in)");
    let out = Arg::new("out")
        .long("out")
        .value_name("DIR")
        .help("Directory to write into, as deploy/ is laid out (default: stdout)");
    let generate = |name: &'static str, about: &'static str| {
        Command::new(name).about(about).arg(config.clone()).arg(out.clone())
    };
    Command::new("voxscope")
        .about(
            "Alert rules, SLOs, Alertmanager config, dashboards and runbooks for voxscope services",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(generate(
            "rules",
            "Prometheus recording and alerting rules, with promtool tests",
        ))
        .subcommand(generate("alertmanager", "Alertmanager configuration and templates"))
        .subcommand(generate("dashboards", "Grafana dashboards (JSON)"))
        .subcommand(generate("runbooks", "One Markdown runbook per alert"))
        .subcommand(
            generate("deploy", "Every file of deploy/").mut_arg("out", |arg| arg.required(true)),
        )
        .subcommand(
            Command::new("docs")
                .about("Markdown reference of the config's own metrics ([[metrics]])")
                .arg(config.clone())
                .arg(
                    Arg::new("out")
                        .long("out")
                        .value_name("FILE")
                        .help("File to write the page to (default: stdout)"),
                ),
        )
        .subcommand(
            Command::new("check")
                .about("Validate a config; prints the first problem and exits 1")
                .arg(Arg::new("file").required(true).value_name("CONFIG")),
        )
        .subcommand(
            Command::new("report")
                .about("KPI and SLO report of a period: target, actual and status per row")
                .arg(
                    Arg::new("prometheus")
                        .long("prometheus")
                        .value_name("URL")
                        .help("Prometheus to read from, e.g. http://127.0.0.1:9090"),
                )
                .arg(
                    Arg::new("state-dir")
                        .long("state-dir")
                        .value_name("DIR")
                        .help("An engine's [engine] state_dir: read its saved metric history"),
                )
                .group(
                    clap::ArgGroup::new("source").args(["prometheus", "state-dir"]).required(true),
                )
                .arg(
                    Arg::new("since")
                        .long("since")
                        .value_name("DURATION")
                        .default_value("7d")
                        .help("Length of the period, ending at --end"),
                )
                .arg(
                    Arg::new("end")
                        .long("end")
                        .value_name("TIME")
                        .help("End of the period, RFC 3339 or unix seconds (default: now)"),
                )
                .arg(
                    Arg::new("format")
                        .long("format")
                        .value_name("FORMAT")
                        .value_parser(["md", "json", "html"])
                        .default_value("md")
                        .help("Markdown, JSON or a self-contained HTML page"),
                )
                .arg(config.clone())
                .arg(
                    Arg::new("out")
                        .long("out")
                        .value_name("FILE")
                        .help("File to write the report to (default: stdout)"),
                ),
        )
}

fn main() -> Result<()> {
    let matches = cli().get_matches();
    match matches.subcommand() {
        Some(("check", args)) => {
            let path = args.get_one::<String>("file").map(PathBuf::from).unwrap_or_default();
            let catalog = load(Some(&path))?;
            println!(
                "{}: ok ({} alerts, {} recording rules, {} SLOs)",
                path.display(),
                catalog.alerts.len(),
                catalog.recording.len(),
                catalog.slos.len()
            );
            Ok(())
        }
        Some(("report", args)) => report_command(args),
        Some(("docs", args)) => docs_command(args),
        Some((command, args)) => generate(command, args),
        None => bail!("no command given; see --help"),
    }
}

fn load(path: Option<&Path>) -> Result<RuleCatalog> {
    voxscope_cli::load_catalog(path)
}

fn docs_command(args: &ArgMatches) -> Result<()> {
    let config = args.get_one::<String>("config");
    let catalog = load(config.map(Path::new))?;
    let out = args.get_one::<String>("out");
    let mut regenerate = String::from("voxscope docs");
    for (flag, value) in [("--config", config), ("--out", out)] {
        if let Some(value) = value {
            regenerate = format!("{regenerate} {flag} {value}");
        }
    }
    let page = voxscope_core::docs::app_metrics_page(&catalog.config.metrics, &regenerate);
    write_or_print(out.map(String::as_str), &page)
}

/// `text` into the file at `path`, or to stdout without one.
fn write_or_print(path: Option<&str>, text: &str) -> Result<()> {
    match path {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {path}"))?;
            eprintln!("wrote {path}");
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn report_command(args: &ArgMatches) -> Result<()> {
    let catalog = load(args.get_one::<String>("config").map(Path::new))?;
    let arg = |name: &str| args.get_one::<String>(name).map(String::as_str);
    let request = ReportRequest {
        source: match (arg("prometheus"), arg("state-dir")) {
            (Some(url), _) => ReportSource::Prometheus(url.to_owned()),
            (None, dir) => ReportSource::StateDir(PathBuf::from(dir.unwrap_or_default())),
        },
        since_seconds: report::parse_since(arg("since").unwrap_or("7d"))?,
        end_ms: arg("end").map(report::parse_end).transpose()?,
    };
    let format = arg("format").unwrap_or("md");
    let Some(format) = Format::parse(format) else { bail!("unknown format {format:?}") };
    let text = report::run(&catalog, &request, format)?;
    write_or_print(arg("out"), &text)
}

fn generate(command: &str, args: &ArgMatches) -> Result<()> {
    let catalog = load(args.get_one::<String>("config").map(Path::new))?;
    let prefix = match command {
        "rules" => "prometheus/rules/",
        "alertmanager" => "alertmanager/",
        "dashboards" => "grafana/dashboards/",
        "runbooks" => "runbooks/",
        _ => "",
    };
    let files: Vec<File> =
        deploy::files(&catalog).into_iter().filter(|f| f.path.starts_with(prefix)).collect();
    match args.get_one::<String>("out") {
        Some(dir) => {
            for file in &files {
                let path = Path::new(dir).join(&file.path);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
                std::fs::write(&path, &file.contents)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
        None => {
            for file in &files {
                if files.len() > 1 {
                    println!("# ---- {}", file.path);
                }
                print!("{}", file.contents);
            }
        }
    }
    Ok(())
}
