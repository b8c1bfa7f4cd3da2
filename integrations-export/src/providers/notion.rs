//! Notion pages.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{VendorAccess, check, converted, require_destination};
use crate::error::Error;
use crate::markdown::{markdown_to_notion, notion_batches};
use crate::provider::{
    ConnectionCheck, Content, Destination, DestinationPage, ExportContext, ExportResult,
    PlannedRequest, Provider,
};

/// Notion: each export is a new page, under a parent page (destination: the
/// page's id) or in a database (destination: `database:` and its id). The
/// first 100 blocks go with `POST /v1/pages`; the rest are appended in
/// batches of at most 100 with `PATCH /v1/blocks/{page}/children`.
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
}

impl NotionProvider {
    /// A provider whose connections come from `access`.
    pub fn new(access: VendorAccess) -> Self {
        Self { access }
    }

    fn parent(destination: &str) -> Result<Value, Error> {
        require_destination(
            "notion",
            destination,
            "a page id, or `database:` and a database id",
        )?;
        Ok(match destination.strip_prefix("database:") {
            Some(id) => json!({"database_id": id.trim()}),
            None => json!({"page_id": destination.trim()}),
        })
    }

    fn requests(content: &Content, destination: &str) -> Result<(Value, Vec<Vec<Value>>), Error> {
        let parent = Self::parent(destination)?;
        let mut batches = notion_batches(&markdown_to_notion(&content.markdown)).into_iter();
        let title = content.title.as_deref().unwrap_or("Untitled");
        let page = json!({
            "parent": parent,
            "properties": {"title": {"title": [{"type": "text", "text": {"content": title}}]}},
            "children": batches.next().unwrap_or_default(),
        });
        Ok((page, batches.collect()))
    }
}

#[async_trait]
impl Provider for NotionProvider {
    fn id(&self) -> &str {
        "notion"
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
        Ok(Value::Array(markdown_to_notion(&content.markdown)))
    }

    fn plan(
        &self,
        _context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error> {
        let (page, rest) = Self::requests(content, destination)?;
        let base = self.access.base_url();
        let mut plan = vec![PlannedRequest::new(
            "POST",
            format!("{base}/v1/pages"),
            page,
        )];
        plan.extend(rest.into_iter().map(|children| {
            PlannedRequest::new(
                "PATCH",
                format!("{base}/v1/blocks/{{{{id of the page from request 1}}}}/children"),
                json!({"children": children}),
            )
        }));
        Ok(plan)
    }

    async fn export(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<ExportResult, Error> {
        let to = destination.to_owned();
        let (page, rest) = converted("notion", content, move |content| {
            Self::requests(content, &to)
        })
        .await?;
        let notion = self.access.connection(context)?;
        let created: Value = notion.post("/v1/pages").json(&page).send_json().await?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| Error::unexpected("notion", "the new page has no `id`"))?
            .to_owned();
        let path = format!("/v1/blocks/{id}/children");
        for children in &rest {
            notion
                .request(http::Method::PATCH, &path)
                .json(&json!({"children": children}))
                .send()
                .await?;
        }
        let mut result = ExportResult::new("notion")
            .external_id(&id)
            .requests(1 + rest.len());
        if let Some(url) = created["url"].as_str() {
            result = result.external_url(url);
        }
        Ok(result)
    }
}
