//! [`Call::serve`](crate::Call::serve): the handler's future, watched for panics and
//! errors and run inside the call's span.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project::pin_project;

use crate::guard::PollGuard;

/// What a call handler returns: `()`, or a `Result` whose `Err` ends the call `failed`
/// with the error in the end-of-call log line.
///
/// ```
/// use voxscope_call::CallResult;
///
/// assert_eq!(().failure(), None);
/// assert_eq!(Err::<(), _>("provider down").failure(), Some("provider down".to_owned()));
/// ```
pub trait CallResult {
    /// Why the call failed, if it did.
    fn failure(self) -> Option<String>;
}

impl CallResult for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<T, E: Display> CallResult for Result<T, E> {
    fn failure(self) -> Option<String> {
        self.err().map(|error| error.to_string())
    }
}

/// Future returned by [`Call::serve`](crate::Call::serve).
#[pin_project]
#[derive(Debug)]
pub struct CallFuture<F> {
    #[pin]
    pub(crate) inner: F,
    pub(crate) guard: PollGuard,
}

impl<F> Future for CallFuture<F>
where
    F: Future,
    F::Output: CallResult,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let guard = this.guard;
        // The call is borrowed, not cloned, and its span entered in place: a poll costs
        // the span's enter and exit and nothing more.
        let Some(call) = guard.call.as_ref() else {
            return Poll::Ready(());
        };
        let entered = call.span().enter();
        guard.polling = true;
        let output = this.inner.poll(cx);
        guard.polling = false;
        if let Some(reason) = ready!(output).failure() {
            call.fail(reason);
        }
        drop(entered);
        guard.call = None;
        Poll::Ready(())
    }
}
