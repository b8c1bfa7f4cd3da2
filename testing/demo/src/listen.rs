//! The demo server's `subscriptions/listen` streams (2026-07-28 clients),
//! which announce its tool list changes.

use std::sync::{Arc, Mutex};

use rmcp::model::ToolListChangedNotification;
use rmcp::service::{SubscriptionContext, SubscriptionSink};
use tokio_util::sync::CancellationToken;

/// The streams open, and the changes made while one was being opened:
/// rmcp acknowledges a stream before `ServerHandler::listen` sees it, so a
/// change made in between is sent when it arrives.
#[derive(Clone, Default)]
pub(super) struct Listeners(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    sinks: Vec<SubscriptionSink>,
    /// Streams accepted and not yet in `sinks`.
    arriving: usize,
    /// Whether the tools changed while one was arriving.
    missed: bool,
}

impl Listeners {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A stream was accepted; its handler runs soon.
    pub(super) fn arriving(&self) {
        self.state().arriving += 1;
    }

    /// Serves one stream until the client cancels it or leaves
    /// (`client_gone`: its input ended).
    pub(super) async fn serve(
        &self,
        context: SubscriptionContext,
        client_gone: &CancellationToken,
    ) {
        let missed = {
            let mut state = self.state();
            state.sinks.push(context.sink().clone());
            state.arriving = state.arriving.saturating_sub(1);
            let missed = state.missed;
            state.missed &= state.arriving > 0;
            missed
        };
        if missed {
            let _ = context
                .sink()
                .send(ToolListChangedNotification::default().into())
                .await;
        }
        tokio::select! {
            () = context.cancelled() => {}
            () = client_gone.cancelled() => {}
        }
        let id = context.sink().id().clone();
        self.state().sinks.retain(|sink| *sink.id() != id);
    }

    /// Tells every open stream the tool list changed (and one still
    /// arriving, when it arrives).
    pub(super) async fn tools_changed(&self) {
        let sinks = {
            let mut state = self.state();
            state.missed |= state.arriving > 0;
            state.sinks.clone()
        };
        for sink in sinks {
            let _ = sink
                .send(ToolListChangedNotification::default().into())
                .await;
        }
    }
}
