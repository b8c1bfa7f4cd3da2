//! How a call on a session runs: its timeout and cancellation, the server's
//! exit and oversized answers, and rmcp's errors as this crate's.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rmcp::ServiceError;
use rmcp::model::{ClientRequest, ErrorCode};

use super::{EXIT_REPORT, PING_TIMEOUT, Session};
use crate::client::call::CallOptions;
use crate::error::Error;

/// Counts a call in flight for as long as it lives, so a call whose caller
/// gave up (its future dropped) stops counting at once.
pub(super) struct InFlight<'a>(&'a Session);

impl<'a> InFlight<'a> {
    /// A call that ends within `timeout`.
    pub(super) fn start(session: &'a Session, timeout: std::time::Duration) -> Self {
        session.in_flight.fetch_add(1, Ordering::SeqCst);
        let ends = session.created.elapsed().saturating_add(timeout);
        let ends = u64::try_from(ends.as_nanos()).unwrap_or(u64::MAX);
        session.busy_until.fetch_max(ends, Ordering::Relaxed);
        Self(session)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
        self.0.touch();
    }
}

impl Session {
    pub(super) fn error(&self, operation: &str, error: ServiceError) -> Error {
        #[cfg(feature = "http")]
        if let Some(challenge) = error.auth_challenge() {
            // The token no longer suffices: this session is done.
            self.broken.store(true, Ordering::SeqCst);
            let challenge = challenge.to_owned();
            return if challenge.contains("insufficient_scope") {
                Error::InsufficientScope {
                    server: self.server.clone(),
                    challenge,
                }
            } else {
                Error::Unauthorized {
                    server: self.server.clone(),
                    challenge: Some(challenge),
                }
            };
        }
        if let ServiceError::McpError(error) = &error
            && super::oversized::is_too_large(error)
        {
            return Error::MessageTooLarge {
                server: self.server.clone(),
                operation: operation.to_owned(),
                limit: self.max_message,
            };
        }
        match error {
            ServiceError::McpError(error) if error.code == ErrorCode::INVALID_PARAMS => {
                Error::InvalidArguments {
                    server: self.server.clone(),
                    tool: operation.to_owned(),
                    message: error.message.to_string(),
                }
            }
            ServiceError::McpError(error)
                if error.code == ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY =>
            {
                Error::MissingCapability {
                    server: self.server.clone(),
                    operation: operation.to_owned(),
                    required: error
                        .data
                        .as_ref()
                        .and_then(|data| data.get("requiredCapabilities"))
                        .cloned()
                        .unwrap_or_default(),
                }
            }
            ServiceError::McpError(error) => Error::Server {
                server: self.server.clone(),
                operation: operation.to_owned(),
                code: Some(error.code.0),
                message: error.message.to_string(),
            },
            ServiceError::Timeout { timeout } => Error::Timeout {
                server: self.server.clone(),
                operation: operation.to_owned(),
                after: timeout,
            },
            ServiceError::Cancelled { .. } => Error::Cancelled {
                server: self.server.clone(),
                operation: operation.to_owned(),
            },
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
                // Fatal to the session (rmcp does not always say so itself).
                self.broken.store(true, Ordering::SeqCst);
                Error::SessionClosed {
                    server: self.server.clone(),
                }
            }
            ServiceError::InputRequiredRoundsExceeded { max_rounds } => Error::InputRounds {
                server: self.server.clone(),
                operation: operation.to_owned(),
                rounds: max_rounds,
            },
            other => Error::Server {
                server: self.server.clone(),
                operation: operation.to_owned(),
                code: None,
                message: other.to_string(),
            },
        }
    }

    /// Runs `call` with the options' timeout and cancellation; a call that
    /// is abandoned is cancelled at the server by rmcp. A call whose server
    /// process exits gets its answer if the server wrote one before it
    /// went (within [`EXIT_REPORT`]), else [`Error::SessionClosed`]: rmcp
    /// may have taken the request after its loop stopped, and would leave
    /// it waiting for the whole timeout.
    pub(super) async fn run<T>(
        &self,
        operation: &str,
        options: &CallOptions,
        call: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, Error> {
        let timeout = options.timeout.unwrap_or(self.call_timeout);
        let _in_flight = InFlight::start(self, timeout);
        let cancelled = async {
            match &options.cancel {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let mut exit = self.exit.clone();
        let exited = async move {
            if exit.wait_for(Option::is_some).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        // A message over the limit whose id could not be told, while this
        // is the only call in flight: it was this call's answer, skipped.
        let mut oversized = self.oversized.clone();
        oversized.borrow_and_update();
        let too_large = async {
            loop {
                if oversized.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                if self.in_flight.load(Ordering::SeqCst) == 1 {
                    return;
                }
            }
        };
        let call = tokio::time::timeout(timeout, call);
        tokio::pin!(call);
        let answered = tokio::select! {
            biased;
            result = &mut call => result,
            () = cancelled => return Err(Error::Cancelled { server: self.server.clone(), operation: operation.to_owned() }),
            () = too_large => return Err(Error::MessageTooLarge { server: self.server.clone(), operation: operation.to_owned(), limit: self.max_message }),
            () = exited => match tokio::time::timeout(EXIT_REPORT, &mut call).await {
                Ok(result) => result,
                Err(_) => {
                    self.broken.store(true, Ordering::SeqCst);
                    return Err(Error::SessionClosed { server: self.server.clone() });
                }
            },
        };
        match answered {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.error(operation, error)),
            Err(_) => {
                self.probe_after_timeout();
                Err(Error::Timeout {
                    server: self.server.clone(),
                    operation: operation.to_owned(),
                    after: timeout,
                })
            }
        }
    }

    /// After a call timed out: is the server still answering? A server that
    /// does not answer a ping within 5 s (hung, or a restarted HTTP server
    /// that answers the old session id with 400, which leaves rmcp waiting)
    /// has its session marked dead, so the next `get` replaces it. The probe
    /// runs in a task of the pool's, so the caller gets its timeout at once.
    fn probe_after_timeout(&self) {
        let peer = self.peer.clone();
        let broken = Arc::clone(&self.broken);
        let server = self.server.clone();
        // 2026-07-28 has no `ping`: `server/discover` asks as little.
        let modern = peer
            .peer_info()
            .is_some_and(|info| !info.protocol_version.has_initialize());
        self.tasks.spawn(async move {
            let ping = if modern {
                let discover = rmcp::model::DiscoverRequest::new(Default::default());
                peer.send_request(ClientRequest::DiscoverRequest(discover))
            } else {
                peer.send_request(ClientRequest::PingRequest(Default::default()))
            };
            if !matches!(tokio::time::timeout(PING_TIMEOUT, ping).await, Ok(Ok(_))) {
                tracing::warn!(server = %server, "no answer to a ping after a timeout; the session will be replaced");
                broken.store(true, Ordering::SeqCst);
            }
        });
    }
}
