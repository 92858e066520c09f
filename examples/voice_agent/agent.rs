//! The agent behind `/media`: each caller turn runs through the provider pipeline (the
//! caller's audio through the live STT, then LLM and TTS, each with a fallback), and the
//! synthesised audio goes back to the caller.
//! Turn latency on `/metrics` is then what the providers made it.

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream;

use crate::media::{AgentAudio, CallerTurn, Responder};
use crate::providers::Pipeline;

/// mu-law 8 kHz: 160 bytes are 20 ms.
const FRAME_BYTES: usize = 160;
/// What the agent plays when no provider of a kind could answer (one second).
const APOLOGY_FRAMES: usize = 50;

/// Answers media-stream turns through a [`Pipeline`].
#[derive(Clone, Debug)]
pub struct PipelineResponder {
    pipeline: Arc<Pipeline>,
}

impl PipelineResponder {
    /// A responder over `pipeline` (clones share its breakers).
    pub fn new(pipeline: Pipeline) -> Self {
        Self { pipeline: Arc::new(pipeline) }
    }
}

impl Responder for PipelineResponder {
    fn answer(&self, turn: CallerTurn) -> AgentAudio {
        let pipeline = Arc::clone(&self.pipeline);
        stream::once(async move {
            let frames = match pipeline.turn_audio(&turn.audio).await {
                Ok(reply) => reply.audio_bytes.div_ceil(FRAME_BYTES),
                Err(error) => {
                    // A failed turn is not a failed call: the caller hears an apology.
                    tracing::warn!(
                        call_id = %turn.call_id,
                        turn = turn.number,
                        "no provider could answer the turn: {error}"
                    );
                    APOLOGY_FRAMES
                }
            };
            stream::iter((0..frames).map(|_| Ok(vec![0xFF; FRAME_BYTES])))
        })
        .flatten()
        .boxed()
    }
}
