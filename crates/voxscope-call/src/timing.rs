//! Inbound audio timing (gaps, on-time share) and whole-second audio accounting.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::Counter;
use quanta::Instant;

const MICROS_PER_SECOND: u64 = 1_000_000;
/// When a frame's own length is unknown (an unannounced codec), telephony's usual 20 ms.
const NOMINAL_FRAME_MICROS: u64 = 20_000;

/// Follows the inbound audio of a call: frames received, frames late, and frames that
/// never arrived inside gaps, by arrival and by the protocol's own timestamps.
///
/// A frame that follows the previous one by more than `gap_factor` times the previous
/// frame's audio length closes a gap. The gap's length (by arrival or by timestamp,
/// whichever is longer) in frame lengths, less the closing frame's own slot, is audio
/// that never arrived: a 10 s outage in a stream of 20 ms frames misses 500 frames. A
/// frame whose timestamp is older than one already seen (Telnyx does not promise order)
/// fills one of those slots late.
#[derive(Debug)]
pub(crate) struct InboundTiming {
    gap_factor: f64,
    last_arrival: Option<Instant>,
    last_timestamp_ms: Option<u64>,
    last_frame_micros: u64,
    /// Frames received.
    pub(crate) frames: u64,
    /// Received after their time: reordered frames.
    pub(crate) late: u64,
    /// Never arrived: the slots of gaps, less the late frames that filled them.
    pub(crate) missing: u64,
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
            missing: 0,
        }
    }

    /// Records one frame; `true` when it closed a gap.
    pub(crate) fn frame(
        &mut self,
        arrival: Instant,
        timestamp_ms: Option<u64>,
        frame_micros: u64,
    ) -> bool {
        let frame_len = self.last_frame_micros;
        let by_arrival = self
            .last_arrival
            .map_or(0, |last| arrival.saturating_duration_since(last).as_micros() as u64);
        let (by_timestamp, reordered) = match (timestamp_ms, self.last_timestamp_ms) {
            (Some(now), Some(last)) => (now.saturating_sub(last).saturating_mul(1_000), now < last),
            _ => (0, false),
        };
        if let Some(ts) = timestamp_ms {
            self.last_timestamp_ms = Some(self.last_timestamp_ms.map_or(ts, |last| last.max(ts)));
        }
        self.last_arrival = Some(arrival);
        if frame_micros > 0 {
            self.last_frame_micros = frame_micros;
        }
        self.frames += 1;
        if reordered {
            // It arrived after a later frame: late, into a slot counted missing.
            self.late += 1;
            self.missing = self.missing.saturating_sub(1);
            return false;
        }
        let interval = by_arrival.max(by_timestamp);
        let gap = interval as f64 > frame_len as f64 * self.gap_factor;
        if gap {
            let slots = interval.saturating_add(frame_len / 2) / frame_len;
            self.missing = self.missing.saturating_add(slots.saturating_sub(1));
        }
        gap
    }

    /// The share of the expected frames that arrived on time: received in order, over
    /// received plus missing. `None` before the first frame.
    pub(crate) fn quality(frames: u64, late: u64, missing: u64) -> Option<f64> {
        let expected = frames.saturating_add(missing);
        (frames > 0).then(|| frames.saturating_sub(late) as f64 / expected as f64)
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

/// Microseconds of audio in `bytes` at `byte_rate` bytes per second; at
/// [`NOMINAL_TIMING`](crate::protocol::NOMINAL_TIMING), a frame of any size is 20 ms.
pub(crate) fn audio_micros(bytes: usize, byte_rate: u32) -> u64 {
    if byte_rate == 0 {
        return if bytes > 0 { NOMINAL_FRAME_MICROS } else { 0 };
    }
    (bytes as u64).saturating_mul(MICROS_PER_SECOND) / u64::from(byte_rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn gaps_by_arrival_and_by_timestamp_reordering_fills_a_slot() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut timing = InboundTiming::new(2.0);
        assert!(!timing.frame(at(0), Some(0), 20_000));
        assert!(!timing.frame(at(20), Some(20), 20_000));
        assert!(timing.frame(at(100), Some(40), 20_000), "80 ms after the last frame");
        assert_eq!(timing.missing, 3, "four frame lengths by arrival: three slots missed");
        assert!(timing.frame(at(120), Some(200), 20_000), "160 ms of lost audio");
        assert_eq!(timing.missing, 3 + 7);
        assert!(!timing.frame(at(130), Some(180), 20_000), "reordered, not a gap");
        assert!(!timing.frame(at(140), Some(220), 20_000));
        assert_eq!((timing.frames, timing.late, timing.missing), (6, 1, 9));
        assert_eq!(InboundTiming::quality(6, 1, 9), Some(5.0 / 15.0));
    }

    #[test]
    fn ten_seconds_lost_in_a_minute_is_five_sixths() {
        let t0 = Instant::now();
        let mut timing = InboundTiming::new(3.0);
        // 20 ms frames over 60 s, without timestamps; those of 25 s to 35 s never come.
        for ms in (0..60_000).step_by(20).filter(|ms| !(25_000..35_000).contains(ms)) {
            timing.frame(t0 + Duration::from_millis(ms), None, 20_000);
        }
        assert_eq!((timing.frames, timing.late, timing.missing), (2_500, 0, 500));
        let quality = InboundTiming::quality(timing.frames, timing.late, timing.missing);
        assert_eq!(quality, Some(2_500.0 / 3_000.0));
    }

    #[test]
    fn absurd_timestamps_saturate_instead_of_overflowing() {
        let t0 = Instant::now();
        let mut timing = InboundTiming::new(3.0);
        timing.frame(t0, Some(0), 20_000);
        assert!(timing.frame(t0, Some(u64::MAX), 20_000));
        let quality = InboundTiming::quality(timing.frames, timing.late, timing.missing);
        assert!(quality.is_some_and(|q| q.is_finite() && (0.0..1e-9).contains(&q)));
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
