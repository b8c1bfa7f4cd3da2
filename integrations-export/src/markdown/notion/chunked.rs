//! Markdown for Notion's markdown API (API version 2026-03-11): the
//! document's own text, cut into requests between its top-level blocks
//! (and between the items of a top-level list).

use pulldown_cmark::{Event, Options, Parser, Tag};

use super::super::chunks::{Chunker, Piece};

/// Characters of markdown in one request: well under Notion's 500 KB
/// payload limit, whatever the script and the JSON escaping.
pub const NOTION_MARKDOWN_CHARS: usize = 50_000;
/// Block elements (paragraphs, headings, list items, table rows, ...) in
/// one request (Notion: 1000 a payload).
pub const NOTION_MARKDOWN_ELEMENTS: usize = 1000;

/// Cuts `markdown` into the requests of Notion's markdown API: the first as
/// a new page's `markdown`, the rest appended in order (`insert_content`).
/// Each holds at most [`NOTION_MARKDOWN_CHARS`] characters and
/// [`NOTION_MARKDOWN_ELEMENTS`] block elements, cut between top-level
/// blocks or between the items of a top-level list; a block longer than a
/// request is cut between lines (fenced code fenced again) or words.
/// Nothing is dropped, and the time is linear in the input.
///
/// ```
/// use integrations_export::markdown::notion_markdown_chunks;
///
/// assert_eq!(notion_markdown_chunks("# Notes\n\n- one\n- two"), ["# Notes\n\n- one\n- two"]);
/// let long = "- item\n".repeat(1500);
/// let chunks = notion_markdown_chunks(&long);
/// assert_eq!(chunks.len(), 2);
/// assert_eq!(chunks.concat().matches("- item").count(), 1500);
/// ```
pub fn notion_markdown_chunks(markdown: &str) -> Vec<String> {
    chunks(markdown, NOTION_MARKDOWN_CHARS, NOTION_MARKDOWN_ELEMENTS)
}

pub(super) fn chunks(markdown: &str, chars: usize, elements: usize) -> Vec<String> {
    let markdown = super::super::with_bounded_nesting(markdown);
    let pieces = pieces(&markdown);
    let chunker = Chunker {
        markdown: &markdown,
        escapes: &[],
        chars,
        elements,
    };
    let mut out = Vec::new();
    chunker.push(0..markdown.len(), &pieces, &mut out);
    out
}

/// The places the document may be cut before: each top-level block, and
/// each item of a top-level list, with the block elements each holds.
fn pieces(markdown: &str) -> Vec<Piece> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut pieces: Vec<Piece> = Vec::new();
    let mut depth = 0usize;
    let mut top_list = false;
    for (event, range) in Parser::new_ext(markdown, options).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                let cut_here = depth == 0 && !matches!(tag, Tag::List(_))
                    || depth == 1 && top_list && matches!(tag, Tag::Item);
                if depth == 0 {
                    top_list = matches!(tag, Tag::List(_));
                }
                if cut_here {
                    pieces.push(Piece { range, elements: 0 });
                }
                if is_element(&tag)
                    && let Some(piece) = pieces.last_mut()
                {
                    piece.elements += 1;
                }
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Rule if depth == 0 => pieces.push(Piece { range, elements: 1 }),
            _ => {}
        }
    }
    pieces
}

/// Whether `tag` opens a block Notion counts.
fn is_element(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Paragraph
            | Tag::Heading { .. }
            | Tag::BlockQuote(_)
            | Tag::CodeBlock(_)
            | Tag::HtmlBlock
            | Tag::Item
            | Tag::TableHead
            | Tag::TableRow
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_between_blocks_and_items_and_keep_every_character() {
        let document = format!(
            "# Title\n\n{}\n\n```rust\n{}```\n\nThe end.",
            (0..300)
                .map(|i| format!("{i}. item {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
            "let x = 1;\n".repeat(40)
        );
        let chunks = chunks(&document, 2000, 100);
        assert!(chunks.len() > 3, "{}", chunks.len());
        for chunk in &chunks {
            assert!(chunk.chars().count() <= 2000);
            assert!(chunk.lines().filter(|l| l.contains(". item")).count() <= 100);
        }
        // Cut between items: each chunk of the list starts at an item.
        for chunk in &chunks[1..chunks.len() - 1] {
            assert!(
                chunk
                    .split_once(". item")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok()),
                "{chunk}"
            );
        }
        let lines: Vec<&str> = chunks.iter().flat_map(|c| c.lines()).collect();
        let items: Vec<String> = (0..300).map(|i| format!("{i}. item {i}")).collect();
        let found: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.contains(". item"))
            .collect();
        assert_eq!(found, items, "every item once, in order");
        assert_eq!(lines.iter().filter(|l| **l == "let x = 1;").count(), 40);
        assert!(chunks.last().unwrap().ends_with("The end."));
    }

    #[test]
    fn a_code_block_longer_than_a_request_is_fenced_again() {
        let code = format!("```sql\n{}```", "SELECT 1;\n".repeat(500));
        let chunks = chunks(&code, 1000, 1000);
        assert!(chunks.len() >= 5);
        for chunk in &chunks {
            assert!(
                chunk.starts_with("```sql\n") && chunk.ends_with("\n```"),
                "{chunk}"
            );
            assert!(chunk.chars().count() <= 1000);
        }
        let lines: usize = chunks.iter().map(|c| c.matches("SELECT 1;").count()).sum();
        assert_eq!(lines, 500);
    }
}
