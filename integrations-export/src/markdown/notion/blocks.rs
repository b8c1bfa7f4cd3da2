//! Notion's blocks and rich text as types, serialised as Notion's API
//! takes them.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::NOTION_RICH_TEXT_CHARS;

/// A Notion block: `{"object": "block", "type": "paragraph", "paragraph":
/// {"rich_text": [...], "children": [...]}}`, with the fields its type
/// has.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotionBlock {
    /// Its type: `paragraph`, `heading_1` to `heading_3`,
    /// `bulleted_list_item`, `numbered_list_item`, `to_do`, `quote`,
    /// `code`, `divider`, `table` or `table_row`.
    pub kind: &'static str,
    /// Its text (none for `divider`, `table` and `table_row`).
    pub rich_text: Vec<RichText>,
    /// Its nested blocks (a table's rows).
    pub children: Vec<Self>,
    /// The fields of its type.
    pub fields: BlockFields,
}

/// The fields a block's type has besides its text and children.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockFields {
    /// None.
    None,
    /// A `code` block's language (`plain text` when none was given).
    Code {
        /// The language.
        language: String,
    },
    /// A `to_do`'s check.
    ToDo {
        /// Whether it is done.
        checked: bool,
    },
    /// A `table`'s width (its header is its first row).
    Table {
        /// Cells a row.
        width: usize,
    },
    /// A `table_row`'s cells.
    TableRow {
        /// Each cell's text.
        cells: Vec<Vec<RichText>>,
    },
}

/// A run of text with one set of annotations: `{"type": "text", "text":
/// {"content", "link"}, "annotations": {...}}`; the converter makes none
/// longer than 2000 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RichText {
    /// The text.
    pub content: String,
    /// The link's URL, if it is one.
    pub link: Option<String>,
    /// Bold.
    pub bold: bool,
    /// Italic.
    pub italic: bool,
    /// Struck through.
    pub strikethrough: bool,
    /// Inline code.
    pub code: bool,
}

impl RichText {
    pub(super) fn same_style(&self, other: &Self) -> bool {
        (
            self.bold,
            self.italic,
            self.strikethrough,
            self.code,
            &self.link,
        ) == (
            other.bold,
            other.italic,
            other.strikethrough,
            other.code,
            &other.link,
        )
    }
}

impl NotionBlock {
    pub(super) fn new(kind: &'static str) -> Self {
        Self {
            kind,
            rich_text: Vec::new(),
            children: Vec::new(),
            fields: BlockFields::None,
        }
    }

    /// The block's text, its runs joined.
    pub fn text(&self) -> String {
        self.rich_text
            .iter()
            .map(|run| run.content.as_str())
            .collect()
    }

    fn has_rich_text(&self) -> bool {
        !matches!(self.kind, "divider" | "table" | "table_row")
    }
}

/// Runs of at most [`NOTION_RICH_TEXT_CHARS`] characters: longer ones are
/// cut (a run of at most that many bytes is never looked at twice).
pub(super) fn split_runs(runs: &mut Vec<RichText>) {
    if runs
        .iter()
        .all(|run| run.content.len() <= NOTION_RICH_TEXT_CHARS)
    {
        return;
    }
    let mut out = Vec::with_capacity(runs.len() + 1);
    for run in runs.drain(..) {
        if run.content.len() <= NOTION_RICH_TEXT_CHARS {
            out.push(run);
            continue;
        }
        let mut rest = run.content.as_str();
        while !rest.is_empty() {
            let cut = rest
                .char_indices()
                .nth(NOTION_RICH_TEXT_CHARS)
                .map_or(rest.len(), |(at, _)| at);
            let (piece, tail) = rest.split_at(cut);
            out.push(RichText {
                content: piece.to_owned(),
                ..run.clone()
            });
            rest = tail;
        }
    }
    *runs = out;
}

/// Serialises as Notion takes it, keys in the order Notion documents them
/// sorted (as a `serde_json::Value` would hold them).
impl Serialize for NotionBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        // The body's key sorts among "object" and "type".
        let body = Body(self);
        if self.kind < "object" {
            map.serialize_entry(self.kind, &body)?;
        }
        map.serialize_entry("object", "block")?;
        if self.kind > "object" && self.kind < "type" {
            map.serialize_entry(self.kind, &body)?;
        }
        map.serialize_entry("type", self.kind)?;
        if self.kind > "type" {
            map.serialize_entry(self.kind, &body)?;
        }
        map.end()
    }
}

/// A block's body: its fields, text and children, keys sorted.
struct Body<'a>(&'a NotionBlock);

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let block = self.0;
        let mut map = serializer.serialize_map(None)?;
        match &block.fields {
            BlockFields::TableRow { cells } => map.serialize_entry("cells", cells)?,
            BlockFields::ToDo { checked } => map.serialize_entry("checked", checked)?,
            _ => {}
        }
        let children: Vec<&NotionBlock> = block
            .children
            .iter()
            .filter(|child| !child.kind.is_empty())
            .collect();
        if !children.is_empty() {
            map.serialize_entry("children", &children)?;
        }
        if let BlockFields::Table { width } = &block.fields {
            map.serialize_entry("has_column_header", &true)?;
            map.serialize_entry("has_row_header", &false)?;
            map.serialize_entry("table_width", width)?;
        }
        if let BlockFields::Code { language } = &block.fields {
            map.serialize_entry("language", language)?;
        }
        if block.has_rich_text() {
            map.serialize_entry("rich_text", &block.rich_text)?;
        }
        map.end()
    }
}

impl Serialize for RichText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Annotations<'a>(&'a RichText);
        impl Serialize for Annotations<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let run = self.0;
                let mut map = serializer.serialize_map(Some(6))?;
                map.serialize_entry("bold", &run.bold)?;
                map.serialize_entry("code", &run.code)?;
                map.serialize_entry("color", "default")?;
                map.serialize_entry("italic", &run.italic)?;
                map.serialize_entry("strikethrough", &run.strikethrough)?;
                map.serialize_entry("underline", &false)?;
                map.end()
            }
        }
        struct Text<'a>(&'a RichText);
        impl Serialize for Text<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                struct Link<'a>(&'a str);
                impl Serialize for Link<'_> {
                    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                        let mut map = serializer.serialize_map(Some(1))?;
                        map.serialize_entry("url", self.0)?;
                        map.end()
                    }
                }
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("content", &self.0.content)?;
                map.serialize_entry("link", &self.0.link.as_deref().map(Link))?;
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("annotations", &Annotations(self))?;
        map.serialize_entry("text", &Text(self))?;
        map.serialize_entry("type", "text")?;
        map.end()
    }
}
