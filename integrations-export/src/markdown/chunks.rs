//! Cutting a markdown document's own text into chunks under a limit,
//! between its blocks: Slack's `markdown` block and Notion's markdown API
//! both take markdown as written, up to a size.

use std::ops::Range;

/// A place a document may be cut before: a top-level block (or an item of
/// a top-level list), with the block elements it holds.
#[derive(Debug, Clone)]
pub(super) struct Piece {
    pub(super) range: Range<usize>,
    pub(super) elements: usize,
}

/// Cuts `markdown` into chunks of at most `chars` characters and
/// `elements` block elements.
pub(super) struct Chunker<'a> {
    pub(super) markdown: &'a str,
    /// Where a `<` is written `&lt;` (ascending byte offsets).
    pub(super) escapes: &'a [usize],
    pub(super) chars: usize,
    pub(super) elements: usize,
}

impl Chunker<'_> {
    /// Adds the text of `span` (whose pieces are `pieces`) as chunks:
    /// whole pieces while they fit, a piece too long for one cut between
    /// lines (code fenced again) or words. What lies between pieces (blank
    /// lines, link definitions) goes with the piece after it. Linear: each
    /// character is counted once.
    pub(super) fn push(&self, span: Range<usize>, pieces: &[Piece], out: &mut Vec<String>) {
        let (mut start, mut end, mut chars, mut elements) = (span.start, span.start, 0, 0);
        for piece in pieces {
            let added = self.count(end..piece.range.end);
            if chars + added <= self.chars && elements + piece.elements <= self.elements {
                chars += added;
                elements += piece.elements;
                end = piece.range.end;
                continue;
            }
            self.emit(start..end, out);
            start = end;
            if added > self.chars {
                self.push_long(start..piece.range.end, out);
                start = piece.range.end;
                (chars, elements) = (0, 0);
            } else {
                (chars, elements) = (added, piece.elements);
            }
            end = piece.range.end;
        }
        if chars + self.count(end..span.end) <= self.chars {
            self.emit(start..span.end, out);
        } else {
            self.emit(start..end, out);
            self.push_long(end..span.end, out);
        }
    }

    /// The characters of `range` once written.
    fn count(&self, range: Range<usize>) -> usize {
        let escaped = self.escapes.partition_point(|at| *at < range.end)
            - self.escapes.partition_point(|at| *at < range.start);
        self.markdown[range].chars().count() + 3 * escaped
    }

    /// Text past the limit: fenced code is cut between lines and fenced
    /// again, other text between lines or words.
    pub(super) fn push_long(&self, range: Range<usize>, out: &mut Vec<String>) {
        let text = self.text(range);
        let text = text.trim_matches('\n');
        if text.trim().is_empty() {
            return;
        }
        if let Some((open, body, close)) = fenced(text) {
            let room = self
                .chars
                .saturating_sub(open.chars().count() + close.chars().count() + 2);
            for piece in split_text(body, room.max(1), true) {
                out.push(format!("{open}\n{piece}\n{close}"));
            }
            return;
        }
        out.extend(split_text(text, self.chars, false));
    }

    fn emit(&self, range: Range<usize>, out: &mut Vec<String>) {
        let text = self.text(range);
        let text = text.trim_matches('\n');
        if !text.trim().is_empty() {
            out.push(text.to_owned());
        }
    }

    /// The source of `range`, with `&lt;` for each escaped `<`.
    fn text(&self, range: Range<usize>) -> String {
        let source = &self.markdown[range.clone()];
        let first = self.escapes.partition_point(|at| *at < range.start);
        let mut out = String::with_capacity(source.len());
        let mut copied = range.start;
        for &at in self.escapes[first..]
            .iter()
            .take_while(|at| **at < range.end)
        {
            out.push_str(&self.markdown[copied..at]);
            out.push_str("&lt;");
            copied = at + 1;
        }
        out.push_str(&self.markdown[copied..range.end]);
        out
    }
}

/// A fenced code block's opening fence, body and closing fence.
fn fenced(text: &str) -> Option<(&str, &str, &str)> {
    let fence = text.trim_start();
    let marker = if fence.starts_with("```") {
        '`'
    } else if fence.starts_with("~~~") {
        '~'
    } else {
        return None;
    };
    let (open, rest) = text.split_once('\n')?;
    let (body, close) = rest.rsplit_once('\n')?;
    let close_ok = close.trim().len() >= 3 && close.trim().chars().all(|c| c == marker);
    close_ok.then_some((open, body, close))
}

/// Linear in `text`: each piece is found by looking at most `max`
/// characters ahead, and the characters left are counted down, not again.
pub(super) fn split_text(text: &str, max: usize, code: bool) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut left = text.chars().count();
    while left > max {
        let limit = rest
            .char_indices()
            .nth(max)
            .map_or(rest.len(), |(at, _)| at);
        let window = &rest[..limit];
        let cut = safe_cut(window, code).unwrap_or(limit);
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece.trim_end_matches('\n').to_owned());
        let next = if code {
            tail.strip_prefix('\n').unwrap_or(tail)
        } else {
            tail.trim_start_matches(['\n', ' '])
        };
        // Newlines and spaces trimmed are one byte a character.
        left -= piece.chars().count() + (tail.len() - next.len());
        rest = next;
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

/// The best place to cut `window` (a byte offset): after its last newline,
/// else after its last space (in code too: a line longer than a block is
/// cut between words), outside any `<...>` form and inline code span.
fn safe_cut(window: &str, code: bool) -> Option<usize> {
    let mut open_angle = false;
    let mut open_tick = false;
    let (mut last_newline, mut last_space) = (None, None);
    for (at, c) in window.char_indices() {
        match c {
            '<' if !code => open_angle = true,
            '>' if !code => open_angle = false,
            '`' if !code => open_tick = !open_tick,
            '\n' if !open_angle && !open_tick => last_newline = Some(at + 1),
            ' ' if !open_angle && !open_tick => last_space = Some(at + 1),
            _ => {}
        }
    }
    last_newline.or(last_space).filter(|cut| *cut > 0)
}
