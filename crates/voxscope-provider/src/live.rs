//! Live STT through a [`FallbackChain`]: the caller's audio goes to whichever provider
//! serves, the last seconds of it are replayed to the fallback when the primary fails
//! mid-utterance, and STT TTFB runs from the end of speech to the final transcript.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use voxscope_core::ConfigError;

use crate::error::FallbackError;
use crate::fallback::{FallbackChain, FallbackStream};

/// The longest replay window: a minute of 16-bit 48 kHz audio is under 6 MB.
///
/// ```
/// use voxscope_provider::{MAX_REPLAY, live_audio};
///
/// assert!(live_audio(8_000, MAX_REPLAY).is_ok());
/// assert!(live_audio(8_000, MAX_REPLAY * 2).is_err());
/// ```
pub const MAX_REPLAY: Duration = Duration::from_secs(60);

/// Opens a live audio channel: the [`AudioFeed`] the app writes the caller's audio to,
/// and the [`LiveAudio`] handle that is the request of a live STT [`FallbackChain`].
///
/// The channel keeps the last `replay` of audio at `bytes_per_second` (8000 for μ-law
/// 8 kHz, 32000 for 16-bit PCM 16 kHz), and no more: at most
/// `bytes_per_second × replay` bytes, whatever the call's length. A provider that opens
/// [`LiveAudio::stream`] first receives that window (the audio sent since the last final
/// transcript, at most `replay` of it), then the live audio as it is fed.
///
/// ```
/// use std::time::Duration;
///
/// // μ-law 8 kHz; a fallback hears up to the last 2 s again.
/// let (feed, audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
/// feed.send(vec![0xFF; 160]);
/// # drop(audio);
/// # Ok::<(), voxscope_core::ConfigError>(())
/// ```
///
/// # Errors
/// [`ConfigError::Zero`] for a zero rate or window, [`ConfigError::Invalid`] for a
/// window above [`MAX_REPLAY`].
pub fn live_audio(
    bytes_per_second: u32,
    replay: Duration,
) -> Result<(AudioFeed, LiveAudio), ConfigError> {
    voxscope_core::validate_nonzero("bytes_per_second", bytes_per_second as usize)?;
    voxscope_core::validate_nonzero("replay", usize::from(!replay.is_zero()))?;
    if replay > MAX_REPLAY {
        return Err(ConfigError::Invalid {
            field: "replay".to_owned(),
            value: format!("{replay:?}"),
            reason: "at most 60 s",
        });
    }
    let capacity = (u128::from(bytes_per_second) * replay.as_nanos() / 1_000_000_000) as usize;
    let ring = Ring {
        chunks: VecDeque::new(),
        held: 0,
        capacity: capacity.max(1),
        written: 0,
        replay_from: 0,
        closed: false,
        speech_end: None,
    };
    let (notify, _) = watch::channel(());
    let shared = Arc::new(Shared { ring: Mutex::new(ring), notify });
    Ok((AudioFeed { shared: Arc::clone(&shared) }, LiveAudio { shared }))
}

struct Shared {
    ring: Mutex<Ring>,
    /// Ticks on every chunk and at the end, to wake the providers' streams.
    notify: watch::Sender<()>,
}

impl Shared {
    fn ring(&self) -> MutexGuard<'_, Ring> {
        // A panic while holding the lock leaves the ring consistent: every update is a
        // handful of field writes with nothing that can panic between them.
        self.ring.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The replay window: chunks by their offset in the call's audio.
struct Ring {
    chunks: VecDeque<(u64, Bytes)>,
    held: usize,
    capacity: usize,
    /// Bytes fed so far.
    written: u64,
    /// Where a provider that opens now starts: the end of the last final transcript.
    replay_from: u64,
    closed: bool,
    speech_end: Option<Instant>,
}

enum Read {
    Chunk(Bytes),
    Wait,
    End,
}

impl Ring {
    fn push(&mut self, bytes: Bytes) {
        if bytes.is_empty() || self.closed {
            return;
        }
        let len = bytes.len();
        self.chunks.push_back((self.written, bytes));
        self.written += len as u64;
        self.held += len;
        while self.held > self.capacity {
            let excess = self.held - self.capacity;
            let Some((start, front)) = self.chunks.front_mut() else { break };
            if front.len() <= excess {
                self.held -= front.len();
                self.chunks.pop_front();
            } else {
                // Copied, not sliced: a slice would keep the whole chunk allocated.
                *front = Bytes::copy_from_slice(&front[excess..]);
                *start += excess as u64;
                self.held -= excess;
            }
        }
    }

    fn oldest(&self) -> u64 {
        self.chunks.front().map_or(self.written, |(start, _)| *start)
    }

    /// The audio at `pos` onwards, as far as the chunk it falls in; moves `pos` past it.
    fn read(&self, pos: &mut u64) -> Read {
        let oldest = self.oldest();
        if *pos < oldest {
            tracing::debug!(
                "live audio: a provider fell {} bytes behind the window",
                oldest - *pos
            );
            *pos = oldest;
        }
        if *pos >= self.written {
            return if self.closed { Read::End } else { Read::Wait };
        }
        let index = self.chunks.partition_point(|(start, b)| start + b.len() as u64 <= *pos);
        let Some((start, bytes)) = self.chunks.get(index) else { return Read::Wait };
        let chunk = bytes.slice((*pos - start) as usize..);
        *pos += chunk.len() as u64;
        Read::Chunk(chunk)
    }
}

/// Where the app writes the caller's audio, from [`live_audio`]. Dropped, it ends the
/// audio, as [`close`](Self::close) does.
///
/// ```
/// # use std::time::Duration;
/// let (feed, _audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
/// feed.send(vec![0x7F; 160]); // 20 ms of speech
/// feed.speech_ended(); // the app's endpointing: STT TTFB runs from here
/// feed.close(); // the call or the utterance is over
/// # Ok::<(), voxscope_core::ConfigError>(())
/// ```
pub struct AudioFeed {
    shared: Arc<Shared>,
}

impl AudioFeed {
    /// Feeds a chunk of audio to the serving provider and the replay window. Send
    /// chunks of at most the window (20 ms frames are usual); ignored after
    /// [`close`](Self::close).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (feed, _audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
    /// for frame in [[0x7F_u8; 160], [0x7E; 160]] {
    ///     feed.send(frame.to_vec());
    /// }
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn send(&self, audio: impl Into<Bytes>) {
        self.shared.ring().push(audio.into());
        self.shared.notify.send_replace(());
    }

    /// The caller stopped speaking (the app's end-of-speech detection): the next final
    /// transcript records STT TTFB from now.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (feed, _audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
    /// feed.send(vec![0x7F; 160]);
    /// feed.speech_ended(); // 200 ms of silence after this frame, say
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn speech_ended(&self) {
        self.shared.ring().speech_end = Some(Instant::now());
    }

    /// Ends the audio: providers' streams end after what was fed.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use futures_util::StreamExt;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), voxscope_core::ConfigError> {
    /// let (feed, audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
    /// feed.send(vec![0x7F; 160]);
    /// feed.close();
    /// assert_eq!(audio.stream().count().await, 1);
    /// # Ok(()) }
    /// ```
    pub fn close(&self) {
        self.shared.ring().closed = true;
        self.shared.notify.send_replace(());
    }
}

impl Drop for AudioFeed {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for AudioFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.shared.ring();
        f.debug_struct("AudioFeed").field("written", &ring.written).finish()
    }
}

/// The request of a live STT [`FallbackChain`], from [`live_audio`]: each provider the
/// chain tries opens its [`stream`](Self::stream) of the audio. Cheap to clone; the
/// audio is not copied.
///
/// ```
/// use std::time::Duration;
/// use futures_util::StreamExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), voxscope_core::ConfigError> {
/// let (feed, audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(1))?;
/// feed.send(vec![1_u8; 4_000]);
/// feed.send(vec![2_u8; 8_000]);
/// feed.close();
/// // A provider opening now hears the last second, then the rest.
/// let heard: Vec<u8> = audio.stream().flat_map(|b| futures_util::stream::iter(b.to_vec())).collect().await;
/// assert_eq!(heard, vec![2_u8; 8_000]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LiveAudio {
    shared: Arc<Shared>,
}

impl LiveAudio {
    /// The audio for one provider: the replay window first (what was fed since the last
    /// final transcript, at most the window), then each chunk as it is fed; ends when the
    /// feed closes. A provider more than the window behind skips the audio it lost.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use futures_util::StreamExt;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), voxscope_core::ConfigError> {
    /// let (feed, audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
    /// feed.send(vec![1; 160]); // before the provider opened: replayed
    /// let mut to_provider = audio.stream();
    /// feed.send(vec![2; 160]); // live
    /// assert_eq!(to_provider.next().await.unwrap()[0], 1);
    /// assert_eq!(to_provider.next().await.unwrap()[0], 2);
    /// # Ok(()) }
    /// ```
    pub fn stream(&self) -> AudioStream {
        let shared = Arc::clone(&self.shared);
        let mut receiver = shared.notify.subscribe();
        receiver.mark_changed();
        let start = {
            let ring = shared.ring();
            ring.oldest().max(ring.replay_from)
        };
        let audio = stream::unfold((shared, start, receiver), |(shared, mut pos, mut rx)| {
            async move {
                loop {
                    // Marked seen before reading: a chunk fed after the read wakes us.
                    rx.borrow_and_update();
                    let read = shared.ring().read(&mut pos);
                    match read {
                        Read::Chunk(chunk) => return Some((chunk, (shared, pos, rx))),
                        Read::End => return None,
                        Read::Wait => rx.changed().await.ok()?,
                    }
                }
            }
        });
        AudioStream { audio: audio.boxed() }
    }

    /// A final transcript covers the audio so far: a provider opened later does not
    /// hear it again. [`LiveTranscripts`] calls it at each final transcript.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use futures_util::StreamExt;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), voxscope_core::ConfigError> {
    /// let (feed, audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
    /// feed.send(vec![1; 160]);
    /// audio.transcribed();
    /// feed.send(vec![2; 160]);
    /// feed.close();
    /// let replayed: Vec<_> = audio.stream().collect().await;
    /// assert_eq!(replayed.concat(), vec![2; 160]);
    /// # Ok(()) }
    /// ```
    pub fn transcribed(&self) {
        let mut ring = self.shared.ring();
        ring.replay_from = ring.written;
    }

    fn take_speech_end(&self) -> Option<Instant> {
        self.shared.ring().speech_end.take()
    }
}

impl fmt::Debug for LiveAudio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.shared.ring();
        f.debug_struct("LiveAudio")
            .field("written", &ring.written)
            .field("window", &ring.held)
            .field("closed", &ring.closed)
            .finish()
    }
}

/// One provider's audio, from [`LiveAudio::stream`]: chunks as they were fed (the
/// oldest replayed one possibly cut at the window's start).
///
/// ```
/// # use std::time::Duration;
/// use futures_util::StreamExt;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), voxscope_core::ConfigError> {
/// let (feed, audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(1))?;
/// let mut to_provider = audio.stream();
/// feed.send(vec![0xFF; 160]);
/// assert_eq!(to_provider.next().await.map(|b| b.len()), Some(160));
/// # Ok(()) }
/// ```
pub struct AudioStream {
    audio: BoxStream<'static, Bytes>,
}

impl Stream for AudioStream {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.audio.poll_next_unpin(cx)
    }
}

impl fmt::Debug for AudioStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioStream").finish_non_exhaustive()
    }
}

impl<T, E> FallbackChain<LiveAudio, T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// Transcribes live audio: each provider the chain tries gets
    /// [`audio.stream()`](LiveAudio::stream), so the fallback hears the replay window
    /// before the live rest. `is_final` tells the final transcript of an utterance
    /// (Deepgram's `is_final`).
    ///
    /// Unlike [`stream`](FallbackChain::stream), a provider that fails after its first
    /// transcript still falls back (counted in `voice_provider_fallbacks_total` with its
    /// reason): the replay makes the switch safe. STT TTFB, for the provider
    /// (`voice_provider_ttfb_seconds`) and the chain
    /// (`voice_provider_chain_ttfb_seconds`), runs from [`AudioFeed::speech_ended`] to
    /// the next final transcript, once per mark; the first interim result records none.
    /// Give its providers no first-byte or total timeout shorter than a call: a caller
    /// may stay silent.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_util::StreamExt;
    /// use voxscope_provider::{FallbackChain, LiveAudio, ProviderKind, ProviderSettings};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A provider that answers one final transcript with the bytes it heard.
    /// let stt = FallbackChain::builder(ProviderKind::Stt)
    ///     .stream_provider(ProviderSettings::new("deepgram"), |audio: LiveAudio| async move {
    ///         let heard = audio.stream().map(|b| b.len()).fold(0, |n, len| async move { n + len }).await;
    ///         Ok::<_, std::io::Error>(futures_util::stream::iter([Ok(format!("{heard} bytes"))]))
    ///     })
    ///     .build()?;
    /// let (feed, audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
    /// let mut transcripts = stt.live(audio, |_: &String| true);
    /// feed.send(vec![0x7F; 8_000]);
    /// feed.speech_ended();
    /// feed.close();
    /// assert_eq!(transcripts.next().await.transpose()?.as_deref(), Some("8000 bytes"));
    /// # Ok(()) }
    /// ```
    pub fn live<F>(&self, audio: LiveAudio, is_final: F) -> LiveTranscripts<T, E, F>
    where
        F: Fn(&T) -> bool,
    {
        let mut transcripts = self.stream(audio.clone());
        transcripts.set_live();
        LiveTranscripts { transcripts, audio, is_final }
    }
}

/// The transcripts of live audio, from [`FallbackChain::live`]: interim and final
/// results of whichever provider serves, as a stream of `Result`.
///
/// ```
/// # use std::time::Duration;
/// # use futures_util::StreamExt;
/// # use voxscope_provider::{FallbackChain, LiveAudio, ProviderKind, ProviderSettings};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let stt = FallbackChain::builder(ProviderKind::Stt)
/// #     .stream_provider(ProviderSettings::new("deepgram"), |_: LiveAudio| async {
/// #         Ok::<_, std::io::Error>(futures_util::stream::iter([Ok("hello".to_owned())]))
/// #     })
/// #     .build()?;
/// let (feed, audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
/// let mut transcripts = stt.live(audio, |_: &String| true);
/// while let Some(transcript) = transcripts.next().await {
///     println!("{} heard {}", transcripts.serving().unwrap_or("?"), transcript?);
/// }
/// # drop(feed);
/// # Ok(()) }
/// ```
pub struct LiveTranscripts<T, E, F> {
    transcripts: FallbackStream<LiveAudio, T, E>,
    audio: LiveAudio,
    is_final: F,
}

impl<T, E, F> LiveTranscripts<T, E, F> {
    /// The provider currently transcribing (or being tried), if any.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use voxscope_provider::{FallbackChain, LiveAudio, ProviderKind, ProviderSettings};
    /// # let stt = FallbackChain::builder(ProviderKind::Stt)
    /// #     .stream_provider(ProviderSettings::new("deepgram"), |_: LiveAudio| async {
    /// #         Ok::<_, std::io::Error>(futures_util::stream::iter([Ok("hello".to_owned())]))
    /// #     })
    /// #     .build()?;
    /// let (_feed, audio) = voxscope_provider::live_audio(8_000, Duration::from_secs(2))?;
    /// let transcripts = stt.live(audio, |_: &String| true);
    /// assert_eq!(transcripts.serving(), None); // until it is polled
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serving(&self) -> Option<&str> {
        self.transcripts.serving()
    }
}

impl<T, E, F> fmt::Debug for LiveTranscripts<T, E, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveTranscripts")
            .field("transcripts", &self.transcripts)
            .field("audio", &self.audio)
            .finish_non_exhaustive()
    }
}

impl<T, E, F> Unpin for LiveTranscripts<T, E, F> {}

impl<T, E, F> Stream for LiveTranscripts<T, E, F>
where
    F: Fn(&T) -> bool,
{
    type Item = Result<T, FallbackError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next = this.transcripts.poll_next_unpin(cx);
        if let Poll::Ready(Some(Ok(transcript))) = &next
            && (this.is_final)(transcript)
        {
            this.audio.transcribed();
            if let Some(mark) = this.audio.take_speech_end() {
                this.transcripts.final_transcript(mark.elapsed());
            }
        }
        next
    }
}
