//! Notion pages.

use async_trait::async_trait;
use integrations_core::id::ProviderId;
use serde_json::{Value, json};

use super::{VendorAccess, check, converted, require_destination};
use crate::error::Error;
use crate::markdown::{markdown_to_notion, notion_batches, notion_markdown_chunks};
use crate::provider::{
    ConnectionCheck, Content, Destination, DestinationPage, ExportContext, ExportResult,
    PlannedRequest, Provider,
};

provider_id!("notion");

/// Notion: each export is a new page, under a parent page (destination: the
/// page's id) or in a database (destination: `database:` and its id).
///
/// Where the connection's `Notion-Version` is 2026-03-11 or later (set it
/// with `Vendor::notion().with_header("Notion-Version", "2026-03-11")`),
/// the markdown API writes the page: `POST /v1/pages` with the first part
/// of the document as `markdown`, the rest appended in order with `PATCH
/// /v1/pages/{page}/markdown` (`insert_content`), each part at most 50,000
/// characters and 1000 block elements ([`notion_markdown_chunks`]); Notion
/// renders the markdown. With an older version, or
/// [`NotionApi::Blocks`], the document is converted to blocks here: the
/// first 100 with `POST /v1/pages`, the rest in batches of at most 100
/// with `PATCH /v1/blocks/{page}/children`.
///
/// The page's title is the content's title (`Untitled` without one), set
/// on the `title` property, which every database has. Notion takes no
/// idempotency key: an export resumed after a crash between the page and
/// its last batch creates a second page. Credentials: an integration token
/// ([`Auth::Bearer`](integrations_vendor::Auth::Bearer) or OAuth 2) with the
/// parent shared to the integration.
#[derive(Debug, Clone)]
pub struct NotionProvider {
    access: VendorAccess,
    api: NotionApi,
}

/// Which of Notion's APIs writes a page's content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotionApi {
    /// The markdown API where the connection's `Notion-Version` is
    /// 2026-03-11 or later, the block API before.
    #[default]
    Auto,
    /// The block API whatever the version: the page's blocks as converted
    /// here ([`markdown_to_notion`]).
    Blocks,
}

/// The first API version with the markdown API.
const MARKDOWN_VERSION: &str = "2026-03-11";

/// The requests of one export: the new page, then what is appended to it.
struct Requests {
    page: Value,
    appends: Vec<Value>,
    /// Whether they speak the markdown API.
    markdown: bool,
}

impl Requests {
    /// Where the appends go, for page `id`.
    fn append_path(&self, id: &str) -> String {
        if self.markdown {
            format!("/v1/pages/{id}/markdown")
        } else {
            format!("/v1/blocks/{id}/children")
        }
    }
}

impl NotionProvider {
    /// A provider whose connections come from `access`, writing pages with
    /// the API their `Notion-Version` allows ([`NotionApi::Auto`]).
    pub fn new(access: VendorAccess) -> Self {
        Self {
            access,
            api: NotionApi::Auto,
        }
    }

    /// Chooses the API that writes pages.
    #[must_use]
    pub fn api(mut self, api: NotionApi) -> Self {
        self.api = api;
        self
    }

    /// Whether pages are written with the markdown API.
    fn speaks_markdown(&self) -> bool {
        self.api == NotionApi::Auto
            && self
                .access
                .client()
                .vendor()
                .header("Notion-Version")
                .is_some_and(|version| version >= MARKDOWN_VERSION)
    }

    fn parent(destination: &str) -> Result<Value, Error> {
        require_destination(
            provider_id(),
            destination,
            "a page id, or `database:` and a database id",
        )?;
        Ok(match destination.strip_prefix("database:") {
            Some(id) => json!({"database_id": id.trim()}),
            None => json!({"page_id": destination.trim()}),
        })
    }

    fn requests(content: &Content, destination: &str, markdown: bool) -> Result<Requests, Error> {
        let parent = Self::parent(destination)?;
        let title = content.title.as_deref().unwrap_or("Untitled");
        let mut page = json!({
            "parent": parent,
            "properties": {"title": {"title": [{"type": "text", "text": {"content": title}}]}},
        });
        let appends = if markdown {
            let mut chunks = notion_markdown_chunks(&content.markdown).into_iter();
            page["markdown"] = json!(chunks.next().unwrap_or_default());
            chunks
                .map(
                    |chunk| json!({"type": "insert_content", "insert_content": {"content": chunk}}),
                )
                .collect()
        } else {
            let blocks = markdown_to_notion(&content.markdown);
            let mut batches = notion_batches(&blocks).into_iter();
            page["children"] = json!(batches.next().unwrap_or_default());
            batches
                .map(|children| json!({"children": children}))
                .collect()
        };
        Ok(Requests {
            page,
            appends,
            markdown,
        })
    }
}

#[async_trait]
impl Provider for NotionProvider {
    fn id(&self) -> &ProviderId {
        provider_id()
    }

    async fn list_destinations(
        &self,
        context: &ExportContext,
        cursor: Option<&str>,
    ) -> Result<DestinationPage, Error> {
        let notion = self.access.connection(context)?;
        let mut query = json!({"page_size": 100});
        if let Some(cursor) = cursor {
            query["start_cursor"] = json!(cursor);
        }
        let page: Value = notion.post("/v1/search").json(&query).send_json().await?;
        let destinations = page["results"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|result| {
                let id = result["id"].as_str()?;
                let kind = result["object"].as_str().unwrap_or("page");
                let title = result["title"]
                    .as_array()
                    .or_else(|| {
                        result["properties"]
                            .as_object()?
                            .values()
                            .find(|property| property["type"] == "title")?["title"]
                            .as_array()
                    })
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|item| item["plain_text"].as_str())
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                let id = if kind == "database" {
                    format!("database:{id}")
                } else {
                    id.to_owned()
                };
                Some(Destination::new(id, title, kind))
            })
            .collect();
        let next = page["has_more"]
            .as_bool()
            .unwrap_or(false)
            .then(|| page["next_cursor"].as_str().map(str::to_owned))
            .flatten();
        Ok(DestinationPage::new(destinations, next))
    }

    async fn validate_connection(&self, context: &ExportContext) -> Result<ConnectionCheck, Error> {
        check(&self.access.connection(context)?).await
    }

    fn format_content(&self, content: &Content) -> Result<Value, Error> {
        Ok(json!(markdown_to_notion(&content.markdown)))
    }

    fn plan(
        &self,
        _context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error> {
        let requests = Self::requests(content, destination, self.speaks_markdown())?;
        let base = self.access.base_url();
        let append = format!(
            "{base}{}",
            requests.append_path("{{id of the page from request 1}}")
        );
        let mut plan = vec![PlannedRequest::new(
            "POST",
            format!("{base}/v1/pages"),
            requests.page,
        )];
        plan.extend(
            requests
                .appends
                .into_iter()
                .map(|body| PlannedRequest::new("PATCH", append.clone(), body)),
        );
        Ok(plan)
    }

    async fn export(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<ExportResult, Error> {
        let (to, markdown) = (destination.to_owned(), self.speaks_markdown());
        let requests = converted(provider_id(), content, move |content| {
            Self::requests(content, &to, markdown)
        })
        .await?;
        let notion = self.access.connection(context)?;
        let created: Value = notion
            .post("/v1/pages")
            .json(&requests.page)
            .send_json()
            .await?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| Error::unexpected(provider_id(), "the new page has no `id`"))?
            .to_owned();
        let path = requests.append_path(&id);
        for body in &requests.appends {
            notion
                .request(http::Method::PATCH, &path)
                .json(body)
                .send()
                .await?;
        }
        let mut result = ExportResult::new(provider_id().clone())
            .external_id(&id)
            .requests(1 + requests.appends.len());
        if let Some(url) = created["url"].as_str() {
            result = result.external_url(url);
        }
        Ok(result)
    }
}
