//! The tracked socket over in-memory streams, recorded by `DebuggingRecorder`: what
//! each protocol's frames add up to, and how a call ends without a network.

use std::convert::Infallible;

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{FutureExt, StreamExt, stream};
use metrics_util::debugging::DebuggingRecorder;
use voxscope_call::{CallLayer, Direction, MediaAdapter, MediaFrame, Protocol, ProtocolErrorKind};

mod support;

use support::{Peer, drain, peer, recorded, values};

fn telnyx_media(ts: u64) -> Message {
    Message::text(format!(
        r#"{{"event":"media","sequence_number":"{ts}","media":{{"track":"inbound","chunk":"{ts}","timestamp":"{ts}","payload":"{}=="}},"stream_id":"s1"}}"#,
        "/".repeat(214)
    ))
}

#[test]
fn telnyx_reordering_is_not_a_gap_but_lost_audio_is() {
    let snapshot = recorded(|| {
        let layer = CallLayer::new(Protocol::Telnyx).unwrap();
        let call = layer.open_call(None).unwrap();
        let start = r#"{"event":"start","sequence_number":"1","stream_id":"s1","start":{"call_control_id":"v3:abc","from":"+15550001","to":"+15550002","media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}}"#;
        let mut frames = vec![Message::text(start)];
        frames.extend([0, 20, 40, 200, 180, 220].map(telnyx_media));
        frames.push(Message::text(r#"{"event":"stop","sequence_number":"9","stream_id":"s1"}"#));
        let socket = drain(call.track(peer(frames)));
        assert_eq!(call.id(), "v3:abc");
        drop((socket, call));
        assert_eq!(layer.active_calls(), 0);
    });
    let telnyx = [("transport", "telnyx")];
    assert_eq!(values(&snapshot, "voice_call_media_gaps_total", &telnyx), [1.0]);
    // 0 to 220 ms is 12 slots: 7 missed between 40 and 200, one filled late by 180.
    assert_eq!(values(&snapshot, "voice_call_audio_quality", &telnyx), [5.0 / 12.0]);
    assert_eq!(values(&snapshot, "voice_call_frames_total", &[("direction", "in")]), [6.0]);
    let completed = [("transport", "telnyx"), ("outcome", "completed")];
    assert_eq!(values(&snapshot, "voice_calls_total", &completed), [1.0]);
}

#[test]
fn raw_pcm_counts_audio_from_rate_and_width() {
    let snapshot = recorded(|| {
        let protocol = Protocol::RawPcm { sample_rate: 16_000, sample_width: 2 };
        let layer = CallLayer::builder(protocol).transport("browser").build().unwrap();
        let call = layer.open_call(None).unwrap();
        let mut frames: Vec<Message> = (0..150).map(|_| Message::binary(vec![0u8; 640])).collect();
        frames.push(Message::text("{\"type\":\"hello\"}"));
        frames.push(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() })));
        drop(drain(call.track(peer(frames))));
    });
    let browser_in = [("transport", "browser"), ("direction", "in")];
    assert_eq!(values(&snapshot, "voice_call_frames_total", &browser_in), [150.0]);
    assert_eq!(values(&snapshot, "voice_call_audio_seconds_total", &browser_in), [3.0]);
    // Six kinds in two directions, none seen.
    assert_eq!(values(&snapshot, "voice_call_protocol_errors_total", &[]), [0.0; 12]);
    let completed = [("outcome", "completed")];
    assert_eq!(values(&snapshot, "voice_calls_total", &completed), [1.0]);
}

#[test]
fn outcomes_without_a_network() {
    let snapshot = recorded(|| {
        let layer = CallLayer::builder(Protocol::Twilio).max_calls(3).build().unwrap();
        // Never tracked: the upgrade never happened.
        drop(layer.open_call(None));
        // The handler reported an error.
        let failed = layer.open_call(None).unwrap();
        let socket = failed.track(stream::empty::<Result<Message, Infallible>>());
        failed.fail("the LLM provider is down");
        drop((socket, failed));
        // A panic while the socket is held.
        let panicked = layer.open_call(None).unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _socket = panicked.track(stream::empty::<Result<Message, Infallible>>());
            panic!("handler bug");
        }));
        assert!(result.is_err());
        drop(panicked);
        // The peer went away without a close frame.
        let dropped = layer.open_call(None).unwrap();
        drop(drain(dropped.track(peer(Vec::new()))));
        drop(dropped);
        // Three held, the fourth is shed.
        let held: Vec<_> = (0..3).map(|_| layer.open_call(None).unwrap()).collect();
        assert!(layer.open_call(None).is_none());
        held[0].record_sentiment(0.5);
        held[0].record_sentiment(7.0);
        held[0].record_sentiment(f64::NAN);
        drop(held);
        assert_eq!(layer.active_calls(), 0);
    });
    let calls = |outcome| values(&snapshot, "voice_calls_total", &[("outcome", outcome)]);
    assert_eq!(calls("rejected"), [1.0 + 3.0 + 1.0]);
    assert_eq!(calls("failed"), [2.0]);
    assert_eq!(calls("dropped"), [1.0]);
    assert_eq!(calls("completed"), [0.0]);
    assert_eq!(values(&snapshot, "voice_call_duration_seconds", &[]).len(), 8);
    assert_eq!(values(&snapshot, "voice_calls_active", &[]), [0.0]);
    assert_eq!(values(&snapshot, "voice_calls_capacity", &[]), [3.0]);
    assert_eq!(values(&snapshot, "voice_call_sentiment", &[]), [0.5, 1.0]);
}

#[test]
fn builder_errors_name_the_field_and_value() {
    let err = |b: voxscope_call::CallLayerBuilder| b.build().unwrap_err().to_string();
    let twilio = || CallLayer::builder(Protocol::Twilio);
    assert_eq!(err(twilio().max_calls(0)), "max_calls: must be greater than 0");
    assert_eq!(
        err(twilio().gap_factor(0.5)),
        "gap_factor: a finite multiple of at least 1 (got \"0.5\")"
    );
    assert_eq!(
        err(twilio().call_id_header("bad header")),
        "call_id_header: an HTTP header name (got \"bad header\")"
    );
    assert_eq!(
        err(twilio().transport("Twilio-EU")),
        "transport: a label value of lowercase letters, digits and '_' (got \"Twilio-EU\")"
    );
    assert_eq!(
        err(twilio().retry_after(std::time::Duration::from_millis(10))),
        "retry_after: at least one second (got \"10ms\")"
    );
    assert_eq!(
        err(twilio().idle_timeout(std::time::Duration::ZERO)),
        "idle_timeout: must be greater than 0"
    );
    assert_eq!(
        err(twilio().idle_timeout(std::time::Duration::MAX)),
        "idle_timeout: at most one day (got \"18446744073709551615.999999999s\")"
    );
    assert_eq!(
        err(twilio().ping_keepalive(std::time::Duration::from_micros(999), 2)),
        "ping_interval: from one millisecond to one day (got \"999µs\")"
    );
    assert_eq!(
        err(twilio().ping_keepalive(std::time::Duration::MAX, 2)),
        "ping_interval: from one millisecond to one day (got \"18446744073709551615.999999999s\")"
    );
    assert_eq!(
        err(twilio().ping_keepalive(std::time::Duration::from_secs(10), 0)),
        "ping_misses: must be greater than 0"
    );
    let pcm = Protocol::RawPcm { sample_rate: 8_000, sample_width: 9 };
    assert_eq!(
        err(CallLayer::builder(pcm)),
        "protocol.sample_width: bytes per sample, 1 to 4 (got \"9\")"
    );
}

#[tokio::test(start_paused = true)]
async fn the_idle_timeout_runs_from_the_last_inbound_frame() {
    use std::time::Duration;
    let layer =
        CallLayer::builder(Protocol::Twilio).idle_timeout(Duration::from_secs(10)).build().unwrap();
    let call = layer.open_call(None).unwrap();
    // A frame every 2 s for 10 s, then a peer that says nothing and never closes.
    let frames = stream::unfold(0, |n| async move {
        (n < 5).then_some(())?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        Some((Ok::<_, Infallible>(telnyx_media(n * 20)), n + 1))
    })
    .chain(stream::pending());
    let started = tokio::time::Instant::now();
    let mut socket = call.track(Peer(Box::pin(frames)));
    for _ in 0..5 {
        assert!(socket.next().await.is_some());
    }
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert!(socket.next().await.is_none(), "the stream ends at the idle timeout");
    assert_eq!(started.elapsed(), Duration::from_secs(20), "10 s after the last frame");
    assert!(socket.next().await.is_none(), "and stays ended");
    drop((socket, call));
    assert_eq!(layer.active_calls(), 0);
}

fn twilio_media(track: &str, ts: u64) -> Message {
    Message::text(format!(
        r#"{{"event":"media","sequenceNumber":"{ts}","media":{{"track":"{track}","chunk":"{ts}","timestamp":"{ts}","payload":"{}/w=="}},"streamSid":"MZ1"}}"#,
        "/".repeat(212)
    ))
}

#[test]
fn both_tracks_count_the_outbound_track_out_and_errors_carry_their_direction() {
    let snapshot = recorded(|| {
        let layer = CallLayer::new(Protocol::Twilio).unwrap();
        let call = layer.open_call(None).unwrap();
        let mut frames = Vec::new();
        for n in 0..50 {
            frames.push(twilio_media("inbound", n * 20));
            frames.push(twilio_media("outbound", n * 20));
        }
        frames.push(Message::text("not json"));
        drop(drain(call.track(peer(frames))));
        let mut to_caller = call.track(futures_util::sink::drain::<Message>());
        let bad = Message::text(r#"{"event":"media","media":{"payload":"AAAAA"}}"#);
        futures_util::SinkExt::send(&mut to_caller, bad).now_or_never().unwrap().unwrap();
    });
    let frames = |d| values(&snapshot, "voice_call_frames_total", &[("direction", d)]);
    assert_eq!((frames("in"), frames("out")), (vec![50.0], vec![50.0]));
    let seconds = |d| values(&snapshot, "voice_call_audio_seconds_total", &[("direction", d)]);
    assert_eq!((seconds("in"), seconds("out")), (vec![1.0], vec![1.0]));
    // The outbound track has no bearing on the caller's audio quality.
    assert_eq!(values(&snapshot, "voice_call_audio_quality", &[]), [1.0]);
    let error = |kind, d| {
        values(&snapshot, "voice_call_protocol_errors_total", &[("kind", kind), ("direction", d)])
    };
    assert_eq!(error("invalid_json", "in"), [1.0]);
    assert_eq!(error("invalid_payload", "out"), [1.0]);
    assert_eq!(error("invalid_payload", "in"), [0.0]);
}

#[test]
fn an_opus_stream_counts_nominal_20_ms_frames() {
    let snapshot = recorded(|| {
        let layer = CallLayer::new(Protocol::Telnyx).unwrap();
        let call = layer.open_call(None).unwrap();
        let start = r#"{"event":"start","sequence_number":"1","stream_id":"s1","start":{"call_control_id":"v3:opus","media_format":{"encoding":"OPUS","sample_rate":16000,"channels":1}}}"#;
        let mut frames = vec![Message::text(start)];
        // Opus frames vary in size: 20 to 120 bytes here, 20 ms each.
        frames.extend((0..100u64).map(|n| {
            Message::text(format!(
                r#"{{"event":"media","media":{{"track":"inbound","timestamp":"{}","payload":"{}"}},"stream_id":"s1"}}"#,
                n * 20,
                "AAAA".repeat(7 + (n as usize % 34))
            ))
        }));
        drop(drain(call.track(peer(frames))));
    });
    let inbound = [("transport", "telnyx"), ("direction", "in")];
    assert_eq!(values(&snapshot, "voice_call_frames_total", &inbound), [100.0]);
    assert_eq!(values(&snapshot, "voice_call_audio_seconds_total", &inbound), [2.0]);
    assert_eq!(values(&snapshot, "voice_call_media_gaps_total", &[]), [0.0]);
}

/// An application's own provider: text lines `start <call> <bytes/s>`, `stop`, `dtmf`,
/// and binary audio both ways.
#[derive(Debug)]
struct LineProtocol;

impl MediaAdapter for LineProtocol {
    fn label(&self) -> &'static str {
        "lines"
    }
    fn has_stop_event(&self) -> bool {
        true
    }
    fn byte_rate(&self) -> u32 {
        8_000
    }
    fn text(&self, text: &str, _direction: Direction) -> MediaFrame {
        let mut words = text.split(' ');
        match (words.next(), words.next(), words.next().map(str::parse::<u32>)) {
            (Some("start"), Some(call), Some(Ok(rate))) => MediaFrame::Start {
                call_id: Some(call.to_owned()),
                stream_id: None,
                byte_rate: Some(rate),
            },
            (Some("stop"), None, None) => MediaFrame::Stop,
            (Some("dtmf"), Some(_), None) => MediaFrame::Control,
            _ => MediaFrame::Error(ProtocolErrorKind::UnknownEvent),
        }
    }
}

static LINES: LineProtocol = LineProtocol;

#[test]
fn an_application_adapter_counts_its_provider_without_a_fork() {
    let snapshot = recorded(|| {
        let layer = CallLayer::new(Protocol::Custom(&LINES)).unwrap();
        let call = layer.open_call(None).unwrap();
        // 16 kHz 16-bit from the start line on: 50 frames of 640 bytes are 1 s.
        let mut frames = vec![Message::text("start CALL-7 32000")];
        frames.extend((0..50).map(|_| Message::binary(vec![0u8; 640])));
        frames.push(Message::text("dtmf 5"));
        frames.push(Message::text("what is this"));
        frames.push(Message::text("stop"));
        let socket = drain(call.track(peer(frames)));
        assert_eq!(call.id(), "CALL-7");
        assert_eq!(call.transport(), "lines");
        drop((socket, call));
    });
    let lines_in = [("transport", "lines"), ("direction", "in")];
    assert_eq!(values(&snapshot, "voice_call_frames_total", &lines_in), [50.0]);
    assert_eq!(values(&snapshot, "voice_call_audio_seconds_total", &lines_in), [1.0]);
    let unknown = [("transport", "lines"), ("kind", "unknown_event"), ("direction", "in")];
    assert_eq!(values(&snapshot, "voice_call_protocol_errors_total", &unknown), [1.0]);
    let completed = [("transport", "lines"), ("outcome", "completed")];
    assert_eq!(values(&snapshot, "voice_calls_total", &completed), [1.0]);
}

#[test]
fn an_adapter_label_must_be_a_label() {
    #[derive(Debug)]
    struct Spaced;
    impl MediaAdapter for Spaced {
        fn label(&self) -> &'static str {
            "my provider"
        }
        fn has_stop_event(&self) -> bool {
            false
        }
        fn byte_rate(&self) -> u32 {
            0
        }
        fn text(&self, _: &str, _: Direction) -> MediaFrame {
            MediaFrame::Control
        }
    }
    static SPACED: Spaced = Spaced;
    let err = CallLayer::new(Protocol::Custom(&SPACED)).unwrap_err().to_string();
    assert!(err.contains("protocol.label") && err.contains("my provider"), "{err}");
    assert_eq!(Protocol::Custom(&LINES), Protocol::Custom(&LINES));
    assert_ne!(Protocol::Custom(&LINES), Protocol::Twilio);
}

#[test]
fn inbound_frames_read_back_to_back_are_counted_by_the_wait_after_them() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // Counted since the last look (a snapshot drains counters).
    let counted = || -> f64 {
        let snapshot: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| (key, value))
            .collect();
        values(&snapshot, "voice_call_frames_total", &[("direction", "in")]).iter().sum()
    };
    metrics::with_local_recorder(&recorder, || {
        let layer = CallLayer::new(Protocol::Twilio).unwrap();
        let call = layer.open_call(None).unwrap();
        // 40 frames waiting to be read, then nothing yet, then 3 more and the end.
        let frame = |n: u64| Ok::<_, Infallible>(twilio_media("inbound", 20 * n));
        let (backlog, later) = ((0..40).map(frame), (40..43).map(frame));
        let mut waits = 0;
        let frames = stream::iter(backlog).chain(stream::poll_fn(move |_| {
            waits += 1;
            if waits == 1 { std::task::Poll::Pending } else { std::task::Poll::Ready(None) }
        }));
        let mut socket = call.track(Peer(Box::pin(frames.chain(stream::iter(later)))));
        fn read<S: futures_util::Stream<Item = Result<Message, Infallible>> + Unpin>(
            socket: &mut S,
            n: usize,
        ) {
            for _ in 0..n {
                assert!(matches!(socket.next().now_or_never(), Some(Some(Ok(_)))));
            }
        }
        read(&mut socket, 15);
        assert_eq!(counted(), 0.0, "15 frames read back to back: not added yet");
        read(&mut socket, 1);
        assert_eq!(counted(), 16.0, "every 16 frames");
        read(&mut socket, 24);
        assert_eq!(counted(), 16.0);
        assert!(socket.next().now_or_never().is_none(), "nothing to read yet");
        assert_eq!(counted(), 8.0, "the wait adds the 8 read since");
        read(&mut socket, 3);
        assert_eq!(counted(), 0.0);
        assert!(matches!(socket.next().now_or_never(), Some(None)));
        assert_eq!(counted(), 3.0, "the end of the stream adds the rest");
        drop((socket, call));
    });
}
