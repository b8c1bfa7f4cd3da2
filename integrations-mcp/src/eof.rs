//! Telling a server's handlers that its client left.
//!
//! rmcp, once a stream's input ends, waits up to 5 s for the handlers in
//! flight before it cancels them; a 2026-07-28 session always has one, its
//! `subscriptions/listen`, which only ends when cancelled. A server that
//! ends those handlers when the input ends stops at once instead.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::CancellationToken;

/// A stream that cancels `eof` when its input ends.
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

impl<S: AsyncWrite + Unpin> AsyncWrite for EofSignal<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
