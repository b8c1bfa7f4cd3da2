//! Multi-round-trip requests (MRTR, MCP 2026-07-28): a server that needs
//! the user or the host's model mid-call answers `tools/call` or
//! `resources/read` with an `InputRequiredResult`; the session answers its
//! `inputRequests` through the host's hooks and sends the request again (a
//! new id) with the answers and the server's `requestState` echoed as it
//! came, until a result arrives or [`MAX_ROUNDS`] have passed.

use std::time::Duration;

use rmcp::ServiceError;
use rmcp::model::{InputRequiredResult, InputResponses};

use super::Session;

/// Rounds of one request before it fails with
/// [`Error::InputRounds`](crate::Error::InputRounds) (rmcp's default).
pub(super) const MAX_ROUNDS: usize = rmcp::model::DEFAULT_MRTR_MAX_ROUNDS;

/// The answers and state a retry carries.
pub(super) type Retry = (Option<InputResponses>, Option<String>);

impl Session {
    /// What the next round of a request sends, given the server's
    /// `InputRequiredResult`; `waits` counts the rounds in a row that
    /// asked nothing (the server only keeps state: each waits a little
    /// longer, up to 250 ms).
    pub(super) async fn next_round(
        &self,
        asked: InputRequiredResult,
        waits: &mut u32,
    ) -> Result<Retry, ServiceError> {
        let requests = asked.input_requests.unwrap_or_default();
        if requests.is_empty() {
            if asked.request_state.is_none() {
                // Nothing to answer and nothing to echo: no retry can differ.
                return Err(ServiceError::UnexpectedResponse);
            }
            let pause =
                Duration::from_millis(50 << (*waits).min(3)).min(Duration::from_millis(250));
            *waits += 1;
            tokio::time::sleep(pause).await;
            return Ok((None, asked.request_state));
        }
        *waits = 0;
        let answers = self
            .client
            .answer(requests)
            .await
            .map_err(ServiceError::McpError)?;
        Ok((Some(answers), asked.request_state))
    }
}
