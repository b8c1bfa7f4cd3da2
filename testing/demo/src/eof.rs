//! Telling the server's handlers that its client left: rmcp, once a
//! stream's input ends, waits up to 5 s for the handlers in flight (a
//! 2026-07-28 session's `subscriptions/listen` among them) before it
//! cancels them; the demo ends them at once.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

/// A reader that cancels `eof` when its input ends.
pub(crate) struct EofSignal<S> {
    pub(crate) inner: S,
    pub(crate) eof: CancellationToken,
}

impl<S: AsyncRead + Unpin> AsyncRead for EofSignal<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() == before {
            self.eof.cancel();
        }
        polled
    }
}
