//! The demo's settings parsers on any input: `Config::parse` (flags and environment) and
//! `Faults::parse` (`--faults`) return settings or an error that names what is wrong,
//! never a panic; a fault spec written from faults reads back to the same faults.

use std::time::Duration;

use proptest::prelude::*;
use voice_agent::config::{Config, MAX_CALLERS, MAX_SPEED};
use voice_agent::faults::{Fault, Faults};
use voxscope::provider::ErrorClass;

const NAMES: [&str; 6] = ["deepgram", "google", "groq", "openai", "elevenlabs", "azure"];

/// A fault and the spec text that says it.
fn fault() -> impl Strategy<Value = (Fault, String)> {
    let millis = (0..10_000_000u64).prop_map(|ms| (Duration::from_millis(ms), format!("{ms}ms")));
    let seconds = (0.0..=86_400.0f64).prop_map(|s| (Duration::from_secs_f64(s), format!("{s}s")));
    let duration = prop_oneof![millis, seconds];
    prop_oneof![
        duration.clone().prop_map(|(d, t)| (Fault::Latency(d), format!("latency:{t}"))),
        duration.clone().prop_map(|(d, t)| (Fault::Stall(d), format!("stall:{t}"))),
        duration.prop_map(|(d, t)| (Fault::Drop(d), format!("drop:{t}"))),
        Just((Fault::Outage, "outage".to_owned())),
        (prop::sample::select(ErrorClass::ALL.to_vec()), 0.0..=1.0f64).prop_map(|(c, share)| {
            (Fault::Error(c, share), format!("error:{}@{share}", c.as_str()))
        }),
    ]
}

/// Text near a fault spec: its words, separators and numbers of any sign and size.
fn spec_like() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "stt.primary",
        "llm.fallback",
        "deepgram",
        "whisper",
        "=",
        ",",
        "+",
        ":",
        "@",
        "latency",
        "stall",
        "drop",
        "error",
        "outage",
        "rate_limited",
        "ms",
        "s",
        "-",
        "e",
        ".",
        "NaN",
        "inf",
        " ",
    ]);
    let number = prop_oneof![
        any::<f64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("1e300".to_owned()),
    ];
    let piece = prop_oneof![word.prop_map(str::to_owned), number.clone()];
    let words = prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat());
    // One fault with a number of any sign and size where its duration or share goes.
    let fault = prop::sample::select(vec!["latency:", "stall:", "drop:", "error:timeout@"]);
    let unit = prop::sample::select(vec!["s", "ms", ""]);
    let shaped = (prop::sample::select(NAMES.to_vec()), fault, number, unit)
        .prop_map(|(name, fault, n, unit)| format!("{name}={fault}{n}{unit}"));
    prop_oneof![words, shaped]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn a_spec_written_from_faults_reads_back_to_them(
        entries in prop::collection::vec((prop::sample::select(NAMES.to_vec()), fault()), 0..6),
    ) {
        let spec: Vec<String> =
            entries.iter().map(|(name, (_, text))| format!("{name}={text}")).collect();
        let faults = Faults::parse(&spec.join(",")).expect("a spec of valid faults");
        for name in NAMES {
            let written: Vec<Fault> =
                entries.iter().filter(|(n, _)| *n == name).map(|(_, (f, _))| *f).collect();
            prop_assert_eq!(faults.of(name), written);
        }
    }

    #[test]
    fn any_spec_is_faults_or_an_error_naming_it(spec in prop_oneof![spec_like(), "\\PC{0,40}"]) {
        if let Err(err) = Faults::parse(&spec) {
            prop_assert!(err.to_string().starts_with("faults: "), "{}", err);
        }
    }

    #[test]
    fn numbers_are_taken_in_range_and_refused_by_name_outside(
        callers in prop_oneof![0..=MAX_CALLERS + 5, any::<usize>()],
        speed in prop_oneof![0..=MAX_SPEED + 5, any::<u32>()],
        port in prop_oneof![any::<u16>().prop_map(u64::from), any::<u64>()],
        from_env in any::<bool>(),
    ) {
        let (callers, speed, port) = (callers.to_string(), speed.to_string(), port.to_string());
        let env_values = [
            ("VOXSCOPE_DEMO_CALLERS", callers.clone()),
            ("VOXSCOPE_DEMO_SPEED", speed.clone()),
            ("PORT", port.clone()),
        ];
        let parsed = if from_env {
            let env = |key: &str| env_values.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
            Config::parse(["voice_agent"], env)
        } else {
            let flags = ["voice_agent", "--callers", &callers, "--speed", &speed, "--port", &port];
            Config::parse(flags, |_| None)
        };
        let callers_ok = callers.parse::<usize>().is_ok_and(|n| n <= MAX_CALLERS);
        let speed_ok = speed.parse::<u32>().is_ok_and(|n| (1..=MAX_SPEED).contains(&n));
        let port_ok = port.parse::<u16>().is_ok();
        match parsed {
            Ok(config) => {
                prop_assert!(callers_ok && speed_ok && port_ok);
                prop_assert_eq!(config.callers.to_string(), callers);
                prop_assert_eq!(config.speed.to_string(), speed);
                prop_assert_eq!(config.addr.port().to_string(), port);
            }
            Err(err) => {
                let err = err.to_string();
                let first = if !port_ok {
                    "port: "
                } else if !callers_ok {
                    "callers: "
                } else {
                    prop_assert!(!speed_ok, "{}", err);
                    "speed: "
                };
                prop_assert!(err.starts_with(first), "{}", err);
            }
        }
    }

    #[test]
    fn any_command_line_is_settings_or_an_error(
        args in prop::collection::vec(prop_oneof![
            prop::sample::select(vec![
                "--bind", "--port", "--callers", "--speed", "--timeline", "--notify", "--faults",
                "--metrics-token", "--alert-config", "on", "off", "log", "0", "::1", "=", "-",
            ]).prop_map(str::to_owned),
            "\\PC{0,12}",
        ], 0..8),
    ) {
        let argv = std::iter::once("voice_agent".to_owned()).chain(args);
        if let Ok(config) = Config::parse(argv, |_| None) {
            prop_assert!(config.callers <= MAX_CALLERS);
            prop_assert!((1..=MAX_SPEED).contains(&config.speed));
        }
    }
}
