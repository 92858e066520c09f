//! Any provider fault spec and any provider setting: `Faults::parse` (the demo's
//! `--faults`, what its simulated providers inject) returns faults or an error naming
//! the bad part, never a panic, and the startup check of provider settings judges any
//! value without one.
//!
//! The input's first line is the fault spec; the others are `FIELD=VALUE` settings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_agent::faults::{Fault, Faults};
use voxscope_provider::ConfigCheck;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (spec, settings) = text.split_once('\n').unwrap_or((text, ""));
    match Faults::parse(spec) {
        Ok(faults) => {
            for name in ["deepgram", "google", "groq", "openai", "elevenlabs", "azure"] {
                for fault in faults.of(name) {
                    if let Fault::Error(_, share) = fault {
                        assert!((0.0..=1.0).contains(&share), "{spec:?}");
                    }
                }
            }
        }
        Err(err) => assert!(err.to_string().starts_with("faults: "), "{err}"),
    }
    let mut check = ConfigCheck::new().min_len(settings.len() % 40);
    for line in settings.lines() {
        let (field, value) = line.split_once('=').map_or((line, None), |(f, v)| (f, Some(v)));
        check = check.require(field, value);
    }
    let report = check.run();
    assert!(report.missing().len() <= settings.lines().count());
});
