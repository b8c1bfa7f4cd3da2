//! An answer over the session's message limit, on streamable HTTP, fails
//! its own request and nothing else.
//!
//! rmcp bounds a JSON answer and an SSE event by the transport config's
//! limits, but an answer past them ends the whole session (a JSON body
//! fails the send; an SSE event ends the stream, which reads as the
//! transport closing). [`Bounded`] wraps the HTTP client and turns either
//! into a JSON-RPC error answering that request, which
//! [`Session::error`](super::Session) reads as
//! [`Error::MessageTooLarge`](crate::Error::MessageTooLarge).

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, RequestId};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::{Error as SseError, Sse};

use super::oversized::too_large;

/// How rmcp words an SSE event over its limit (its error type is private).
const SSE_TOO_LARGE: &str = "SSE event exceeded the maximum size";

/// An HTTP client whose answers over the limit fail their own request
/// (rmcp sends every request through `post_message_with_response_limits`).
#[derive(Clone)]
pub(super) struct Bounded<C>(pub(super) C);

impl<C: StreamableHttpClient + Sync> StreamableHttpClient for Bounded<C> {
    type Error = C::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.0
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let id = match &message {
            ClientJsonRpcMessage::Request(request) => Some(request.id.clone()),
            _ => None,
        };
        let answer = self
            .0
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await;
        let Some(id) = id else { return answer };
        match answer {
            Err(StreamableHttpError::ResponseBodyTooLarge { max_size }) => Ok(
                StreamableHttpPostResponse::Json(too_large(id, max_size), None),
            ),
            Ok(StreamableHttpPostResponse::Sse(stream, session)) => {
                Ok(StreamableHttpPostResponse::Sse(
                    answered(stream, id, limits.max_sse_event_size),
                    session,
                ))
            }
            other => other,
        }
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.0
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.0
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.0
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
    }
}

/// The answer stream of request `id`: an event over `limit` becomes the
/// error answering it, and the stream ends there.
fn answered(
    stream: BoxStream<'static, Result<Sse, SseError>>,
    id: RequestId,
    limit: usize,
) -> BoxStream<'static, Result<Sse, SseError>> {
    stream
        .scan(false, move |over, item| {
            if *over {
                return std::future::ready(None);
            }
            let item = match item {
                Err(SseError::Body(error)) if error.to_string().starts_with(SSE_TOO_LARGE) => {
                    *over = true;
                    let data = serde_json::to_string(&too_large(id.clone(), limit)).ok();
                    Ok(Sse {
                        event: Some("message".to_owned()),
                        data,
                        id: None,
                        retry: None,
                    })
                }
                other => other,
            };
            std::future::ready(Some(item))
        })
        .boxed()
}
