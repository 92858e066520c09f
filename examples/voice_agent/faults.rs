//! Faults injected into the simulated providers, parsed from `--faults SPEC` or
//! `VOXSCOPE_DEMO_FAULTS`, and [`LiveFaults`], the set in force, which the incident
//! timeline swaps while the providers run.
//!
//! A spec is a comma-separated list of `PROVIDER=FAULT[+FAULT]`, where PROVIDER is
//! `stt.primary`, `stt.fallback`, `llm.primary`, … or a provider name (`deepgram`,
//! `google`, `groq`, `openai`, `elevenlabs`, `azure`), and FAULT is one of
//! `latency:300ms` (slower answers), `stall:5s` (no first byte for that long),
//! `error:CLASS` or `error:CLASS@0.3` (fail with an error class, always or at that
//! share), `outage` (connection refused), `drop:1s` (the connection drops mid-answer:
//! the live STT's once it heard that much speech, the others' after their first item).
//! For example:
//!
//! ```text
//! VOXSCOPE_DEMO_FAULTS="stt.primary=outage,llm.primary=error:rate_limited@0.5,tts.primary=stall:3s"
//! ```

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use voxscope::provider::ErrorClass;

use crate::providers::PROVIDERS;

/// One injected fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Every answer and item takes this much longer.
    Latency(Duration),
    /// Nothing arrives for this long before the answer starts.
    Stall(Duration),
    /// Fails with this class for this share of requests.
    Error(ErrorClass, f64),
    /// Connections are refused.
    Outage,
    /// The connection drops mid-answer: the live STT's once it heard this much speech,
    /// other providers' after their first item.
    Drop(Duration),
}

/// Faults per provider name, parsed from a spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults(Vec<(&'static str, Fault)>);

impl Faults {
    /// Parses `PROVIDER=FAULT[+FAULT],…`; an empty spec injects nothing.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let mut faults = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (who, what) =
                entry.split_once('=').with_context(|| format!("faults: {entry:?} needs '='"))?;
            let provider = provider_name(who.trim())
                .with_context(|| format!("faults: unknown provider {who:?}"))?;
            for fault in what.split('+') {
                faults.push((provider, parse_fault(fault.trim())?));
            }
        }
        Ok(Self(faults))
    }

    /// The faults of `provider`, in spec order.
    pub fn of(&self, provider: &str) -> Vec<Fault> {
        self.0.iter().filter(|(p, _)| *p == provider).map(|(_, f)| *f).collect()
    }

    /// These faults and then `more`'s: a provider gets the faults of both.
    pub fn and(&self, more: &Faults) -> Faults {
        Self(self.0.iter().chain(&more.0).copied().collect())
    }

    /// Whether nothing is injected.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `faults` for `provider` (a name or a role such as `tts.primary`).
    ///
    /// # Errors
    /// An unknown provider.
    pub fn for_provider(provider: &str, faults: &[Fault]) -> anyhow::Result<Self> {
        let name = provider_name(provider)
            .with_context(|| format!("faults: unknown provider {provider:?}"))?;
        Ok(Self(faults.iter().map(|fault| (name, *fault)).collect()))
    }
}

fn provider_name(who: &str) -> Option<&'static str> {
    PROVIDERS.iter().find_map(|(kind, names)| {
        let role = who.strip_prefix(kind.as_str()).and_then(|r| r.strip_prefix('.'));
        match role {
            Some("primary") => Some(names[0]),
            Some("fallback") => Some(names[1]),
            _ => names.iter().find(|n| **n == who).copied(),
        }
    })
}

fn parse_fault(text: &str) -> anyhow::Result<Fault> {
    let (name, arg) = text.split_once(':').unwrap_or((text, ""));
    Ok(match name {
        "latency" => Fault::Latency(parse_duration(arg)?),
        "stall" => Fault::Stall(parse_duration(arg)?),
        "outage" => Fault::Outage,
        "drop" => Fault::Drop(parse_duration(arg)?),
        "error" => {
            let (class, share) = arg.split_once('@').unwrap_or((arg, "1"));
            let class = ErrorClass::ALL
                .into_iter()
                .find(|c| c.as_str() == class)
                .with_context(|| format!("faults: unknown error class {class:?}"))?;
            let share: f64 = share
                .parse()
                .ok()
                .filter(|s| (0.0..=1.0).contains(s))
                .with_context(|| format!("faults: share {share:?} is not a number in 0..=1"))?;
            Fault::Error(class, share)
        }
        other => bail!("faults: unknown fault {other:?} (latency, stall, error, outage, drop)"),
    })
}

/// The longest fault duration: a day, so that a provider's faults add up without
/// overflowing its answer time.
pub const MAX_FAULT_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let parsed = if let Some(ms) = text.strip_suffix("ms") {
        ms.parse().ok().map(Duration::from_millis)
    } else {
        // Negative, non-finite or overflowing seconds are an error, not a panic.
        let seconds = text.strip_suffix('s').and_then(|s| s.parse().ok());
        seconds.and_then(|s| Duration::try_from_secs_f64(s).ok())
    };
    parsed.filter(|d| *d <= MAX_FAULT_DURATION).with_context(|| {
        format!("faults: {text:?} is not a duration like 300ms or 2s (at most 86400s)")
    })
}

/// The faults in force, shared by every simulated provider and swapped at runtime (the
/// incident timeline does): a request reads the current set with one atomic load and
/// keeps it to its end, and a swap never waits for requests in flight. Cheap to clone.
///
/// ```
/// use voice_agent::faults::{Fault, Faults, LiveFaults};
///
/// let live = LiveFaults::new(Faults::default());
/// live.set(Faults::parse("llm.primary=outage").unwrap());
/// assert_eq!(live.current().of("groq"), [Fault::Outage]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LiveFaults(Arc<ArcSwap<Faults>>);

impl LiveFaults {
    /// Starts with `faults` in force.
    pub fn new(faults: Faults) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(faults)))
    }

    /// The faults in force now.
    pub fn current(&self) -> Arc<Faults> {
        self.0.load_full()
    }

    /// Puts `faults` in force for the requests that start from now on.
    pub fn set(&self, faults: Faults) {
        self.0.store(Arc::new(faults));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_roles_names_and_fault_lists() {
        let faults =
            Faults::parse("stt.primary=outage, openai=latency:300ms+error:rate_limited@0.5")
                .unwrap();
        assert_eq!(faults.of("deepgram"), [Fault::Outage]);
        assert_eq!(
            faults.of("openai"),
            [
                Fault::Latency(Duration::from_millis(300)),
                Fault::Error(ErrorClass::RateLimited, 0.5)
            ]
        );
        assert_eq!(
            Faults::parse("tts.fallback=stall:1.5s").unwrap().of("azure"),
            [Fault::Stall(Duration::from_millis(1500))]
        );
        assert_eq!(Faults::parse("").unwrap(), Faults::default());
        assert_eq!(
            Faults::parse("stt.primary=drop:0.6s").unwrap().of("deepgram"),
            [Fault::Drop(Duration::from_millis(600))]
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |spec| Faults::parse(spec).unwrap_err().to_string();
        assert_eq!(err("whisper=outage"), "faults: unknown provider \"whisper\"");
        assert_eq!(err("llm.primary=error:teapot"), "faults: unknown error class \"teapot\"");
        assert_eq!(err("llm.primary=error:auth@2"), "faults: share \"2\" is not a number in 0..=1");
        assert_eq!(
            err("tts.primary=stall:soon"),
            "faults: \"soon\" is not a duration like 300ms or 2s (at most 86400s)"
        );
        // Negative, non-finite and huge seconds panicked; over a day is refused too.
        for too_long in ["-1s", "1e300s", "NaNs", "infs", "-0.5s", "86400.001s", "86400001ms"] {
            let spec = format!("llm.primary=latency:{too_long}");
            assert_eq!(
                Faults::parse(&spec).unwrap_err().to_string(),
                format!("faults: {too_long:?} is not a duration like 300ms or 2s (at most 86400s)")
            );
        }
        let day = Faults::parse("llm.primary=stall:86400s+stall:86400000ms").unwrap();
        assert_eq!(day.of("groq"), [Fault::Stall(MAX_FAULT_DURATION); 2]);
    }

    #[test]
    fn swapped_faults_reach_every_holder_and_combine_with_the_base() {
        let base = Faults::parse("stt.primary=outage").unwrap();
        let live = LiveFaults::new(base.clone());
        let provider = live.clone();
        let storm =
            Faults::for_provider("llm.primary", &[Fault::Error(ErrorClass::RateLimited, 1.0)]);
        live.set(base.and(&storm.unwrap()));
        assert_eq!(provider.current().of("deepgram"), [Fault::Outage]);
        assert_eq!(provider.current().of("groq"), [Fault::Error(ErrorClass::RateLimited, 1.0)]);
        live.set(base);
        assert!(provider.current().of("groq").is_empty());
        assert!(Faults::for_provider("whisper", &[Fault::Outage]).is_err());
    }
}
