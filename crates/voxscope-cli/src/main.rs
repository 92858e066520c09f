//! `voxscope`: writes Prometheus rules, the Alertmanager config, Grafana dashboards and
//! runbooks from the typed rule catalog, and checks configs.
//!
//! ```text
//! voxscope rules [--config voxscope.toml] [--out DIR]   # stdout without --out
//! voxscope alertmanager | dashboards | runbooks [--config F] [--out DIR]
//! voxscope deploy --out deploy [--config F]             # every file of deploy/
//! voxscope check voxscope.toml
//! ```
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Arg, ArgMatches, Command};
use voxscope_alert::deploy::{self, File};
use voxscope_alert::{Config, RuleCatalog};

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
            Command::new("check")
                .about("Validate a config; prints the first problem and exits 1")
                .arg(Arg::new("file").required(true).value_name("CONFIG")),
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
        Some((command, args)) => generate(command, args),
        None => bail!("no command given; see --help"),
    }
}

fn load(path: Option<&Path>) -> Result<RuleCatalog> {
    let config = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}", path.display()))?;
            Config::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Config::default(),
    };
    Ok(RuleCatalog::new(config)?)
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
