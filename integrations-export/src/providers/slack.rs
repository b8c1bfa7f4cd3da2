//! Slack over the Web API.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use integrations_core::id::ProviderId;
use integrations_vendor::VendorConnection;
use serde_json::{Value, json};

use super::{VendorAccess, check, converted, require_destination, slack_channels, slack_messages};
use crate::error::Error;
use crate::markdown::{SlackFormat, SlackMessage, SlackOptions};
use crate::provider::{
    ConnectionCheck, Content, DestinationPage, ExportContext, ExportResult, PlannedRequest,
    Provider,
};

/// The `event_type` of the message metadata that marks our messages.
const EVENT_TYPE: &str = "integrations_export";
/// Pages of history read when looking for an export sent before a crash.
const HISTORY_PAGES: usize = 20;

provider_id!("slack");

/// Slack over the Web API: `chat.postMessage`, one message per 50 blocks,
/// the second and later messages as replies in the first one's thread, and
/// the first message's permalink as the external URL. The blocks are
/// mrkdwn sections by default, or Slack's own `markdown` and `table`
/// blocks ([`format`](Self::format)).
///
/// Every message carries Slack message metadata (`event_type`
/// `integrations_export`, the idempotency key and its part number), so an
/// export resumed after a crash reads the channel's history and sends only
/// the parts Slack does not have. Destinations are channel ids (`C024BE91L`)
/// from `conversations.list`. Credentials: a bot token
/// ([`Auth::Bearer`](integrations_vendor::Auth::Bearer) or OAuth 2) with
/// `chat:write`, `channels:read` and `channels:history`.
#[derive(Debug, Clone)]
pub struct SlackProvider {
    access: VendorAccess,
    /// The format and whether broadcasts notify; Slack's own limits.
    options: SlackOptions,
}

impl SlackProvider {
    /// A provider whose connections come from `access`, posting mrkdwn
    /// sections.
    pub fn new(access: VendorAccess) -> Self {
        Self {
            access,
            options: SlackOptions::default(),
        }
    }

    /// Posts documents in `format`: [`SlackFormat::Markdown`] lets Slack
    /// render the markdown (and shows tables as tables) where the workspace's
    /// clients are current.
    #[must_use]
    pub fn format(mut self, format: SlackFormat) -> Self {
        self.options.format = format;
        self
    }

    /// Whether `<!here>`, `<!channel>` and `<!everyone>` in a document
    /// notify the channel. Off by default: an exported document is often a
    /// model's or a third party's text, and they are posted as text.
    #[must_use]
    pub fn broadcasts(mut self, allowed: bool) -> Self {
        self.options.broadcasts = allowed;
        self
    }

    fn post_body(
        message: &SlackMessage,
        channel: &str,
        key: Option<&str>,
        part: usize,
        parts: usize,
    ) -> Value {
        let mut body = message.to_post(channel);
        body["metadata"] = json!({
            "event_type": EVENT_TYPE,
            "event_payload": {"key": key.unwrap_or_default(), "part": part, "parts": parts},
        });
        body
    }

    /// The export's result, with the permalink of the message `ts` when
    /// Slack gives it: the messages are out, so a failing lookup must not
    /// make the export fail (and be sent again).
    async fn permalink(slack: &VendorConnection, channel: &str, ts: &str) -> ExportResult {
        let result = ExportResult::new(provider_id().clone()).external_id(ts);
        let permalink: Result<Value, _> = slack
            .get("/chat.getPermalink")
            .query("channel", channel)
            .query("message_ts", ts)
            .send_json()
            .await;
        match permalink {
            Ok(answer) => match answer["permalink"].as_str() {
                Some(url) => result.external_url(url),
                None => result,
            },
            Err(error) => {
                tracing::warn!(%error, "slack: no permalink for an exported message");
                result
            }
        }
    }

    /// Looks for the parts of export `key` that Slack already has, in
    /// messages posted since `since`: the thread's `ts` and the parts found.
    async fn find_sent(
        slack: &VendorConnection,
        channel: &str,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<(String, Vec<usize>)>, Error> {
        let oldest = format!("{}.000000", since.timestamp() - 1);
        let mut cursor = String::new();
        for _ in 0..HISTORY_PAGES {
            let mut request = slack
                .get("/conversations.history")
                .query("channel", channel)
                .query("oldest", &oldest)
                .query("limit", 200)
                .query("include_all_metadata", true);
            if !cursor.is_empty() {
                request = request.query("cursor", &cursor);
            }
            let page: Value = request.send_json().await?;
            let messages = page["messages"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if let Some(first) = messages.iter().find(|m| part_of(m, key) == Some(0)) {
                let Some(ts) = first["ts"].as_str() else {
                    break;
                };
                let mut parts = vec![0];
                let replies: Value = slack
                    .get("/conversations.replies")
                    .query("channel", channel)
                    .query("ts", ts)
                    .query("limit", 1000)
                    .query("include_all_metadata", true)
                    .send_json()
                    .await?;
                for reply in replies["messages"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    parts.extend(part_of(reply, key).filter(|&part| part > 0));
                }
                return Ok(Some((ts.to_owned(), parts)));
            }
            cursor = page["response_metadata"]["next_cursor"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if cursor.is_empty() {
                break;
            }
        }
        Ok(None)
    }
}

/// In a dry run, the `ts` and channel of the first message, known once it
/// is posted.
const FIRST_TS: &str = "{{ts of request 1}}";
const FIRST_CHANNEL: &str = "{{channel of request 1}}";

/// One request of an export: [`Provider::plan`] lists them, and
/// [`Provider::export`] sends them, so the dry run is the code that sends.
enum Step {
    /// A message; the second and later ones reply in the first one's
    /// thread.
    Post { part: usize, body: Value },
    /// The first message's permalink, for the export's URL.
    Permalink,
}

/// The requests that export `content` to `destination`.
fn steps(
    context: &ExportContext,
    content: &Content,
    destination: &str,
    options: SlackOptions,
) -> Result<Vec<Step>, Error> {
    require_destination(provider_id(), destination, "a channel id such as C024BE91L")?;
    let messages = slack_messages(provider_id(), content, options)?;
    let key = context.idempotency_key.as_deref();
    let mut steps: Vec<Step> = messages
        .iter()
        .enumerate()
        .map(|(part, message)| Step::Post {
            part,
            body: SlackProvider::post_body(message, destination, key, part, messages.len()),
        })
        .collect();
    steps.push(Step::Permalink);
    Ok(steps)
}

/// The part number of export `key` that `message` carries, if it is ours.
fn part_of(message: &Value, key: &str) -> Option<usize> {
    let metadata = &message["metadata"];
    (metadata["event_type"] == EVENT_TYPE && metadata["event_payload"]["key"] == key)
        .then(|| metadata["event_payload"]["part"].as_u64())
        .flatten()
        .and_then(|part| usize::try_from(part).ok())
}

#[async_trait]
impl Provider for SlackProvider {
    fn id(&self) -> &ProviderId {
        provider_id()
    }

    async fn list_destinations(
        &self,
        context: &ExportContext,
        cursor: Option<&str>,
    ) -> Result<DestinationPage, Error> {
        let slack = self.access.connection(context)?;
        let mut request = slack
            .get("/conversations.list")
            .query("limit", 200)
            .query("exclude_archived", true)
            .query("types", "public_channel,private_channel");
        if let Some(cursor) = cursor {
            request = request.query("cursor", cursor);
        }
        let page: Value = request.send_json().await?;
        Ok(slack_channels(&page))
    }

    async fn validate_connection(&self, context: &ExportContext) -> Result<ConnectionCheck, Error> {
        check(&self.access.connection(context)?).await
    }

    fn format_content(&self, content: &Content) -> Result<Value, Error> {
        Ok(json!(slack_messages(provider_id(), content, self.options)?))
    }

    fn plan(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error> {
        let base = self.access.base_url();
        Ok(steps(context, content, destination, self.options)?
            .into_iter()
            .map(|step| match step {
                Step::Post { part, mut body } => {
                    if part > 0 {
                        body["thread_ts"] = json!(FIRST_TS);
                    }
                    PlannedRequest::new("POST", format!("{base}/chat.postMessage"), body)
                }
                Step::Permalink => PlannedRequest::new(
                    "GET",
                    format!(
                        "{base}/chat.getPermalink?channel={FIRST_CHANNEL}&message_ts={FIRST_TS}"
                    ),
                    Value::Null,
                ),
            })
            .collect())
    }

    async fn export(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<ExportResult, Error> {
        let (owned, to, options) = (context.clone(), destination.to_owned(), self.options);
        let steps = converted(provider_id(), content, move |content| {
            steps(&owned, content, &to, options)
        })
        .await?;
        let slack = self.access.connection(context)?;
        let (mut thread, mut sent) = (None, Vec::new());
        if let (Some(since), Some(key)) = (context.resumed_since, &context.idempotency_key)
            && let Some((ts, parts)) = Self::find_sent(&slack, destination, key, since).await?
        {
            thread = Some(ts);
            sent = parts;
        }
        let mut channel = destination.to_owned();
        let (mut requests, mut result) = (0, None);
        for step in steps {
            match step {
                Step::Post { part, .. } if sent.contains(&part) => {}
                Step::Post { mut body, .. } => {
                    if let Some(thread) = &thread {
                        body["thread_ts"] = json!(thread);
                        body["channel"] = json!(channel);
                    }
                    let posted: Value = slack
                        .post("/chat.postMessage")
                        .json(&body)
                        .send_json()
                        .await?;
                    requests += 1;
                    if thread.is_none() {
                        let ts = posted["ts"].as_str().ok_or_else(|| {
                            Error::unexpected(
                                provider_id(),
                                "chat.postMessage answered without a `ts`",
                            )
                        })?;
                        thread = Some(ts.to_owned());
                        if let Some(id) = posted["channel"].as_str() {
                            channel = id.to_owned();
                        }
                    }
                }
                Step::Permalink => {
                    let ts = thread.clone().unwrap_or_default();
                    result = Some(Self::permalink(&slack, &channel, &ts).await);
                }
            }
        }
        Ok(result
            .unwrap_or_else(|| ExportResult::new(provider_id().clone()))
            .requests(requests))
    }
}
