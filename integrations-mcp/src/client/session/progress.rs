//! A call's progress reports, routed to it in the order they arrive, and
//! the cancellation of a call given up on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::{Peer, RoleClient};
use tokio_util::task::TaskTracker;

/// Where each call's progress reports go, by the progress token rmcp sent
/// the call with; an entry leaves when its receiver is dropped. Reports
/// that arrive before their call is routed (the server was quick) wait in
/// `early`.
#[derive(Default)]
pub(crate) struct ProgressRoutes {
    routes: Mutex<HashMap<String, Route>>,
}

#[derive(Default)]
struct Route {
    sender: Option<tokio::sync::mpsc::UnboundedSender<crate::client::Progress>>,
    /// The last progress delivered.
    last: Option<f64>,
    /// Reports received before the route was made.
    early: Vec<crate::client::Progress>,
}

/// Routes kept for reports that arrived first; beyond this they are
/// dropped (a server reporting progress nobody asked for).
const EARLY_ROUTES: usize = 64;
/// Reports kept per route before its call takes them: the latest ones.
const EARLY_REPORTS: usize = 16;
/// Characters of a progress message kept.
const MESSAGE_CHARS: usize = 1024;

fn token_key(token: &rmcp::model::ProgressToken) -> String {
    serde_json::to_string(token).unwrap_or_default()
}

impl Route {
    /// Sends `report` unless an equal or later one went already: progress
    /// only increases, so a report overtaken by a later one is stale.
    fn send(&mut self, report: crate::client::Progress) -> bool {
        let Some(sender) = &self.sender else {
            if self.early.len() == EARLY_REPORTS {
                self.early.remove(0);
            }
            self.early.push(report);
            return true;
        };
        if self.last.is_some_and(|last| report.progress <= last) {
            return true;
        }
        self.last = Some(report.progress);
        sender.send(report).is_ok()
    }
}

impl ProgressRoutes {
    /// Sends the reports of the call sent with `token` to `sender`.
    pub(super) fn route(
        &self,
        token: &rmcp::model::ProgressToken,
        sender: tokio::sync::mpsc::UnboundedSender<crate::client::Progress>,
    ) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes.retain(|_, route| route.sender.as_ref().is_none_or(|s| !s.is_closed()));
        let route = routes.entry(token_key(token)).or_default();
        route.sender = Some(sender);
        for report in std::mem::take(&mut route.early) {
            route.send(report);
        }
    }

    pub(super) fn deliver(&self, params: &rmcp::model::ProgressNotificationParam) {
        let key = token_key(&params.progress_token);
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if !routes.contains_key(&key) && routes.len() >= EARLY_ROUTES {
            return;
        }
        let route = routes.entry(key.clone()).or_default();
        let report = crate::client::Progress {
            progress: params.progress,
            total: params.total,
            message: params
                .message
                .as_ref()
                .map(|message| message.chars().take(MESSAGE_CHARS).collect()),
        };
        if !route.send(report) {
            routes.remove(&key);
        }
    }
}

/// Where a session's transport hands the notifications that must keep
/// their order: progress to its call, log messages to the hooks' queue.
/// Only the transport holds the queue, so the task that empties it ends
/// with the session's transport.
pub(super) struct Arrivals {
    pub(super) progress: Arc<ProgressRoutes>,
    logs: Option<super::logs::LogQueue>,
}

impl Arrivals {
    /// The arrivals of a session answered through `hooks`, whose
    /// background tasks `tasks` owns.
    pub(super) fn new(
        hooks: Option<&(
            Arc<dyn crate::client::ClientHooks>,
            crate::client::HookContext,
        )>,
        tasks: &TaskTracker,
    ) -> Self {
        let logs = hooks.map(|(hooks, context)| {
            super::logs::LogQueue::start(Arc::clone(hooks), context.clone(), tasks)
        });
        Self {
            progress: Arc::default(),
            logs,
        }
    }
}

/// A client transport that hands progress and log notifications on as
/// they arrive, in order: rmcp runs each notification's handler in a task
/// of its own, which can reorder them.
pub(super) struct Ordered<T> {
    inner: T,
    arrivals: Arrivals,
}

pub(super) fn ordered<E, A>(
    transport: impl rmcp::transport::IntoTransport<RoleClient, E, A>,
    arrivals: Arrivals,
) -> Ordered<impl rmcp::transport::Transport<RoleClient, Error = E>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    Ordered {
        inner: transport.into_transport(),
        arrivals,
    }
}

impl<T: rmcp::transport::Transport<RoleClient>> rmcp::transport::Transport<RoleClient>
    for Ordered<T>
{
    type Error = T::Error;

    fn name() -> std::borrow::Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: rmcp::service::TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<rmcp::service::RxJsonRpcMessage<RoleClient>> {
        use rmcp::model::ServerNotification;
        let message = self.inner.receive().await?;
        if let rmcp::model::JsonRpcMessage::Notification(notification) = &message {
            match &notification.notification {
                ServerNotification::ProgressNotification(progress) => {
                    self.arrivals.progress.deliver(&progress.params);
                }
                ServerNotification::LoggingMessageNotification(log) => {
                    if let Some(logs) = &self.arrivals.logs {
                        logs.push(&log.params);
                    }
                }
                _ => {}
            }
        }
        Some(message)
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// Cancels a request at the server when dropped before `disarm`.
pub(super) struct Abandoned {
    pub(super) peer: Peer<RoleClient>,
    pub(super) id: Option<rmcp::model::RequestId>,
    pub(super) tasks: TaskTracker,
}

impl Abandoned {
    pub(super) fn disarm(mut self) {
        self.id = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let peer = self.peer.clone();
        self.tasks.spawn(async move {
            let param = serde_json::json!({"requestId": id, "reason": "the caller gave up"});
            if let Ok(param) = serde_json::from_value(param) {
                let _ = peer.notify_cancelled(param).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_for_a_token_no_call_holds_are_bounded() {
        // Security review, finding 8: they were kept, all of them.
        let routes = ProgressRoutes::default();
        for n in 0..10_000 {
            let token = rmcp::model::ProgressToken(rmcp::model::NumberOrString::Number(7));
            let mut report = rmcp::model::ProgressNotificationParam::new(token, f64::from(n));
            report.message = Some("m".repeat(100_000));
            routes.deliver(&report);
        }
        let routes = routes.routes.lock().unwrap();
        let early = &routes.values().next().unwrap().early;
        assert_eq!(early.len(), EARLY_REPORTS);
        assert_eq!(
            early.last().unwrap().progress,
            9999.0,
            "the latest are kept"
        );
        assert!(
            early
                .iter()
                .all(|r| r.message.as_ref().unwrap().len() <= MESSAGE_CHARS)
        );
    }
}
