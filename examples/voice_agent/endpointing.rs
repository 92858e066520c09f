//! Endpointing: when the caller is speaking, and when their turn has ended.
//!
//! Each Twilio `media` payload is decoded strictly (canonical base64, as Twilio writes
//! it), its mu-law (G.711) bytes are expanded to 16-bit linear PCM, and the frame is
//! speech when its RMS level reaches [`SPEECH_RMS`]. Silence (`0xFF`, linear 0) and the
//! low noise of a telephone line stay far below it. [`ENDPOINT_SILENT_FRAMES`] quiet
//! frames after speech end the caller's turn.
//!
//! ```
//! use voice_agent::endpointing::{Endpointer, Heard};
//!
//! let mut caller = Endpointer::default();
//! // 20 ms of line silence, as Twilio sends it: 160 bytes of 0xFF.
//! let silence = "/".repeat(212) + "/w==";
//! assert_eq!(caller.frame(&silence).unwrap(), Heard::Nothing);
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// RMS level, in 16-bit linear units, from which a frame is speech: about -36 dBFS
/// (full scale 32,767). Voiced speech on a telephone line sits between -30 and -10 dBFS;
/// line hiss and comfort noise below -50 dBFS.
pub const SPEECH_RMS: f64 = 500.0;
/// Quiet 20 ms frames after speech that end the caller's turn: 400 ms, longer than the
/// pauses between words.
pub const ENDPOINT_SILENT_FRAMES: u32 = 20;

/// What one frame meant for the caller's turn.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    /// Silence outside a turn, or more of the current turn.
    Nothing,
    /// The first speech frame of a turn (the caller barges in if the agent speaks).
    SpeechStarted,
    /// The turn ended: the caller's mu-law audio from its first speech frame.
    TurnEnded(Vec<u8>),
}

/// A payload that is not canonical base64: counted by the caller as a protocol error,
/// and no audio.
#[derive(Debug, thiserror::Error)]
#[error("media payload is not canonical base64: {0}")]
pub struct InvalidPayload(#[from] base64::DecodeError);

/// Endpointing state of one caller.
#[derive(Debug, Default)]
pub struct Endpointer {
    speaking: bool,
    quiet_frames: u32,
    audio: Vec<u8>,
    decoded: Vec<u8>,
}

impl Endpointer {
    /// Reads one base64 `media` payload.
    ///
    /// # Errors
    /// [`InvalidPayload`] when the payload is not canonical standard base64 (a wrong
    /// alphabet, missing padding, non-zero trailing bits); the state is unchanged.
    pub fn frame(&mut self, payload: &str) -> Result<Heard, InvalidPayload> {
        self.decoded.clear();
        STANDARD.decode_vec(payload, &mut self.decoded)?;
        let speech = is_speech(&self.decoded);
        if speech || self.speaking {
            self.audio.extend_from_slice(&self.decoded);
        }
        if speech {
            self.quiet_frames = 0;
            let started = !self.speaking;
            self.speaking = true;
            return Ok(if started { Heard::SpeechStarted } else { Heard::Nothing });
        }
        if self.speaking {
            self.quiet_frames += 1;
            if self.quiet_frames >= ENDPOINT_SILENT_FRAMES {
                self.speaking = false;
                self.quiet_frames = 0;
                return Ok(Heard::TurnEnded(std::mem::take(&mut self.audio)));
            }
        }
        Ok(Heard::Nothing)
    }
}

/// Whether a frame of mu-law audio is speech: its RMS level reaches [`SPEECH_RMS`].
pub fn is_speech(mulaw: &[u8]) -> bool {
    if mulaw.is_empty() {
        return false;
    }
    let energy: f64 = mulaw.iter().map(|&b| f64::from(mulaw_to_linear(b)).powi(2)).sum();
    (energy / mulaw.len() as f64).sqrt() >= SPEECH_RMS
}

/// One G.711 mu-law byte as 16-bit linear PCM (ITU-T G.711, the 14-bit magnitude
/// scaled to 16 bits): `0xFF` and `0x7F` are 0, `0x00` is -32,124.
pub fn mulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    // At most (15 * 8 + 132) * 128 - 132 = 32,124: always an i16.
    let magnitude = magnitude as i16;
    if u & 0x80 != 0 { -magnitude } else { magnitude }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_decodes_as_g711_says() {
        assert_eq!(mulaw_to_linear(0xFF), 0);
        assert_eq!(mulaw_to_linear(0x7F), 0);
        assert_eq!(mulaw_to_linear(0x80), 32_124);
        assert_eq!(mulaw_to_linear(0x00), -32_124);
        assert_eq!(mulaw_to_linear(0xFE), 8);
        assert_eq!(mulaw_to_linear(0x7E), -8);
        assert_eq!(mulaw_to_linear(0xEF), 132);
    }

    #[test]
    fn silence_and_line_noise_are_quiet_a_tone_is_speech() {
        assert!(!is_speech(&[0xFF; 160]));
        // Line noise: the smallest steps around zero, either sign (about -70 dBFS).
        let noise: Vec<u8> = (0..160).map(|i| [0xFF, 0xFE, 0x7E, 0xFD, 0x7D][i % 5]).collect();
        assert!(!is_speech(&noise));
        // A 400 Hz tone at -20 dBFS, encoded by the table's inverse.
        let tone: Vec<u8> = (0..160)
            .map(|i| {
                let x = 3_277.0 * (2.0 * std::f64::consts::PI * 400.0 * i as f64 / 8_000.0).sin();
                nearest_mulaw(x as i16)
            })
            .collect();
        assert!(is_speech(&tone));
    }

    fn nearest_mulaw(sample: i16) -> u8 {
        (0..=255u8)
            .min_by_key(|&b| (i32::from(mulaw_to_linear(b)) - i32::from(sample)).abs())
            .unwrap_or(0xFF)
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        let mut caller = Endpointer::default();
        // 0xFF bytes with the last character's unused bits set: what a strict decoder
        // refuses.
        let sloppy = "/".repeat(214) + "==";
        assert!(caller.frame(&sloppy).is_err());
        assert!(caller.frame("AAA").is_err());
        assert_eq!(caller.frame(&("/".repeat(212) + "/w==")).unwrap(), Heard::Nothing);
    }
}
