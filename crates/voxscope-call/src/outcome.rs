//! How a call ended.

/// The `outcome` label of `voice_calls_total` and `voice_call_duration_seconds`.
///
/// The tracked socket sees what the handler reads: a `stop` counts once the handler has
/// read it, and then the call is `completed` whatever happens to the socket after (a
/// close, a reset, an IO error). A caller that hangs up while the service is writing to
/// it may be gone before its `stop` is read; the service's next write then fails while
/// the `stop` is still readable. A handler that ends the call on a failed write should
/// read on until the stream ends, or the call is counted `dropped`.
///
/// ```
/// use voxscope_call::Outcome;
///
/// assert_eq!(Outcome::Completed.label(), "completed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The protocol's stop message; a normal close (1000/1001) from the peer where the
    /// protocol has no stop message; or the service hanging up before the peer left
    /// (`SinkExt::close` on the tracked socket or its split sink, or a close frame it
    /// sends with 1000/1001 or no code).
    Completed,
    /// Ended without the protocol's goodbye: a close without stop, an abnormal close
    /// code, an IO error or reset, a socket that was dropped, a peer gone quiet (the
    /// layer's idle timeout, or its keepalive pings left unanswered).
    Dropped,
    /// Never upgraded: refused by the handler, shed at capacity, or the client left
    /// before the upgrade completed.
    Rejected,
    /// The handler panicked or reported an error with [`Call::fail`](crate::Call::fail).
    Failed,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 4] =
        [Outcome::Completed, Outcome::Dropped, Outcome::Rejected, Outcome::Failed];

    /// The label value.
    pub const fn label(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Dropped => "dropped",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
