//! Any command line and environment of the demo: `Config::parse` returns settings within
//! their documented ranges or an error, never a panic, and the `--faults` spec it
//! accepts is parsed as `run` parses it, again without a panic.
//!
//! The input is NUL-separated: a piece `$KEY=VALUE` sets an environment variable, any
//! other piece is the next argument (bytes as they are, UTF-8 or not).
#![no_main]

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use libfuzzer_sys::fuzz_target;
use voice_agent::config::{Config, MAX_CALLERS, MAX_SPEED};
use voice_agent::faults::Faults;

fuzz_target!(|data: &[u8]| {
    let mut args = vec![OsString::from("voice_agent")];
    let mut env = HashMap::new();
    for piece in data.split(|&b| b == 0) {
        let entry = piece.strip_prefix(b"$").and_then(|e| std::str::from_utf8(e).ok());
        match entry.and_then(|e| e.split_once('=')) {
            Some((key, value)) => {
                env.insert(key.to_owned(), value.to_owned());
            }
            None => args.push(std::ffi::OsStr::from_bytes(piece).to_owned()),
        }
    }
    let Ok(config) = Config::parse(args, |key| env.get(key).cloned()) else { return };
    assert!(config.callers <= MAX_CALLERS);
    assert!((1..=MAX_SPEED).contains(&config.speed));
    if let Some(spec) = &config.faults {
        let _ = Faults::parse(spec);
    }
});
