//! The media driver: Twilio media-stream callers on `/media` that send 20 ms frames of
//! line silence as fast as the demo reads them, in batches, each closed by a WebSocket
//! ping. The demo's WebSocket answers the ping with a pong once it has read every frame
//! before it, so a batch's round trip is how long the demo took to read it, and frames
//! over time is what the media path sustains.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use voice_agent::simulator::frames;

/// What a driver run measured, over all its callers.
#[derive(Debug, Default)]
pub struct FramesReport {
    /// Media frames sent, each read by the demo before its batch's pong came back.
    pub frames: u64,
    /// From the first caller's start to the last one's final pong.
    pub elapsed: Duration,
    /// Each batch's round trip: from its first frame to its pong.
    pub round_trips: Vec<Duration>,
}

impl FramesReport {
    /// Frames per second.
    pub fn per_sec(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The `q` quantile (0 to 1) of the batch round trips.
    pub fn round_trip(&self, q: f64) -> Duration {
        let mut sorted = self.round_trips.clone();
        sorted.sort_unstable();
        let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).copied().unwrap_or_default()
    }
}

/// Drives `calls` concurrent callers at `media_url` for `duration`, `batch` frames per
/// ping. Every caller ends its call as Twilio does (`stop`, then a close).
///
/// # Errors
/// A caller that could not connect or whose call broke.
pub async fn drive(
    media_url: &str,
    calls: usize,
    batch: usize,
    duration: Duration,
) -> anyhow::Result<FramesReport> {
    let start = Instant::now();
    let deadline = start + duration;
    let callers: Vec<_> = (0..calls)
        .map(|n| tokio::spawn(caller(media_url.to_owned(), n, batch.max(1), deadline)))
        .collect();
    let mut report = FramesReport::default();
    for caller in callers {
        let (frames, round_trips) = caller.await.context("caller task")??;
        report.frames += frames;
        report.round_trips.extend(round_trips);
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// 20 ms of line silence (160 bytes of mu-law 0xFF), as Twilio's canonical base64.
fn silence() -> String {
    base64::engine::general_purpose::STANDARD.encode([0xFF; 160])
}

async fn caller(
    url: String,
    n: usize,
    batch: usize,
    deadline: Instant,
) -> anyhow::Result<(u64, Vec<Duration>)> {
    let sid = format!("CAload{n:04}");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?callSid={sid}"))
        .await
        .with_context(|| format!("caller {n}: connect"))?;
    let connected = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;
    ws.send(Message::text(connected)).await?;
    ws.send(Message::text(frames::start(&sid))).await?;
    let payload = silence();
    let (mut sequence, mut round_trips) = (1_u64, Vec::new());
    while Instant::now() < deadline {
        let sent_at = Instant::now();
        for _ in 0..batch {
            sequence += 1;
            let timestamp_ms = (sequence - 2) * 20;
            ws.feed(Message::text(frames::media(sequence, timestamp_ms, &payload))).await?;
        }
        let mark = sequence.to_be_bytes().to_vec();
        ws.send(Message::Ping(mark.clone().into())).await?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Pong(echo))) if echo.as_ref() == mark.as_slice() => break,
                Some(Ok(_)) => {}
                Some(Err(error)) => bail!("caller {n}: {error}"),
                None => bail!("caller {n}: the demo closed the call"),
            }
        }
        round_trips.push(sent_at.elapsed());
    }
    ws.send(Message::text(frames::stop(&sid))).await?;
    let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
    ws.send(Message::Close(Some(frame))).await?;
    // The demo's close, then the end of the stream.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    Ok(((sequence - 1), round_trips))
}
