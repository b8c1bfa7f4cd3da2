//! Markdown for Slack's `markdown` block, which Slack renders itself: the
//! document's own text, cut between its top-level blocks, with its tables
//! as native `table` blocks.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::super::chunks::{self, Chunker};
use super::super::table::aligned;
use super::{Block, Cells, SlackOptions};

/// The blocks of `markdown` (already bounded in nesting): runs of text as
/// `markdown` blocks of at most `options.message_chars` characters, top-level
/// tables as `table` blocks (as a code block when Slack's table limits
/// cannot hold them).
pub(super) fn blocks(markdown: &str, options: SlackOptions) -> Vec<Block> {
    let parsed = parse(markdown);
    let prose = Chunker {
        markdown,
        escapes: if options.broadcasts {
            &[]
        } else {
            &parsed.escapes
        },
        chars: options.message_chars,
        elements: usize::MAX,
    };
    let mut out = Vec::new();
    let mut text = Vec::new();
    let mut from = 0;
    let mut blocks = Vec::new();
    for piece in parsed.pieces {
        match piece {
            Piece::Block(range) => blocks.push(chunks::Piece { range, elements: 0 }),
            Piece::Table(at, table) => {
                prose.push(from..at.start, &blocks, &mut text);
                out.extend(text.drain(..).map(Block::Markdown));
                blocks.clear();
                from = at.end;
                tables(table, options, &mut out);
            }
        }
    }
    prose.push(from..markdown.len(), &blocks, &mut text);
    out.extend(text.into_iter().map(Block::Markdown));
    out
}

/// A top-level block's source, or a top-level table read into cells.
enum Piece {
    Block(Range<usize>),
    Table(Range<usize>, Cells),
}

struct Parsed {
    pieces: Vec<Piece>,
    /// Where `<!` starts outside code (Slack's broadcast forms): the `<`
    /// is written `&lt;` unless broadcasts are allowed.
    escapes: Vec<usize>,
}

/// One pass over the document: its top-level blocks and tables, and where
/// a broadcast form could start.
fn parse(markdown: &str) -> Parsed {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut parsed = Parsed {
        pieces: Vec::new(),
        escapes: Vec::new(),
    };
    let mut depth = 0usize;
    let mut in_code = false;
    let mut table: Option<(Range<usize>, Cells)> = None;
    // An open link in a table cell: its destination.
    let mut link: Option<String> = None;
    for (event, range) in Parser::new_ext(markdown, options).into_offset_iter() {
        match &event {
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(_) | Event::Html(_) | Event::InlineHtml(_) if !in_code => {
                let source = &markdown[range.clone()];
                parsed
                    .escapes
                    .extend(source.match_indices("<!").map(|(at, _)| range.start + at));
            }
            _ => {}
        }
        if let Some((_, cells)) = &mut table {
            cell_event(cells, &event, &mut link);
        }
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    match tag {
                        Tag::Table(alignments) => {
                            table = Some((
                                range,
                                Cells {
                                    alignments,
                                    rows: Vec::new(),
                                },
                            ));
                        }
                        _ => parsed.pieces.push(Piece::Block(range)),
                    }
                }
                depth += 1;
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && end == TagEnd::Table
                    && let Some((range, cells)) = table.take()
                {
                    parsed.pieces.push(Piece::Table(range, cells));
                }
            }
            _ if depth == 0 => parsed.pieces.push(Piece::Block(range)),
            _ => {}
        }
    }
    parsed
}

/// A table cell's text: its words, code and the destination of its links
/// (a `raw_text` cell shows no markup).
fn cell_event(table: &mut Cells, event: &Event<'_>, link: &mut Option<String>) {
    match event {
        Event::Start(Tag::TableHead | Tag::TableRow) => return table.rows.push(Vec::new()),
        Event::Start(Tag::TableCell) => {
            if let Some(row) = table.rows.last_mut() {
                row.push(String::new());
            }
            return;
        }
        Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
            return *link = Some(dest_url.to_string());
        }
        _ => {}
    }
    let Some(cell) = table.rows.last_mut().and_then(|row| row.last_mut()) else {
        return;
    };
    match event {
        Event::End(TagEnd::Link | TagEnd::Image) => {
            if let Some(url) = link.take()
                && !cell.ends_with(url.as_str())
            {
                cell.push_str(" (");
                cell.push_str(&url);
                cell.push(')');
            }
        }
        Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => {
            cell.push_str(text);
        }
        Event::SoftBreak | Event::HardBreak => cell.push(' '),
        Event::TaskListMarker(done) => cell.push_str(if *done { "☑ " } else { "☐ " }),
        _ => {}
    }
}

/// A table as aligned text in a code block.
fn as_text(rows: &[Vec<String>], options: SlackOptions, out: &mut Vec<Block>) {
    let text = format!("```\n{}\n```", aligned(rows));
    let prose = Chunker {
        markdown: &text,
        escapes: &[],
        chars: options.message_chars,
        elements: usize::MAX,
    };
    let mut pieces = Vec::new();
    prose.push_long(0..text.len(), &mut pieces);
    out.extend(pieces.into_iter().map(Block::Markdown));
}

/// A top-level table as `table` blocks of at most `table_rows` rows (the
/// header repeated on each) and `table_chars` characters; as a code block
/// of aligned text when it has more columns than Slack allows, a header
/// over half a table or a row that no table can hold.
fn tables(table: Cells, options: SlackOptions, out: &mut Vec<Block>) {
    let Cells {
        alignments,
        mut rows,
    } = table;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    if rows.is_empty() {
        return;
    }
    if columns > options.table_columns || options.table_rows < 2 {
        return as_text(&rows, options, out);
    }
    // As sent: trimmed, a space for an empty cell, every row as wide.
    for row in &mut rows {
        row.resize_with(columns, String::new);
        for cell in row.iter_mut() {
            let trimmed = cell.trim();
            if trimmed.is_empty() {
                " ".clone_into(cell);
            } else if trimmed.len() != cell.len() {
                *cell = trimmed.to_owned();
            }
        }
    }
    let chars = |row: &Vec<String>| row.iter().map(|cell| cell.chars().count()).sum::<usize>();
    let (header, body) = rows.split_at(1);
    let header = &header[0];
    let header_chars = chars(header);
    // The header is repeated on every part: past half a table, a part would
    // be mostly header (and the output grow with rows times header).
    if header_chars > options.table_chars / 2
        || body
            .iter()
            .any(|row| header_chars + chars(row) > options.table_chars)
    {
        return as_text(&rows, options, out);
    }
    let mut chunk: Vec<Vec<String>> = vec![header.clone()];
    let mut used = header_chars;
    for row in body {
        let size = chars(row);
        if chunk.len() == options.table_rows || used + size > options.table_chars {
            out.push(Block::Table(Cells {
                alignments: alignments.clone(),
                rows: std::mem::replace(&mut chunk, vec![header.clone()]),
            }));
            used = header_chars;
        }
        used += size;
        chunk.push(row.clone());
    }
    out.push(Block::Table(Cells {
        alignments,
        rows: chunk,
    }));
}

#[cfg(test)]
mod tests {
    use super::super::{SlackBlock, SlackFormat, SlackMessage, markdown_to_slack_with};
    use super::*;

    fn convert(markdown: &str) -> Vec<SlackMessage> {
        let options = SlackOptions {
            format: SlackFormat::Markdown,
            ..SlackOptions::default()
        };
        markdown_to_slack_with(markdown, options)
    }

    fn table(rows: usize, columns: usize) -> String {
        let line = |r: usize| {
            let cells: Vec<String> = (0..columns).map(|c| format!("r{r}c{c}")).collect();
            format!("| {} |", cells.join(" | "))
        };
        let mut lines = vec![line(0), format!("|{}", "---|".repeat(columns))];
        lines.extend((1..=rows).map(line));
        lines.join("\n")
    }

    fn rows_of(block: &SlackBlock) -> &[Vec<super::super::TableCell>] {
        match block {
            SlackBlock::Table { rows, .. } => rows,
            other => panic!("not a table: {other:?}"),
        }
    }

    #[test]
    fn broadcast_forms_are_escaped_outside_code_only() {
        let messages = convert("Ping <!here> and `<!channel>`\n\n```\n<!everyone>\n```");
        assert_eq!(
            messages[0].blocks,
            [SlackBlock::Markdown {
                text: "Ping &lt;!here> and `<!channel>`\n\n```\n<!everyone>\n```".into()
            }]
        );
    }

    #[test]
    fn a_long_table_repeats_its_header_one_table_a_message() {
        let messages = convert(&format!("Before\n\n{}\n\nAfter", table(250, 3)));
        let tables: Vec<_> = messages
            .iter()
            .flat_map(|m| &m.blocks)
            .filter(|b| matches!(b, SlackBlock::Table { .. }))
            .collect();
        assert_eq!(
            tables.iter().map(|t| rows_of(t).len()).collect::<Vec<_>>(),
            [100, 100, 53]
        );
        for table in &tables {
            assert_eq!(rows_of(table)[0][0].text, "r0c0", "the header leads");
        }
        assert_eq!(rows_of(tables[2]).last().unwrap()[2].text, "r250c2");
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert_eq!(messages[0].blocks[0].text().as_deref(), Some("Before"));
        assert_eq!(messages[2].blocks[1].text().as_deref(), Some("After"));
    }

    #[test]
    fn a_table_wider_than_slack_allows_is_aligned_text() {
        let messages = convert(&table(2, 21));
        let [SlackBlock::Markdown { text }] = messages[0].blocks.as_slice() else {
            panic!("{messages:?}");
        };
        assert!(text.starts_with("```\nr0c0 | r0c1"), "{text}");
        assert!(text.contains("r2c20"));
    }

    #[test]
    fn links_in_cells_keep_their_destination() {
        let messages =
            convert("| a | b |\n|---|---|\n| [docs](https://d.test) | <https://x.test> |");
        let rows = rows_of(&messages[0].blocks[0]);
        assert_eq!(rows[1][0].text, "docs (https://d.test)");
        assert_eq!(rows[1][1].text, "https://x.test");
    }

    #[test]
    fn long_text_is_cut_between_blocks_and_long_code_is_fenced_again() {
        let paragraph = "word ".repeat(1000);
        let paragraphs = [paragraph.trim_end(); 5].join("\n\n");
        let messages = convert(&paragraphs);
        let texts: Vec<String> = messages
            .iter()
            .flat_map(|m| &m.blocks)
            .filter_map(SlackBlock::text)
            .map(Into::into)
            .collect();
        assert_eq!(texts.len(), 3, "two paragraphs fit a block, three do not");
        assert!(texts.iter().all(|t| t.chars().count() <= 12_000));
        assert_eq!(texts.join("\n\n"), paragraphs);

        let code = format!("```rust\n{}```", "let line = 1;\n".repeat(2000));
        let messages = convert(&code);
        assert!(messages.len() >= 3);
        for block in messages.iter().flat_map(|m| &m.blocks) {
            let text = block.text().unwrap();
            assert!(text.starts_with("```rust\n") && text.ends_with("\n```"));
            assert!(text.chars().count() <= 12_000);
        }
    }
}
