//! Markdown to mrkdwn: `header`, `section` and `divider` blocks, the
//! markdown converted here (Slack's own markup, escaped).

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::super::MAX_NESTING;
use super::super::table::aligned;
use super::Block;
use super::escape::{escape, escape_into};

/// The blocks of `markdown` (already bounded in nesting), before they are
/// split and packed; `broadcasts`: whether `<!here>` and the like stay
/// Slack forms.
pub(super) fn blocks(markdown: &str, broadcasts: bool) -> Vec<Block> {
    let mut renderer = Renderer {
        broadcasts,
        ..Renderer::default()
    };
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for event in Parser::new_ext(markdown, options) {
        renderer.event(event);
    }
    renderer.flush_section();
    renderer.blocks
}

#[derive(Default)]
struct Renderer {
    blocks: Vec<Block>,
    /// The mrkdwn of the section being built.
    current: String,
    /// Raw text not yet escaped (pulldown-cmark splits text at `<`).
    pending: String,
    /// Bullet (`None`) or the next number, per open list.
    lists: Vec<Option<u64>>,
    quote_depth: usize,
    code: Option<String>,
    heading: Option<String>,
    /// An open link or image: its destination and its label so far.
    link: Option<(String, String)>,
    table: Option<Table>,
    /// Whether `<!here>` and the like stay Slack forms.
    broadcasts: bool,
}

#[derive(Default)]
struct Table {
    rows: Vec<Vec<String>>,
    cell: String,
}

impl Renderer {
    /// Where text goes now.
    fn target(&mut self) -> &mut String {
        if let Some((_, label)) = &mut self.link {
            return label;
        }
        if let Some(table) = &mut self.table {
            return &mut table.cell;
        }
        if let Some(heading) = &mut self.heading {
            return heading;
        }
        if let Some(code) = &mut self.code {
            return code;
        }
        &mut self.current
    }

    /// Whether text goes to quoted lines of the current section.
    fn quotes_lines(&self) -> bool {
        self.link.is_none()
            && self.table.is_none()
            && self.heading.is_none()
            && self.code.is_none()
            && self.quote_depth > 0
    }

    /// Writes `text` (already mrkdwn) to the current place, opening quoted
    /// lines with `> ` per level (at most [`MAX_NESTING`]).
    fn write(&mut self, text: &str) {
        if self.quotes_lines() {
            for (i, line) in text.split('\n').enumerate() {
                if i > 0 {
                    self.current.push('\n');
                }
                if (self.current.is_empty() || self.current.ends_with('\n')) && !line.is_empty() {
                    self.current
                        .push_str(&"> ".repeat(self.quote_depth.min(MAX_NESTING)));
                }
                self.current.push_str(line);
            }
            return;
        }
        self.target().push_str(text);
    }

    /// Escapes and writes the raw text collected so far.
    fn flush_text(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let raw = std::mem::take(&mut self.pending);
        // Header blocks are plain text: not escaped.
        if self.heading.is_some() && self.link.is_none() {
            self.write(&raw);
        } else if self.quotes_lines() {
            self.write(&escape(&raw, self.broadcasts));
        } else {
            let broadcasts = self.broadcasts;
            escape_into(self.target(), &raw, broadcasts);
        }
        // Keep the buffer's capacity for the next run of text.
        self.pending = raw;
        self.pending.clear();
    }

    fn flush_section(&mut self) {
        self.flush_text();
        let text = std::mem::take(&mut self.current);
        let text = text.trim_end();
        if !text.trim().is_empty() {
            self.blocks.push(Block::Section(text.to_owned()));
        }
    }

    fn in_block_container(&self) -> bool {
        !self.lists.is_empty() || self.quote_depth > 0
    }

    fn event(&mut self, event: Event<'_>) {
        if let Event::Text(text) = &event {
            self.pending.push_str(text);
            return;
        }
        self.flush_text();
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Code(code) => {
                let mut span = String::with_capacity(code.len() + 2);
                span.push('`');
                escape_into(&mut span, &code, self.broadcasts);
                span.push('`');
                self.write(&span);
            }
            Event::SoftBreak => self.write(" "),
            Event::HardBreak => self.write("\n"),
            Event::Rule => {
                self.flush_section();
                self.blocks.push(Block::Divider);
            }
            Event::TaskListMarker(done) => self.write(if done { "☑ " } else { "☐ " }),
            Event::Html(html) | Event::InlineHtml(html) => {
                self.pending.push_str(&html);
                self.flush_text();
            }
            // Math, footnotes and the like are not enabled.
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { .. } => {
                self.flush_section();
                self.heading = Some(String::new());
            }
            Tag::BlockQuote(_) => {
                if self.quote_depth == 0 && self.lists.is_empty() {
                    self.flush_section();
                }
                self.quote_depth += 1;
            }
            Tag::CodeBlock(_) => {
                if !self.in_block_container() {
                    self.flush_section();
                }
                self.code = Some(String::new());
            }
            Tag::List(start) => {
                if self.lists.is_empty() && self.quote_depth == 0 {
                    self.flush_section();
                } else if !self.current.is_empty() && !self.current.ends_with('\n') {
                    self.current.push('\n');
                }
                self.lists.push(start);
            }
            Tag::Item => {
                if !self.current.is_empty() && !self.current.ends_with('\n') {
                    self.current.push('\n');
                }
                let depth = self.lists.len().saturating_sub(1).min(MAX_NESTING);
                let marker = match self.lists.last_mut() {
                    Some(Some(number)) => {
                        let marker = format!("{number}. ");
                        *number += 1;
                        marker
                    }
                    _ => "• ".to_owned(),
                };
                self.write(&format!("{}{marker}", "    ".repeat(depth)));
            }
            Tag::Emphasis => self.write("_"),
            Tag::Strong => self.write("*"),
            Tag::Strikethrough => self.write("~"),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.link = Some((dest_url.to_string(), String::new()));
            }
            Tag::Table(_) => {
                self.flush_section();
                self.table = Some(Table::default());
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    table.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {
                if let Some(table) = &mut self.table {
                    table.cell.clear();
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                if self.in_block_container() {
                    self.write("\n");
                } else {
                    self.flush_section();
                }
            }
            TagEnd::Heading(level) => {
                let text = self.heading.take().unwrap_or_default();
                let text = text.trim();
                if !text.is_empty() {
                    self.blocks
                        .push(heading_block(text, level, self.broadcasts));
                }
            }
            TagEnd::BlockQuote(_) => {
                self.quote_depth = self.quote_depth.saturating_sub(1);
                if self.quote_depth == 0 && self.lists.is_empty() {
                    self.flush_section();
                }
            }
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                let fenced = format!("```\n{}\n```", code.trim_end_matches('\n'));
                if self.in_block_container() {
                    if !self.current.is_empty() && !self.current.ends_with('\n') {
                        self.current.push('\n');
                    }
                    self.current.push_str(&fenced);
                    self.current.push('\n');
                } else {
                    self.blocks.push(Block::Section(fenced));
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
                if self.lists.is_empty() && self.quote_depth == 0 {
                    self.flush_section();
                }
            }
            TagEnd::Emphasis => self.write("_"),
            TagEnd::Strong => self.write("*"),
            TagEnd::Strikethrough => self.write("~"),
            TagEnd::Link | TagEnd::Image => {
                if let Some((url, label)) = self.link.take() {
                    let url = url.replace(['<', '>', '|', '\n'], "");
                    let label = label.replace(['|', '\n'], " ");
                    let link = if label.trim().is_empty() || label == url {
                        format!("<{url}>")
                    } else {
                        format!("<{url}|{label}>")
                    };
                    self.write(&link);
                }
            }
            TagEnd::TableCell => {
                if let Some(table) = &mut self.table {
                    let cell = std::mem::take(&mut table.cell);
                    if let Some(row) = table.rows.last_mut() {
                        row.push(cell.trim().to_owned());
                    }
                }
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.blocks.push(Block::Section(render_table(&table.rows)));
                }
            }
            _ => {}
        }
    }
}

/// H1 and H2 become headers (`split` turns one past the header limit into
/// a bold section); smaller headings are bold sections.
fn heading_block(text: &str, level: HeadingLevel, broadcasts: bool) -> Block {
    if level <= HeadingLevel::H2 {
        Block::Header(text.to_owned())
    } else {
        Block::Section(format!("*{}*", escape(text, broadcasts)))
    }
}

/// A table as aligned columns in a code block.
fn render_table(rows: &[Vec<String>]) -> String {
    format!("```\n{}\n```", aligned(rows))
}
