//! A fake Notion API: pages, appended blocks and search, checked against
//! Notion's documented request limits, answering as Notion does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{FakeServer, Recorded, Reply, lock};

/// A page the fake holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NotionPage {
    /// Its id.
    pub id: String,
    /// Its parent: `{"page_id": ..}` or `{"database_id": ..}`.
    pub parent: Value,
    /// Its title.
    pub title: String,
    /// Its top-level blocks, in order (pages made with the block API).
    pub blocks: Vec<Value>,
    /// Its content as markdown (pages made or appended to with the
    /// markdown API).
    pub markdown: String,
}

#[derive(Debug, Default)]
struct State {
    token: String,
    pages: Vec<NotionPage>,
    databases: Vec<(String, String)>,
    violations: Vec<String>,
    rate_limits: VecDeque<u64>,
    requests: usize,
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"object": "error", "status": status, "code": code, "message": message}),
    )
}

/// The longest text of a rich text array.
fn longest_rich_text(block: &Value) -> usize {
    let kind = block["type"].as_str().unwrap_or_default();
    let body = &block[kind];
    let mut longest = 0;
    for field in ["rich_text", "caption"] {
        for item in body[field]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            longest = longest.max(
                item["text"]["content"]
                    .as_str()
                    .map_or(0, |t| t.chars().count()),
            );
        }
    }
    for cell in body["cells"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        for item in cell.as_array().map(Vec::as_slice).unwrap_or_default() {
            longest = longest.max(
                item["text"]["content"]
                    .as_str()
                    .map_or(0, |t| t.chars().count()),
            );
        }
    }
    for child in body["children"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        longest = longest.max(longest_rich_text(child));
    }
    longest
}

/// The first API version with the markdown API.
const MARKDOWN_VERSION: &str = "2026-03-11";
/// A request's payload at most (Notion: 500 KB).
const MAX_PAYLOAD: usize = 500_000;
/// Block elements in one request at most (Notion: 1000).
const MAX_ELEMENTS: usize = 1000;

/// How many block elements Notion makes of `markdown`.
fn elements(markdown: &str) -> usize {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS)
        .filter(|event| {
            matches!(
                event,
                Event::Start(
                    Tag::Paragraph
                        | Tag::Heading { .. }
                        | Tag::BlockQuote(_)
                        | Tag::CodeBlock(_)
                        | Tag::HtmlBlock
                        | Tag::Item
                        | Tag::TableHead
                        | Tag::TableRow
                ) | Event::Rule
            )
        })
        .count()
}

/// How deep `children` nest under `block` (0 without children).
fn depth(block: &Value) -> usize {
    let kind = block["type"].as_str().unwrap_or_default();
    block[kind]["children"].as_array().map_or(0, |children| {
        1 + children.iter().map(depth).max().unwrap_or(0)
    })
}

/// `GET /v1/pages/{id}/markdown`'s answer.
fn page_markdown(page: &NotionPage) -> Value {
    json!({
        "object": "page_markdown", "id": page.id, "markdown": page.markdown,
        "truncated": false, "unknown_block_ids": [],
    })
}

impl State {
    fn check(&mut self, children: &[Value]) -> Option<Reply> {
        let problem = if children.len() > 100 {
            Some(format!(
                "body.children.length should be ≤ `100`, instead was `{}`.",
                children.len()
            ))
        } else if let Some(long) = children.iter().map(longest_rich_text).find(|&n| n > 2000) {
            Some(format!(
                "body.children[].rich_text[].text.content.length should be ≤ `2000`, instead was `{long}`."
            ))
        } else if let Some(deep) = children.iter().map(depth).find(|&d| d > 2) {
            Some(format!(
                "body.children nests {} levels; at most 2 in one request.",
                deep + 1
            ))
        } else {
            children
                .iter()
                .flat_map(|block| {
                    let kind = block["type"].as_str().unwrap_or_default();
                    block[kind]["children"].as_array().map(Vec::len).into_iter()
                })
                .find(|&n| n > 100)
                .map(|n| format!("a block's children.length should be ≤ `100`, instead was `{n}`."))
        };
        let problem = problem?;
        self.violations.push(problem.clone());
        Some(error(
            400,
            "validation_error",
            &format!("body failed validation: {problem}"),
        ))
    }

    /// Refuses markdown Notion refuses: before API version 2026-03-11, over
    /// 1000 block elements, or in a payload over 500 KB.
    fn check_markdown(&mut self, version: &str, markdown: &str, payload: usize) -> Option<Reply> {
        let problem = if version < MARKDOWN_VERSION {
            format!(
                "markdown content needs Notion-Version {MARKDOWN_VERSION} or later, instead was `{version}`."
            )
        } else if payload > MAX_PAYLOAD {
            format!("the request body is {payload} bytes, more than {MAX_PAYLOAD}.")
        } else {
            let count = elements(markdown);
            if count <= MAX_ELEMENTS {
                return None;
            }
            format!("the markdown makes {count} block elements, more than {MAX_ELEMENTS}.")
        };
        self.violations.push(problem.clone());
        Some(error(
            400,
            "validation_error",
            &format!("body failed validation: {problem}"),
        ))
    }

    /// `PATCH /v1/pages/{id}/markdown`: `insert_content` (at the end) or
    /// `replace_content`.
    fn update_markdown(
        &mut self,
        path: &str,
        version: &str,
        body: &Value,
        payload: usize,
    ) -> Reply {
        let id = path
            .trim_start_matches("/v1/pages/")
            .trim_end_matches("/markdown")
            .to_owned();
        let (text, replace) = match body["type"].as_str() {
            Some("insert_content") => (&body["insert_content"]["content"], false),
            Some("replace_content") => (&body["replace_content"]["new_str"], true),
            other => {
                return error(
                    400,
                    "validation_error",
                    &format!(
                        "body failed validation: body.type should be `insert_content`, `replace_content` or `update_content`, instead was `{}`.",
                        other.unwrap_or("undefined")
                    ),
                );
            }
        };
        let Some(text) = text.as_str() else {
            return error(
                400,
                "validation_error",
                "body failed validation: the content should be a string.",
            );
        };
        if let Some(refused) = self.check_markdown(version, text, payload) {
            return refused;
        }
        let Some(page) = self.pages.iter_mut().find(|page| page.id == id) else {
            return error(
                404,
                "object_not_found",
                &format!("Could not find page with ID: {id}."),
            );
        };
        if replace {
            page.markdown = text.to_owned();
        } else {
            if !page.markdown.is_empty() {
                page.markdown.push_str("\n\n");
            }
            page.markdown.push_str(text);
        }
        Reply::json(200, page_markdown(page))
    }

    fn create(&mut self, body: &Value, version: &str, payload: usize) -> Reply {
        let parent = &body["parent"];
        let known = if let Some(id) = parent["page_id"].as_str() {
            self.pages.iter().any(|page| page.id == id)
        } else if let Some(id) = parent["database_id"].as_str() {
            self.databases.iter().any(|(database, _)| database == id)
        } else {
            return error(
                400,
                "validation_error",
                "body failed validation: body.parent should be defined.",
            );
        };
        if !known {
            return error(
                404,
                "object_not_found",
                "Could not find the parent. Make sure it is shared with your integration.",
            );
        }
        let title: String = body["properties"]["title"]["title"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item["text"]["content"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let children = body["children"].as_array().cloned().unwrap_or_default();
        let markdown = match &body["markdown"] {
            Value::Null => String::new(),
            Value::String(markdown) if body["children"].is_null() => markdown.clone(),
            Value::String(_) => {
                return error(
                    400,
                    "validation_error",
                    "body failed validation: body.markdown and body.children are mutually exclusive.",
                );
            }
            _ => {
                return error(
                    400,
                    "validation_error",
                    "body failed validation: body.markdown should be a string.",
                );
            }
        };
        if !markdown.is_empty()
            && let Some(refused) = self.check_markdown(version, &markdown, payload)
        {
            return refused;
        }
        if let Some(refused) = self.check(&children) {
            return refused;
        }
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            self.pages.len() + 1,
            self.requests
        );
        self.pages.push(NotionPage {
            id: id.clone(),
            parent: parent.clone(),
            title,
            blocks: children,
            markdown,
        });
        Reply::json(
            200,
            json!({"object": "page", "id": id, "url": format!("https://www.notion.so/{}", id.replace('-', ""))}),
        )
    }

    fn append(&mut self, path: &str, body: &Value) -> Reply {
        let id = path
            .trim_start_matches("/v1/blocks/")
            .trim_end_matches("/children")
            .to_owned();
        let children = body["children"].as_array().cloned().unwrap_or_default();
        if let Some(refused) = self.check(&children) {
            return refused;
        }
        let Some(page) = self.pages.iter_mut().find(|page| page.id == id) else {
            return error(
                404,
                "object_not_found",
                &format!("Could not find block with ID: {id}."),
            );
        };
        page.blocks.extend(children.iter().cloned());
        Reply::json(200, json!({"object": "list", "results": children}))
    }

    fn search(&self, body: &Value) -> Reply {
        let mut results: Vec<Value> = self.databases.iter()
            .map(|(id, title)| json!({"object": "database", "id": id, "title": [{"plain_text": title}]}))
            .collect();
        results.extend(self.pages.iter().map(|page| {
            json!({
                "object": "page", "id": page.id,
                "properties": {"title": {"type": "title", "title": [{"plain_text": page.title}]}},
            })
        }));
        let size = body["page_size"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
        let start: usize = body["start_cursor"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let end = (start + size).min(results.len());
        let more = end < results.len();
        Reply::json(
            200,
            json!({
                "object": "list", "results": results.get(start..end).unwrap_or_default(),
                "has_more": more, "next_cursor": more.then(|| end.to_string()),
            }),
        )
    }
}

/// A fake Notion on 127.0.0.1: `POST /v1/pages` (with `children`, or with
/// `markdown` from API version 2026-03-11), `PATCH
/// /v1/blocks/{id}/children`, `PATCH` and `GET /v1/pages/{id}/markdown`,
/// `POST /v1/search` and `GET /v1/users/me`.
///
/// Requests need `Authorization: Bearer {token}` (else 401
/// `unauthorized`) and a `Notion-Version` header (else 400
/// `missing_version`). Blocks are refused with 400 `validation_error`, and
/// recorded in [`violations`](Self::violations), when a request has more
/// than 100 children, a rich text over 2000 characters, or children nested
/// more than 2 levels; markdown, when the `Notion-Version` is older than
/// 2026-03-11, it makes more than 1000 block elements, or the payload is
/// over 500 KB (and with `children` beside it).
#[derive(Debug, Clone)]
pub struct FakeNotion {
    server: Arc<FakeServer>,
    state: Arc<Mutex<State>>,
}

impl FakeNotion {
    /// Starts a fake Notion that accepts `token`, with one page,
    /// `parent-page` ("Reports"), and one database, `reports-db`.
    pub async fn start(token: &str) -> Self {
        let fake = Self {
            server: Arc::new(FakeServer::start().await),
            state: Arc::new(Mutex::new(State {
                token: token.to_owned(),
                databases: vec![("reports-db".into(), "Report database".into())],
                pages: vec![NotionPage {
                    id: "parent-page".into(),
                    parent: json!({"workspace": true}),
                    title: "Reports".into(),
                    blocks: Vec::new(),
                    markdown: String::new(),
                }],
                ..State::default()
            })),
        };
        for (method, path) in [
            ("POST", "/v1/pages"),
            ("PATCH", "/v1/blocks/{id}/children"),
            ("POST", "/v1/search"),
            ("GET", "/v1/users/me"),
            ("PATCH", "/v1/pages/{id}/markdown"),
            ("GET", "/v1/pages/{id}/markdown"),
        ] {
            let state = Arc::clone(&fake.state);
            fake.server.route(method, path, move |request: &Recorded| {
                let mut state = lock(&state);
                state.requests += 1;
                if let Some(seconds) = state.rate_limits.pop_front() {
                    return error(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.")
                        .header("retry-after", &seconds.to_string());
                }
                if request.header("authorization") != Some(&format!("Bearer {}", state.token)) {
                    return error(401, "unauthorized", "API token is invalid.");
                }
                let Some(version) = request.header("notion-version").map(str::to_owned) else {
                    return error(400, "missing_version", "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.");
                };
                let body = request.json();
                let payload = request.body.len();
                match (request.method.as_str(), request.path.as_str()) {
                    ("POST", "/v1/pages") => state.create(&body, &version, payload),
                    ("POST", "/v1/search") => state.search(&body),
                    ("PATCH", path) if path.ends_with("/markdown") => {
                        state.update_markdown(path, &version, &body, payload)
                    }
                    ("GET", path) if path.ends_with("/markdown") => {
                        let id = path.trim_start_matches("/v1/pages/").trim_end_matches("/markdown");
                        match state.pages.iter().find(|page| page.id == id) {
                            Some(page) => Reply::json(200, page_markdown(page)),
                            None => error(404, "object_not_found", &format!("Could not find page with ID: {id}.")),
                        }
                    }
                    ("GET", _) => Reply::json(200, json!({"object": "user", "id": "bot-1", "type": "bot", "name": "Exporter", "bot": {"owner": {"type": "workspace", "workspace": true}}})),
                    (_, path) => state.append(path, &body),
                }
            });
        }
        fake
    }

    /// The API's base URL (`http://127.0.0.1:PORT`, without `/v1`).
    pub fn api_url(&self) -> String {
        self.server.url("")
    }

    /// The HTTP server, to read the raw requests.
    pub fn server(&self) -> &FakeServer {
        &self.server
    }

    /// Answers the next `count` requests with 429 and `Retry-After: seconds`.
    pub fn rate_limit_next(&self, count: usize, seconds: u64) {
        lock(&self.state)
            .rate_limits
            .extend(std::iter::repeat_n(seconds, count));
    }

    /// The pages created through the API, in order.
    pub fn pages(&self) -> Vec<NotionPage> {
        lock(&self.state).pages.iter().skip(1).cloned().collect()
    }

    /// The limits broken by requests, which Notion refused.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.state).violations.clone()
    }
}
