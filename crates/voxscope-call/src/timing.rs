//! Inbound audio timing (gaps, on-time share) and whole-second audio accounting.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::Counter;
use quanta::Instant;

const MICROS_PER_SECOND: u64 = 1_000_000;
/// When a frame's own length is unknown (an unannounced codec), telephony's usual 20 ms.
const NOMINAL_FRAME_MICROS: u64 = 20_000;

/// Judges each inbound media frame on time or late, by arrival and by the protocol's
/// own timestamps. A frame is late when it follows the previous one by more than
/// `gap_factor` times the previous frame's audio length.
#[derive(Debug)]
pub(crate) struct InboundTiming {
    gap_factor: f64,
    last_arrival: Option<Instant>,
    last_timestamp_ms: Option<u64>,
    last_frame_micros: u64,
    pub(crate) frames: u64,
    pub(crate) late: u64,
}

impl InboundTiming {
    pub(crate) fn new(gap_factor: f64) -> Self {
        Self {
            gap_factor,
            last_arrival: None,
            last_timestamp_ms: None,
            last_frame_micros: NOMINAL_FRAME_MICROS,
            frames: 0,
            late: 0,
        }
    }

    /// Records one frame; `true` when it came after a gap.
    pub(crate) fn frame(
        &mut self,
        arrival: Instant,
        timestamp_ms: Option<u64>,
        frame_micros: u64,
    ) -> bool {
        let allowed = self.last_frame_micros as f64 * self.gap_factor;
        let late_by_arrival = self.last_arrival.is_some_and(|last| {
            arrival.saturating_duration_since(last).as_micros() as f64 > allowed
        });
        // Telnyx does not promise order: an earlier timestamp is a reordering, not a gap,
        // and must not rewind the reference.
        let late_by_timestamp = match (timestamp_ms, self.last_timestamp_ms) {
            (Some(now), Some(last)) if now > last => {
                (now - last).saturating_mul(1_000) as f64 > allowed
            }
            _ => false,
        };
        if let Some(ts) = timestamp_ms {
            self.last_timestamp_ms = Some(self.last_timestamp_ms.map_or(ts, |last| last.max(ts)));
        }
        self.last_arrival = Some(arrival);
        if frame_micros > 0 {
            self.last_frame_micros = frame_micros;
        }
        self.frames += 1;
        let late = late_by_arrival || late_by_timestamp;
        self.late += u64::from(late);
        late
    }
}

/// Audio of one call in one direction. `metrics` counters take whole numbers, so
/// seconds go to `voice_call_audio_seconds_total` as they complete; what is left at the
/// end of a call joins a layer-wide carry, so that no fraction is lost across calls.
#[derive(Debug, Default)]
pub(crate) struct AudioTally {
    pub(crate) micros: u64,
    unflushed: u64,
}

impl AudioTally {
    pub(crate) fn add(&mut self, micros: u64, counter: &Counter) {
        self.micros = self.micros.saturating_add(micros);
        self.unflushed += micros;
        if self.unflushed >= MICROS_PER_SECOND {
            counter.increment(self.unflushed / MICROS_PER_SECOND);
            self.unflushed %= MICROS_PER_SECOND;
        }
    }

    pub(crate) fn finish(&mut self, carry: &AtomicU64, counter: &Counter) {
        let rest = std::mem::take(&mut self.unflushed);
        if rest == 0 {
            return;
        }
        let before = carry.fetch_add(rest, Ordering::Relaxed);
        let whole = (before + rest) / MICROS_PER_SECOND - before / MICROS_PER_SECOND;
        if whole > 0 {
            counter.increment(whole);
        }
    }

    pub(crate) fn seconds(&self) -> f64 {
        self.micros as f64 / MICROS_PER_SECOND as f64
    }
}

/// Microseconds of audio in `bytes` at `byte_rate` bytes per second.
pub(crate) fn audio_micros(bytes: usize, byte_rate: u32) -> u64 {
    if byte_rate == 0 {
        return 0;
    }
    (bytes as u64).saturating_mul(MICROS_PER_SECOND) / u64::from(byte_rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn gaps_by_arrival_and_by_timestamp_reordering_is_not_a_gap() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut timing = InboundTiming::new(2.0);
        assert!(!timing.frame(at(0), Some(0), 20_000));
        assert!(!timing.frame(at(20), Some(20), 20_000));
        assert!(timing.frame(at(100), Some(40), 20_000), "80 ms after the last frame");
        assert!(timing.frame(at(110), Some(200), 20_000), "160 ms of lost audio");
        assert!(!timing.frame(at(120), Some(180), 20_000), "reordered, not late");
        assert!(!timing.frame(at(130), Some(220), 20_000));
        assert_eq!((timing.frames, timing.late), (6, 2));
    }

    #[test]
    fn audio_seconds_are_whole_and_carried_across_calls() {
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let counter = metrics::counter!("audio");
            let carry = AtomicU64::new(0);
            for _ in 0..3 {
                let mut tally = AudioTally::default();
                for _ in 0..35 {
                    tally.add(audio_micros(160, 8_000), &counter);
                }
                tally.finish(&carry, &counter);
                assert_eq!(tally.seconds(), 0.7);
            }
        });
        let total: u64 = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(_, _, _, value)| match value {
                metrics_util::debugging::DebugValue::Counter(n) => n,
                _ => 0,
            })
            .sum();
        assert_eq!(total, 2, "2.1 s of audio is 2 whole seconds");
    }
}
