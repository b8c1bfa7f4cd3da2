//! Markdown to an email's two parts: HTML, with the document's own raw
//! HTML escaped, and plain text.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

use super::MAX_NESTING;

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// GitHub-flavoured markdown as HTML for an email's HTML part. Raw HTML in
/// the document is shown as text, not interpreted: exported text is often
/// a model's or a third party's, and an email client would otherwise
/// render its markup (forms, tracking images, look-alike links).
///
/// ```
/// use integrations_export::markdown::markdown_to_html;
///
/// let html = markdown_to_html("**Shipped** <img src=https://t.example/p.gif>");
/// assert!(html.contains("<strong>Shipped</strong>"));
/// assert!(html.contains("&lt;img src=https://t.example/p.gif&gt;"));
/// ```
pub fn markdown_to_html(markdown: &str) -> String {
    let markdown = super::with_bounded_nesting(markdown);
    let events = events(&markdown).into_iter().map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The document's events, without the empty cells that end a table row:
/// the parser pads every row to the header's width, so a wide header over
/// many short rows would cost their product.
fn events(markdown: &str) -> Vec<Event<'_>> {
    let mut out: Vec<Event<'_>> = Vec::new();
    for event in Parser::new_ext(markdown, options()) {
        if matches!(event, Event::End(TagEnd::TableRow | TagEnd::TableHead)) {
            while let [
                ..,
                Event::Start(Tag::TableCell),
                Event::End(TagEnd::TableCell),
            ] = out.as_slice()
            {
                out.truncate(out.len() - 2);
            }
        }
        out.push(event);
    }
    out
}

/// GitHub-flavoured markdown as plain text for an email's text part:
/// markup left out, links written `label (url)`, list items with `-` or
/// their number, code blocks indented, table cells separated by ` | `.
///
/// ```
/// use integrations_export::markdown::markdown_to_text;
///
/// let text = markdown_to_text("# Release\n\nShipped **v2**, see [notes](https://n.example).\n\n- one\n- two");
/// assert_eq!(text, "Release\n\nShipped v2, see notes (https://n.example).\n\n- one\n- two\n");
/// ```
pub fn markdown_to_text(markdown: &str) -> String {
    let markdown = super::with_bounded_nesting(markdown);
    let mut text = Text::default();
    for event in events(&markdown) {
        text.event(event);
    }
    text.out
}

#[derive(Default)]
struct Text {
    out: String,
    /// Bullet (`None`) or the next number, per open list.
    lists: Vec<Option<u64>>,
    quote: usize,
    code: bool,
    links: Vec<CowStr<'static>>,
    /// Whether the next text starts a line (indentation and quote marks
    /// go first).
    line_start: bool,
}

impl Text {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => {
                self.write(&text)
            }
            Event::SoftBreak => self.write(" "),
            Event::HardBreak => self.newline(),
            Event::Rule => {
                self.block_gap();
                self.write("----");
                self.newline();
            }
            Event::TaskListMarker(done) => self.write(if done { "[x] " } else { "[ ] " }),
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::Heading { .. } | Tag::Table(_) => self.block_gap(),
            Tag::CodeBlock(_) => {
                self.block_gap();
                self.code = true;
            }
            Tag::BlockQuote(_) => {
                self.block_gap();
                self.quote += 1;
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.block_gap();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                if !self.line_start {
                    self.newline();
                }
                let depth = self.lists.len().saturating_sub(1).min(MAX_NESTING);
                let marker = match self.lists.last_mut() {
                    Some(Some(number)) => {
                        let marker = format!("{number}. ");
                        *number += 1;
                        marker
                    }
                    _ => "- ".to_owned(),
                };
                self.write(&format!("{}{marker}", "  ".repeat(depth)));
            }
            Tag::TableCell if !self.line_start => self.write(" | "),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push(dest_url.into_static());
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::TableHead | TagEnd::TableRow => {
                self.newline()
            }
            TagEnd::CodeBlock => self.code = false,
            TagEnd::BlockQuote(_) => self.quote = self.quote.saturating_sub(1),
            TagEnd::List(_) => {
                self.lists.pop();
                if !self.line_start {
                    self.newline();
                }
            }
            TagEnd::Item if !self.line_start => self.newline(),
            TagEnd::Link | TagEnd::Image => {
                if let Some(url) = self.links.pop()
                    && !self.out.ends_with(url.as_ref())
                {
                    self.write(&format!(" ({url})"));
                }
            }
            _ => {}
        }
    }

    /// A blank line before a block, unless at the start.
    fn block_gap(&mut self) {
        if self.out.is_empty() || !self.lists.is_empty() && self.line_start {
            return;
        }
        if !self.line_start {
            self.newline();
        }
        if !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.line_start = true;
    }

    /// Writes `text`, opening each line with the quote marks and, in
    /// code, four spaces.
    fn write(&mut self, text: &str) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            if line.is_empty() {
                continue;
            }
            if self.line_start {
                self.out.push_str(&"> ".repeat(self.quote.min(MAX_NESTING)));
                if self.code {
                    self.out.push_str("    ");
                }
                self.line_start = false;
            }
            self.out.push_str(line);
        }
    }
}
