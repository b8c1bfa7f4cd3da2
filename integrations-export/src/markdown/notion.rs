//! Markdown to Notion blocks, within Notion's limits: at most 2000
//! characters a rich text item, 2 levels of nesting a request, 100 blocks a
//! request.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

mod blocks;
mod chunked;

pub use blocks::{BlockFields, NotionBlock, RichText};
pub use chunked::{NOTION_MARKDOWN_CHARS, NOTION_MARKDOWN_ELEMENTS, notion_markdown_chunks};

/// Characters in one rich text item (Notion: 2000).
pub const NOTION_RICH_TEXT_CHARS: usize = 2000;
/// Blocks in one request's `children` (Notion: 100).
pub const NOTION_BLOCKS_PER_REQUEST: usize = 100;
/// Levels of nested `children` in one request (Notion: 2).
pub const NOTION_NESTING: usize = 2;

/// Converts GitHub-flavoured markdown to Notion blocks: paragraphs, three
/// heading levels (deeper ones become level 3), bulleted and numbered list
/// items, to-dos, code, quotes, dividers and tables. Emphasis, strong,
/// strikethrough, inline code and links become rich text annotations and
/// links. Long text is split into several rich text items of at most 2000
/// characters; list items nested deeper than Notion takes in one request
/// are lifted to the deepest level allowed, their text kept.
///
/// The blocks serialise as Notion's API takes them. Send them with
/// [`notion_batches`]: the first batch as a page's `children`, the rest
/// appended in order.
///
/// ```
/// use integrations_export::markdown::{BlockFields, markdown_to_notion};
///
/// let blocks = markdown_to_notion("## Notes\n\nShip **today**, see [the plan](https://example.com).\n\n```sql\nSELECT 1;\n```");
/// assert_eq!(blocks[0].kind, "heading_2");
/// assert!(blocks[1].rich_text[1].bold);
/// assert_eq!(blocks[1].rich_text[3].link.as_deref(), Some("https://example.com"));
/// assert_eq!(blocks[2].fields, BlockFields::Code { language: "sql".into() });
/// let json = serde_json::to_value(&blocks[1]).unwrap();
/// assert_eq!(json["paragraph"]["rich_text"][3]["text"]["link"]["url"], "https://example.com");
/// ```
pub fn markdown_to_notion(markdown: &str) -> Vec<NotionBlock> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut builder = Builder::default();
    let markdown = super::with_bounded_nesting(markdown);
    for event in Parser::new_ext(&markdown, options) {
        builder.event(event);
    }
    builder.finish_block();
    builder.blocks
}

/// Splits top-level blocks into request-sized batches (at most 100 blocks,
/// nested children not counted, as Notion counts them).
pub fn notion_batches(blocks: &[NotionBlock]) -> Vec<&[NotionBlock]> {
    blocks.chunks(NOTION_BLOCKS_PER_REQUEST).collect()
}

/// A slot kept for a block nested past [`NOTION_NESTING`] until it closes;
/// one left empty (an empty paragraph) is not sent.
fn slot() -> NotionBlock {
    NotionBlock::new("")
}

#[derive(Default)]
struct Builder {
    blocks: Vec<NotionBlock>,
    /// The block being filled, with the blocks it is nested in; each with
    /// its slot among the deepest children Notion takes, if it is nested
    /// that deep or deeper.
    stack: Vec<(NotionBlock, Option<usize>)>,
    style: RichText,
    /// Bullet (`None`) or numbered, per open list.
    lists: Vec<Option<u64>>,
    quote_depth: usize,
    table: Option<NotionBlock>,
    cell: Vec<RichText>,
}

/// Appends `text` in `style` to `runs`, to the last run if it has that
/// style.
fn append(runs: &mut Vec<RichText>, style: &RichText, text: &str) {
    match runs.last_mut() {
        Some(last) if last.same_style(style) => last.content.push_str(text),
        _ => {
            let mut run = style.clone();
            text.clone_into(&mut run.content);
            runs.push(run);
        }
    }
}

impl Builder {
    fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.table.is_some() {
            append(&mut self.cell, &self.style, text);
            return;
        }
        if self.stack.is_empty() {
            self.open("paragraph");
        }
        if let Some((node, _)) = self.stack.last_mut() {
            append(&mut node.rich_text, &self.style, text);
        }
    }

    /// Closes the innermost open block into its parent (or the document).
    /// Blocks at the deepest level Notion takes in one request, and deeper,
    /// are all children of the block above that level, in document order:
    /// each fills the slot it took when it opened, so closing is constant
    /// work whatever the nesting.
    fn close(&mut self) {
        let Some((mut node, slot)) = self.stack.pop() else {
            return;
        };
        if node.rich_text.is_empty() && node.children.is_empty() && node.kind == "paragraph" {
            return;
        }
        blocks::split_runs(&mut node.rich_text);
        match slot {
            Some(slot) => self.stack[NOTION_NESTING - 1].0.children[slot] = node,
            None => match self.stack.last_mut() {
                Some((parent, _)) => parent.children.push(node),
                None => self.blocks.push(node),
            },
        }
    }

    fn finish_block(&mut self) {
        while !self.stack.is_empty() {
            self.close();
        }
    }

    fn open(&mut self, kind: &'static str) {
        self.push(NotionBlock::new(kind));
    }

    fn push(&mut self, node: NotionBlock) {
        let slot = (self.stack.len() >= NOTION_NESTING).then(|| {
            let anchor = &mut self.stack[NOTION_NESTING - 1].0.children;
            anchor.push(slot());
            anchor.len() - 1
        });
        self.stack.push((node, slot));
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Text(text) => self.push_text(&text),
            Event::Code(code) => {
                self.style.code = true;
                self.push_text(&code);
                self.style.code = false;
            }
            Event::SoftBreak => self.push_text(" "),
            Event::HardBreak => self.push_text("\n"),
            Event::Html(html) | Event::InlineHtml(html) => self.push_text(&html),
            Event::Rule => {
                self.finish_block();
                self.blocks.push(NotionBlock::new("divider"));
            }
            Event::TaskListMarker(done) => {
                if let Some((node, _)) = self.stack.last_mut() {
                    node.kind = "to_do";
                    node.fields = BlockFields::ToDo { checked: done };
                }
            }
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {
                let inside = self.stack.last().is_some_and(|(node, _)| {
                    matches!(
                        node.kind,
                        "bulleted_list_item" | "numbered_list_item" | "to_do" | "quote"
                    )
                });
                if inside
                    && self
                        .stack
                        .last()
                        .is_some_and(|(n, _)| !n.rich_text.is_empty())
                {
                    self.push_text("\n");
                } else if !inside {
                    self.finish_block();
                    self.open("paragraph");
                }
            }
            Tag::Heading { level, .. } => {
                self.finish_block();
                self.open(match level {
                    HeadingLevel::H1 => "heading_1",
                    HeadingLevel::H2 => "heading_2",
                    _ => "heading_3",
                });
            }
            Tag::BlockQuote(_) => {
                if self.quote_depth == 0 && self.lists.is_empty() {
                    self.finish_block();
                    self.open("quote");
                }
                self.quote_depth += 1;
            }
            Tag::CodeBlock(kind) => {
                if self.lists.is_empty() && self.quote_depth == 0 {
                    self.finish_block();
                }
                let language = match kind {
                    pulldown_cmark::CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_owned()
                    }
                    pulldown_cmark::CodeBlockKind::Indented => String::new(),
                };
                let mut node = NotionBlock::new("code");
                node.fields = BlockFields::Code {
                    language: if language.is_empty() {
                        "plain text".to_owned()
                    } else {
                        language
                    },
                };
                self.push(node);
            }
            Tag::List(start) => {
                if self.lists.is_empty() && self.quote_depth == 0 {
                    self.finish_block();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                let kind = match self.lists.last() {
                    Some(Some(_)) => "numbered_list_item",
                    _ => "bulleted_list_item",
                };
                self.open(kind);
            }
            Tag::Emphasis => self.style.italic = true,
            Tag::Strong => self.style.bold = true,
            Tag::Strikethrough => self.style.strikethrough = true,
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.style.link = Some(dest_url.to_string());
            }
            Tag::Table(_) => {
                self.finish_block();
                let mut table = NotionBlock::new("table");
                table.fields = BlockFields::Table { width: 0 };
                self.table = Some(table);
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    let mut row = NotionBlock::new("table_row");
                    row.fields = BlockFields::TableRow { cells: Vec::new() };
                    table.children.push(row);
                }
            }
            Tag::TableCell => self.cell.clear(),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                let inside = self
                    .stack
                    .last()
                    .is_some_and(|(node, _)| node.kind != "paragraph");
                if !inside {
                    self.close();
                }
            }
            TagEnd::Heading(_) => self.close(),
            TagEnd::BlockQuote(_) => {
                self.quote_depth = self.quote_depth.saturating_sub(1);
                if self.quote_depth == 0 && self.lists.is_empty() {
                    self.finish_block();
                }
            }
            TagEnd::CodeBlock => {
                if let Some((node, _)) = self.stack.last_mut()
                    && let Some(last) = node.rich_text.last_mut()
                {
                    let trimmed = last.content.trim_end_matches('\n').len();
                    last.content.truncate(trimmed);
                }
                self.close();
            }
            TagEnd::Item => {
                // Close the item (and a paragraph left open inside it).
                while let Some((node, _)) = self.stack.last() {
                    let item = matches!(
                        node.kind,
                        "bulleted_list_item" | "numbered_list_item" | "to_do"
                    );
                    self.close();
                    if item {
                        break;
                    }
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
                if self.lists.is_empty() && self.quote_depth == 0 {
                    self.finish_block();
                }
            }
            TagEnd::Emphasis => self.style.italic = false,
            TagEnd::Strong => self.style.bold = false,
            TagEnd::Strikethrough => self.style.strikethrough = false,
            TagEnd::Link | TagEnd::Image => self.style.link = None,
            TagEnd::TableCell => {
                let mut cell = std::mem::take(&mut self.cell);
                blocks::split_runs(&mut cell);
                if let Some(row) = self.table.as_mut().and_then(|t| t.children.last_mut())
                    && let BlockFields::TableRow { cells } = &mut row.fields
                {
                    cells.push(cell);
                }
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.blocks.push(table_block(table));
                }
            }
            _ => {}
        }
    }
}

/// A table row's cells.
fn cells(row: &NotionBlock) -> &[Vec<RichText>] {
    match &row.fields {
        BlockFields::TableRow { cells } => cells,
        _ => &[],
    }
}

/// A `table` block with its width, or, for a table whose cells are mostly
/// the empty ones markdown fills in (a wide header over short rows), a
/// `code` block of its text: Notion wants every row as wide as the table,
/// and those empty cells would grow the request with the square of the
/// markdown.
fn table_block(mut table: NotionBlock) -> NotionBlock {
    let rows = table.children.len();
    let (mut width, mut filled) = (1, 0);
    for row in &table.children {
        let cells = cells(row);
        width = width.max(cells.len());
        filled += cells.iter().filter(|cell| !cell.is_empty()).count();
    }
    if rows.saturating_mul(width) > 4 * (filled + rows) + 1024 {
        let texts: Vec<Vec<String>> = table
            .children
            .iter()
            .map(|row| {
                cells(row)
                    .iter()
                    .map(|cell| cell.iter().map(|run| run.content.as_str()).collect())
                    .collect()
            })
            .collect();
        let mut code = NotionBlock::new("code");
        code.fields = BlockFields::Code {
            language: "plain text".into(),
        };
        code.rich_text.push(RichText {
            content: super::table::aligned(&texts),
            ..RichText::default()
        });
        blocks::split_runs(&mut code.rich_text);
        return code;
    }
    table.fields = BlockFields::Table { width };
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::Value;

    fn markdown_to_notion(markdown: &str) -> Vec<Value> {
        super::markdown_to_notion(markdown)
            .iter()
            .map(|block| serde_json::to_value(block).unwrap())
            .collect()
    }

    fn kinds(blocks: &[Value]) -> Vec<String> {
        blocks
            .iter()
            .map(|b| b["type"].as_str().unwrap().to_owned())
            .collect()
    }

    fn text(block: &Value) -> String {
        let kind = block["type"].as_str().unwrap();
        block[kind]["rich_text"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| i["text"]["content"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn block_forms_become_notion_blocks() {
        let blocks = markdown_to_notion(
            "# One\n\nText with *em* and `code`.\n\n- a\n- b\n\n1. first\n\n- [x] done\n\n> wise words\n\n---\n\n```rust\nfn main() {}\n```\n\n| h1 | h2 |\n|---|---|\n| c1 | c2 |\n\n#### Four",
        );
        assert_eq!(
            kinds(&blocks),
            [
                "heading_1",
                "paragraph",
                "bulleted_list_item",
                "bulleted_list_item",
                "numbered_list_item",
                "to_do",
                "quote",
                "divider",
                "code",
                "table",
                "heading_3",
            ]
        );
        assert_eq!(text(&blocks[1]), "Text with em and code.");
        assert_eq!(
            blocks[1]["paragraph"]["rich_text"][1]["annotations"]["italic"],
            true
        );
        assert_eq!(
            blocks[1]["paragraph"]["rich_text"][3]["annotations"]["code"],
            true
        );
        assert_eq!(blocks[5]["to_do"]["checked"], true);
        assert_eq!(blocks[8]["code"]["language"], "rust");
        assert_eq!(text(&blocks[8]), "fn main() {}");
        let table = &blocks[9]["table"];
        assert_eq!(table["table_width"], 2);
        assert_eq!(
            table["children"][1]["table_row"]["cells"][1][0]["text"]["content"],
            "c2"
        );
    }

    #[test]
    fn long_text_is_split_into_rich_text_items_of_2000() {
        let long = "x".repeat(4500);
        let blocks = markdown_to_notion(&long);
        let items = blocks[0]["paragraph"]["rich_text"].as_array().unwrap();
        let sizes: Vec<usize> = items
            .iter()
            .map(|i| i["text"]["content"].as_str().unwrap().chars().count())
            .collect();
        assert_eq!(sizes, [2000, 2000, 500]);
    }

    #[test]
    fn deep_lists_are_lifted_to_two_levels_in_order() {
        let blocks = markdown_to_notion("- a\n  - b\n    - c\n      - d\n    - e\n- f");
        assert_eq!(kinds(&blocks), ["bulleted_list_item", "bulleted_list_item"]);
        let a = &blocks[0]["bulleted_list_item"];
        assert_eq!(text(&blocks[0]), "a");
        let b = &a["children"][0];
        assert_eq!(text(b), "b");
        let level2: Vec<String> = b["bulleted_list_item"]["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| {
                assert!(
                    node["bulleted_list_item"]["children"].is_null(),
                    "no third level"
                );
                text(node)
            })
            .collect();
        assert_eq!(level2, ["c", "d", "e"]);
        assert_eq!(text(&blocks[1]), "f");
    }

    #[test]
    fn batches_hold_at_most_100_blocks() {
        let markdown = (0..250)
            .map(|i| format!("p{i}"))
            .collect::<Vec<_>>()
            .join("\n\n");
        let blocks = super::markdown_to_notion(&markdown);
        let batches = notion_batches(&blocks);
        assert_eq!(
            batches.iter().map(|batch| batch.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
    }
}
