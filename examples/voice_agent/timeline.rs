//! The scripted incident timeline: the demo's story, told by changing the faults in
//! force ([`LiveFaults`]) while the built-in callers call. At normal speed:
//!
//! | at | what happens | where to see it |
//! |---|---|---|
//! | 0:00 | callers dial in | live calls on the page, `voice_calls_active` |
//! | 0:30 | TTS stall: elevenlabs sends nothing for 3 s, for 30 s | after its 1 s first-byte timeout azure answers: `voice_provider_fallbacks_total{kind="tts",reason="timeout"}`, `[TTS fallback]` log lines; three timeouts in a row open its circuit for 15 s, too briefly for `ProviderCircuitOpen` (`for: 1m`) to fire |
//! | 1:00 | TTS recovers | elevenlabs's next probe closes its circuit |
//! | 1:15 | LLM rate-limit storm: groq answers every request `rate_limited`, for 2 minutes | three in a row open groq's circuit (`voice_provider_circuit_open`), openai answers; `ProviderCircuitOpen` goes pending, fires at about 2:20 and is notified in the log (`[FIRING:1] ProviderCircuitOpen`) |
//! | 3:15 | recovery: groq answers again | its next probe (at most 15 s later) closes the circuit; the alert resolves, and its resolved notification follows within a minute |
//! | 4:45 | the story ends | the faults of `--faults` alone stay in force |
//!
//! The 5-minute rate windows of the fallback alerts still hold the storm for 5 minutes
//! after it: `HighFallbackRate` (its `for` is 5 minutes) fires at about 6:25, once
//! `ProviderCircuitOpen` no longer mutes it, and resolves when the storm leaves its window.
//!
//! With `--speed N` every time above is divided by N (the alert engine's clock and the
//! breakers' cool-down run N times faster too).

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::faults::{Faults, LiveFaults};

/// One step of the story: from `at` (story time) on, `faults` are in force on top of
/// the base faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// When it starts, from the demo's start, at normal speed.
    pub at: Duration,
    /// A fault spec ([`crate::faults`]), empty for none.
    pub faults: &'static str,
    /// What the log says when it starts.
    pub says: &'static str,
}

const fn at(minutes: u64, seconds: u64) -> Duration {
    Duration::from_secs(minutes * 60 + seconds)
}

/// The demo's story, in order.
pub const STORY: [Step; 6] = [
    Step { at: at(0, 0), faults: "", says: "callers are dialling in: watch the live calls" },
    Step {
        at: at(0, 30),
        faults: "tts.primary=stall:3s",
        says: "TTS stall: elevenlabs sends nothing for 3 s; after its 1 s first-byte \
               timeout azure answers ([TTS fallback] lines), and three timeouts in a row \
               open its circuit",
    },
    Step {
        at: at(1, 0),
        faults: "",
        says: "TTS recovers: elevenlabs's next probe closes its circuit before \
               ProviderCircuitOpen's minute is up",
    },
    Step {
        at: at(1, 15),
        faults: "llm.primary=error:rate_limited",
        says: "LLM rate-limit storm: groq answers every request with 429; three in a row \
               open its circuit and openai answers; ProviderCircuitOpen fires in about a \
               minute and is notified in this log",
    },
    Step {
        at: at(3, 15),
        faults: "",
        says: "recovery: groq answers again; its next probe closes the circuit and \
               ProviderCircuitOpen resolves",
    },
    Step {
        at: at(4, 45),
        faults: "",
        says: "the story is over (restart to see it again); the callers keep calling",
    },
];

/// Checks that every step's faults parse, and that steps are in order.
///
/// ```
/// use voice_agent::timeline::{STORY, Step, validate};
///
/// assert!(validate(&STORY).is_ok());
/// let bad = Step { faults: "tts.primary=explode", ..STORY[0] };
/// assert!(validate(&[bad]).is_err());
/// ```
///
/// # Errors
/// The first step whose spec does not parse, or that comes before the previous one.
pub fn validate(steps: &[Step]) -> anyhow::Result<()> {
    for pair in steps.windows(2) {
        anyhow::ensure!(
            pair[0].at <= pair[1].at,
            "timeline: step at {:?} is out of order",
            pair[1].at
        );
    }
    for step in steps {
        Faults::parse(step.faults)?;
    }
    Ok(())
}

/// Plays `steps` on the current tokio runtime, `speed` times faster than written: at
/// each step `live` holds `base` plus the step's faults, and the log says what happens.
/// Dropping the handle stops the story where it is.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> anyhow::Result<()> {
/// use voice_agent::faults::{Faults, LiveFaults};
/// use voice_agent::timeline::{STORY, start};
///
/// let live = LiveFaults::new(Faults::default());
/// let story = start(&STORY, Faults::default(), live.clone(), 60)?;
/// // 1:15 of the story is 1.25 s at sixty times the speed: the LLM storm is on.
/// tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
/// assert_eq!(live.current().of("groq").len(), 1);
/// # drop(story); Ok(()) }
/// ```
///
/// # Errors
/// A step that [`validate`] rejects; nothing is started then.
pub fn start(
    steps: &[Step],
    base: Faults,
    live: LiveFaults,
    speed: u32,
) -> anyhow::Result<Timeline> {
    validate(steps)?;
    let steps = steps.to_vec();
    let speed = speed.max(1);
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(async move {
        for step in steps {
            tokio::time::sleep_until(started + step.at / speed).await;
            let faults = Faults::parse(step.faults).unwrap_or_default();
            live.set(base.and(&faults));
            let (minutes, seconds) = (step.at.as_secs() / 60, step.at.as_secs() % 60);
            tracing::info!(target: "voice_agent::story", "[Story {minutes}:{seconds:02}] {}", step.says);
        }
    });
    Ok(Timeline(task))
}

/// The running timeline; dropping it stops the story.
#[derive(Debug)]
pub struct Timeline(JoinHandle<()>);

impl Timeline {
    /// Whether every step has been played.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for Timeline {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use voxscope::provider::ErrorClass;

    use super::*;
    use crate::faults::Fault;

    #[test]
    fn the_story_parses_and_ends_within_five_minutes() {
        validate(&STORY).unwrap();
        assert!(STORY.last().unwrap().at <= at(5, 0));
        let storm = STORY.iter().position(|s| s.faults.starts_with("llm")).unwrap();
        // The circuit must stay open past ProviderCircuitOpen's minute of `for`.
        assert!(STORY[storm + 1].at - STORY[storm].at >= at(1, 30));
        let bad = [STORY[1], Step { at: at(0, 0), ..STORY[0] }];
        assert!(validate(&bad).is_err());
        let bad = [Step { faults: "llm.primary=explode", ..STORY[0] }];
        assert!(validate(&bad).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn each_step_puts_its_faults_over_the_base_at_its_time_divided_by_the_speed() {
        let base = Faults::parse("stt.primary=latency:100ms").unwrap();
        let live = LiveFaults::new(base.clone());
        let timeline = start(&STORY, base, live.clone(), 10).unwrap();
        let base_fault = [Fault::Latency(Duration::from_millis(100))];
        // Story time t is wall time t / 10; look just after each step.
        let at_story = |t: Duration| async move {
            tokio::time::sleep_until(tokio::time::Instant::now() + t / 10).await;
        };
        at_story(at(0, 1)).await;
        assert_eq!(live.current().of("deepgram"), base_fault);
        assert!(live.current().of("elevenlabs").is_empty());
        at_story(at(0, 30)).await; // 0:31
        assert_eq!(live.current().of("elevenlabs"), [Fault::Stall(Duration::from_secs(3))]);
        assert_eq!(live.current().of("deepgram"), base_fault);
        at_story(at(0, 28)).await; // 0:59
        assert_eq!(live.current().of("elevenlabs").len(), 1);
        at_story(at(0, 2)).await; // 1:01
        assert!(live.current().of("elevenlabs").is_empty());
        at_story(at(0, 15)).await; // 1:16
        assert_eq!(live.current().of("groq"), [Fault::Error(ErrorClass::RateLimited, 1.0)]);
        at_story(at(1, 58)).await; // 3:14
        assert_eq!(live.current().of("groq").len(), 1);
        at_story(at(0, 2)).await; // 3:16
        assert!(live.current().of("groq").is_empty());
        assert!(!timeline.is_finished());
        at_story(at(1, 30)).await; // 4:46
        tokio::task::yield_now().await;
        assert!(timeline.is_finished());
        assert_eq!(live.current().of("deepgram"), base_fault);
    }
}
