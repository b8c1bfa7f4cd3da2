//! Markdown converters: GitHub-flavoured markdown to Slack Block Kit and to
//! Notion blocks, split so that no platform limit is broken.

mod chunks;
mod email;
mod notion;
mod slack;
mod table;

use std::borrow::Cow;

/// Levels of quotes and lists a converter shows as levels; deeper ones are
/// shown at this level, their text kept. Bounds the indentation a document
/// can ask for (a few bytes of `>` or `- ` per level) to a constant per
/// line.
const MAX_NESTING: usize = 8;

/// Block quotes and list items one line may open; markers past these are
/// written as text (with a `\` before the first of them). The markdown
/// parser looks at every open block on every line, so a first line
/// opening thousands of them followed by thousands of lines would cost the
/// product of the two.
const MARKERS_PER_LINE: usize = 32;

/// `markdown` with no line opening more than [`MARKERS_PER_LINE`] quotes
/// and list items; borrowed when no line does (any real document).
fn with_bounded_nesting(markdown: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut line_start = 0;
    for line in markdown.split_inclusive('\n') {
        if let Some(at) = past_markers(line.as_bytes(), MARKERS_PER_LINE) {
            out.push_str(&markdown[copied..line_start + at]);
            out.push('\\');
            copied = line_start + at;
        }
        line_start += line.len();
    }
    if copied == 0 {
        return Cow::Borrowed(markdown);
    }
    out.push_str(&markdown[copied..]);
    Cow::Owned(out)
}

/// Where the marker after the first `limit` container markers (`>`, `-`,
/// `*`, `+`, `1.`, `1)`) at the start of `line` begins, if there is one.
fn past_markers(line: &[u8], limit: usize) -> Option<usize> {
    let (mut at, mut count) = (0, 0);
    loop {
        while line.get(at).is_some_and(|b| *b == b' ' || *b == b'\t') {
            at += 1;
        }
        let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        let end = match line.get(at) {
            Some(b'>' | b'-' | b'*' | b'+') => at + 1,
            Some(_) if (1..=9).contains(&digits) => at + digits + 1,
            _ => return None,
        };
        let marker_ok = match line.get(at) {
            Some(b'>') => true,
            _ => {
                (digits == 0 || matches!(line.get(at + digits), Some(b'.' | b')')))
                    && matches!(line.get(end), Some(b' ' | b'\t'))
            }
        };
        if !marker_ok {
            return None;
        }
        if count == limit {
            return Some(at);
        }
        count += 1;
        at = end;
    }
}

pub use email::{markdown_to_html, markdown_to_text};
pub use notion::{
    BlockFields, NOTION_BLOCKS_PER_REQUEST, NOTION_MARKDOWN_CHARS, NOTION_MARKDOWN_ELEMENTS,
    NOTION_NESTING, NOTION_RICH_TEXT_CHARS, NotionBlock, RichText, markdown_to_notion,
    notion_batches, notion_markdown_chunks,
};
pub use slack::{
    ColumnSetting, SlackBlock, SlackFormat, SlackMessage, SlackOptions, TableCell, TextObject,
    markdown_to_slack, markdown_to_slack_with,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_opening_too_many_blocks_keep_the_rest_as_text() {
        let deep = format!("{}x\nnext", "> ".repeat(40));
        let tamed = with_bounded_nesting(&deep);
        let expected = format!("{}\\{}x\nnext", "> ".repeat(32), "> ".repeat(8));
        assert_eq!(tamed, expected);
        let list = format!("{}x", "- ".repeat(33));
        assert_eq!(
            with_bounded_nesting(&list),
            format!("{}\\- x", "- ".repeat(32))
        );
        for fine in [
            "> > quote",
            "- a\n  - b",
            "1. one\n2) two",
            "-not a list",
            "10000000000. no",
        ] {
            assert!(
                matches!(with_bounded_nesting(fine), Cow::Borrowed(_)),
                "{fine}"
            );
        }
    }
}
