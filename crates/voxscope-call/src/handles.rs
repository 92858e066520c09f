//! The series of one transport, registered together on first use and then held: a
//! frame costs a counter add, never a registry lookup.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use metrics::{Counter, Gauge, Histogram};
use voxscope_core::catalog::{
    VOICE_CALL_AUDIO_QUALITY, VOICE_CALL_AUDIO_SECONDS_TOTAL, VOICE_CALL_DURATION,
    VOICE_CALL_FRAMES_TOTAL, VOICE_CALL_MEDIA_GAPS_TOTAL, VOICE_CALL_PING_RTT,
    VOICE_CALL_PROTOCOL_ERRORS_TOTAL, VOICE_CALL_SENTIMENT, VOICE_CALLS_ACTIVE,
    VOICE_CALLS_CAPACITY, VOICE_CALLS_TOTAL, VOICE_TURN_LATENCY,
};

use crate::outcome::Outcome;
use crate::protocol::ProtocolErrorKind;

/// Which way a frame travels: the `direction` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the caller (the provider) to the service.
    In = 0,
    /// From the service to the caller.
    Out = 1,
}

const DIRECTIONS: [&str; 2] = ["in", "out"];

impl Direction {
    /// The `direction` label value.
    pub(crate) const fn label(self) -> &'static str {
        DIRECTIONS[self as usize]
    }
}

/// Lazily registered handles of a layer, with the recorder current at first use.
#[derive(Debug)]
pub(crate) struct Instruments {
    transport: &'static str,
    capacity: Option<usize>,
    keepalive: bool,
    handles: OnceLock<Arc<Handles>>,
}

impl Instruments {
    pub(crate) fn new(transport: &'static str, capacity: Option<usize>, keepalive: bool) -> Self {
        Self { transport, capacity, keepalive, handles: OnceLock::new() }
    }

    pub(crate) fn get(&self) -> &Arc<Handles> {
        self.handles.get_or_init(|| {
            Arc::new(Handles::register(self.transport, self.capacity, self.keepalive))
        })
    }
}

#[derive(Debug)]
pub(crate) struct Handles {
    pub(crate) transport: &'static str,
    pub(crate) active: Gauge,
    pub(crate) calls: [Counter; Outcome::ALL.len()],
    pub(crate) duration: [Histogram; Outcome::ALL.len()],
    pub(crate) frames: [Counter; 2],
    pub(crate) audio: [Counter; 2],
    /// Sub-second audio left over by ended calls, per direction, in microseconds.
    pub(crate) audio_carry: [AtomicU64; 2],
    pub(crate) gaps: Counter,
    pub(crate) quality: Histogram,
    pub(crate) turn_latency: Histogram,
    pub(crate) sentiment: Histogram,
    /// By kind, then direction.
    pub(crate) protocol_errors: [[Counter; 2]; ProtocolErrorKind::ALL.len()],
    /// Registered only for a layer with ping keepalive.
    pub(crate) ping_rtt: Option<Histogram>,
}

/// Sets `voice_calls_capacity{transport}` in the current recorder. Only a configured
/// capacity is exported: a 0 would read as "always full".
pub(crate) fn publish_capacity(transport: &'static str, capacity: Option<usize>) {
    if let Some(capacity) = capacity {
        metrics::gauge!(VOICE_CALLS_CAPACITY.name, "transport" => transport).set(capacity as f64);
    }
}

impl Handles {
    fn register(transport: &'static str, capacity: Option<usize>, keepalive: bool) -> Self {
        let t = ("transport", transport);
        // Again at first use, for a layer built before the recorder was installed.
        publish_capacity(transport, capacity);
        let by_outcome = |name: &'static str| {
            Outcome::ALL.map(|o| metrics::counter!(name, t.0 => t.1, "outcome" => o.label()))
        };
        let direction = |name: &'static str| {
            DIRECTIONS.map(|d| metrics::counter!(name, t.0 => t.1, "direction" => d))
        };
        Self {
            transport,
            active: metrics::gauge!(VOICE_CALLS_ACTIVE.name, t.0 => t.1),
            calls: by_outcome(VOICE_CALLS_TOTAL.name),
            duration: Outcome::ALL.map(|o| {
                metrics::histogram!(VOICE_CALL_DURATION.name, t.0 => t.1, "outcome" => o.label())
            }),
            frames: direction(VOICE_CALL_FRAMES_TOTAL.name),
            audio: direction(VOICE_CALL_AUDIO_SECONDS_TOTAL.name),
            audio_carry: Default::default(),
            gaps: metrics::counter!(VOICE_CALL_MEDIA_GAPS_TOTAL.name, t.0 => t.1),
            quality: metrics::histogram!(VOICE_CALL_AUDIO_QUALITY.name, t.0 => t.1),
            turn_latency: metrics::histogram!(VOICE_TURN_LATENCY.name, t.0 => t.1),
            sentiment: metrics::histogram!(VOICE_CALL_SENTIMENT.name, t.0 => t.1),
            protocol_errors: ProtocolErrorKind::ALL.map(|k| {
                DIRECTIONS.map(|d| {
                    let name = VOICE_CALL_PROTOCOL_ERRORS_TOTAL.name;
                    metrics::counter!(name, t.0 => t.1, "kind" => k.label(), "direction" => d)
                })
            }),
            ping_rtt: keepalive.then(|| metrics::histogram!(VOICE_CALL_PING_RTT.name, t.0 => t.1)),
        }
    }
}
