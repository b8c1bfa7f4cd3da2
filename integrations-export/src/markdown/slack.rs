//! Markdown to Slack Block Kit, as mrkdwn sections or as `markdown` and
//! `table` blocks, split so that no message breaks a Slack limit and
//! nothing the user wrote is dropped.

mod escape;
mod mrkdwn;
mod native;
mod split;

use pulldown_cmark::Alignment;
use serde::Serialize;
use serde_json::{Value, json};

use split::{pack, split};

/// Which blocks a document becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlackFormat {
    /// `header`, `section` (mrkdwn) and `divider` blocks, which every Slack
    /// client shows; tables as aligned text in a code block. The markdown
    /// is converted to mrkdwn here.
    #[default]
    Mrkdwn,
    /// `markdown` blocks, which Slack renders itself (standard markdown, up
    /// to 12,000 characters a message), and native `table` blocks for
    /// top-level tables (one a message: a second table starts the next
    /// one). The document's own text is sent, cut between its blocks.
    Markdown,
}

/// How a document becomes Slack messages: the format, and Slack's limits
/// as documented for `chat.postMessage` and its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackOptions {
    /// The blocks used.
    pub format: SlackFormat,
    /// Blocks in one message (Slack: 50).
    pub blocks_per_message: usize,
    /// Characters of one section's text (Slack: 3000).
    pub section_chars: usize,
    /// Characters of a header's plain text (Slack: 150).
    pub header_chars: usize,
    /// Characters of all the blocks of one message together; Slack refuses
    /// a message near 13,000 (`msg_blocks_too_long`), so 12,000 (also
    /// Slack's limit for the `markdown` blocks of one message together).
    pub message_chars: usize,
    /// Rows of one `table` block, its header row included (Slack: 100).
    pub table_rows: usize,
    /// Cells of one table row (Slack: 20); a wider table is sent as aligned
    /// text.
    pub table_columns: usize,
    /// Characters of all the cells of one `table` block (Slack: 10,000).
    pub table_chars: usize,
    /// Whether `<!here>`, `<!channel>` and `<!everyone>` written in the
    /// text notify the channel. Off by default: exported text is often a
    /// model's or a third party's, and is shown as text (`&lt;!here&gt;`).
    pub broadcasts: bool,
}

impl Default for SlackOptions {
    fn default() -> Self {
        Self {
            format: SlackFormat::Mrkdwn,
            blocks_per_message: 50,
            section_chars: 3000,
            header_chars: 150,
            message_chars: 12_000,
            table_rows: 100,
            table_columns: 20,
            table_chars: 10_000,
            broadcasts: false,
        }
    }
}

/// One Slack message: its blocks and the plain `text` Slack shows in
/// notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SlackMessage {
    /// The notification text (the first block's text, at most 3000
    /// characters).
    pub text: String,
    /// The Block Kit blocks.
    pub blocks: Vec<SlackBlock>,
}

impl SlackMessage {
    /// The `chat.postMessage` arguments for `channel` (add `thread_ts` to
    /// post in a thread).
    pub fn to_post(&self, channel: &str) -> Value {
        json!({"channel": channel, "text": self.text, "blocks": self.blocks})
    }
}

/// A Block Kit block, serialised as Slack documents it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SlackBlock {
    /// `{"type": "header", "text": {"type": "plain_text", ...}}`.
    Header {
        /// The heading, as plain text.
        text: TextObject,
    },
    /// `{"type": "section", "text": {"type": "mrkdwn", ...}}`.
    Section {
        /// The mrkdwn text.
        text: TextObject,
    },
    /// `{"type": "divider"}`.
    Divider,
    /// `{"type": "markdown", "text": "..."}`: standard markdown, rendered
    /// by Slack.
    Markdown {
        /// The markdown.
        text: String,
    },
    /// `{"type": "table", "rows": [...], "column_settings": [...]}`.
    Table {
        /// The rows, the header first; every cell `raw_text`.
        rows: Vec<Vec<TableCell>>,
        /// Each column's alignment.
        column_settings: Vec<ColumnSetting>,
    },
}

impl SlackBlock {
    /// The block's text, if it has one (a table's cells, a row a line and
    /// cells separated by ` | `).
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Self::Header { text } | Self::Section { text } => Some(text.text.as_str().into()),
            Self::Markdown { text } => Some(text.as_str().into()),
            Self::Table { rows, .. } => Some(
                rows.iter()
                    .map(|row| {
                        row.iter()
                            .map(|cell| cell.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into(),
            ),
            Self::Divider => None,
        }
    }
}

/// A cell of a `table` block: `{"type": "raw_text", "text": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TableCell {
    /// `raw_text`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The cell's text, shown as it is (a space for an empty cell: Slack
    /// refuses empty text).
    pub text: String,
}

/// How a table column is shown: `{"align": "left"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ColumnSetting {
    /// `left`, `center` or `right`.
    pub align: &'static str,
}

/// A Block Kit text object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TextObject {
    /// `plain_text` or `mrkdwn`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The text.
    pub text: String,
    /// Whether emoji names show as emoji (plain text only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emoji: Option<bool>,
}

/// One block before packing into messages.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Header(String),
    Section(String),
    Divider,
    Markdown(String),
    Table(Cells),
}

/// A table's cells, the header row first.
#[derive(Debug, Clone, PartialEq)]
struct Cells {
    alignments: Vec<Alignment>,
    rows: Vec<Vec<String>>,
}

impl Block {
    fn chars(&self) -> usize {
        match self {
            Self::Header(text) | Self::Section(text) | Self::Markdown(text) => text.chars().count(),
            Self::Table(cells) => cells
                .rows
                .iter()
                .flatten()
                .map(|cell| cell.chars().count())
                .sum(),
            Self::Divider => 0,
        }
    }

    fn into_slack(self) -> SlackBlock {
        match self {
            Self::Header(text) => SlackBlock::Header {
                text: TextObject {
                    kind: "plain_text",
                    text,
                    emoji: Some(true),
                },
            },
            Self::Section(text) => SlackBlock::Section {
                text: TextObject {
                    kind: "mrkdwn",
                    text,
                    emoji: None,
                },
            },
            Self::Divider => SlackBlock::Divider,
            Self::Markdown(text) => SlackBlock::Markdown { text },
            Self::Table(Cells { alignments, rows }) => {
                let columns = rows.first().map_or(0, Vec::len);
                SlackBlock::Table {
                    column_settings: (0..columns)
                        .map(|c| ColumnSetting {
                            align: match alignments.get(c) {
                                Some(Alignment::Center) => "center",
                                Some(Alignment::Right) => "right",
                                _ => "left",
                            },
                        })
                        .collect(),
                    rows: rows
                        .into_iter()
                        .map(|row| {
                            row.into_iter()
                                .map(|text| TableCell {
                                    kind: "raw_text",
                                    text,
                                })
                                .collect()
                        })
                        .collect(),
                }
            }
        }
    }
}

/// Converts GitHub-flavoured markdown to Slack messages.
///
/// - Headings become `header` blocks (as bold sections past 150
///   characters); paragraphs, lists and quotes become mrkdwn sections;
///   rules become dividers; fenced code stays fenced; tables become
///   aligned text in a code block.
/// - Emphasis, strong, strikethrough, inline code and links take mrkdwn's
///   forms (`_x_`, `*x*`, `~x~`, `` `x` ``, `<url|label>`); task items
///   show ☐ and ☑.
/// - `&`, `<` and `>` are escaped, except in Slack's own forms written in
///   the text (`<@U123>`, `<#C123>`, `<!here>`, `<https://a|b>`).
/// - Past a limit, text is split (between lines, then words, never inside
///   a code block's fences or a `<...>` form), and blocks spill into
///   further messages.
///
/// ```
/// use integrations_export::markdown::markdown_to_slack;
///
/// let messages = markdown_to_slack("# Release\n\nShipped **v2** to <@U024BE7LH>: see [notes](https://example.com/n).");
/// let post = messages[0].to_post("C024BE91L");
/// assert_eq!(post["blocks"][0]["type"], "header");
/// assert_eq!(post["blocks"][1]["text"]["text"], "Shipped *v2* to <@U024BE7LH>: see <https://example.com/n|notes>.");
/// ```
pub fn markdown_to_slack(markdown: &str) -> Vec<SlackMessage> {
    markdown_to_slack_with(markdown, SlackOptions::default())
}

/// [`markdown_to_slack`] in another format or with other limits.
///
/// ```
/// use integrations_export::markdown::{SlackFormat, SlackOptions, markdown_to_slack_with};
///
/// let mut options = SlackOptions::default();
/// options.format = SlackFormat::Markdown;
/// let messages = markdown_to_slack_with("Shipped **v2**.\n\n| a | b |\n|---|--:|\n| 1 | 2 |", options);
/// let post = messages[0].to_post("C024BE91L");
/// assert_eq!(post["blocks"][0]["type"], "markdown");
/// assert_eq!(post["blocks"][0]["text"], "Shipped **v2**.");
/// assert_eq!(post["blocks"][1]["type"], "table");
/// assert_eq!(post["blocks"][1]["rows"][1][1]["text"], "2");
/// assert_eq!(post["blocks"][1]["column_settings"][1]["align"], "right");
/// ```
pub fn markdown_to_slack_with(markdown: &str, options: SlackOptions) -> Vec<SlackMessage> {
    let markdown = super::with_bounded_nesting(markdown);
    let blocks = match options.format {
        SlackFormat::Markdown => native::blocks(&markdown, options),
        SlackFormat::Mrkdwn => split(mrkdwn::blocks(&markdown, options.broadcasts), options),
    };
    pack(blocks, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(markdown: &str) -> Vec<String> {
        markdown_to_slack(markdown)
            .iter()
            .flat_map(|m| m.blocks.iter())
            .map(|b| b.text().map_or("divider".to_owned(), Into::into))
            .collect()
    }

    #[test]
    fn inline_forms_take_mrkdwn_shapes() {
        assert_eq!(
            texts(
                "Some *em*, **strong**, ~~gone~~, `a < b` and [a link](https://x.test/a?b=1&c=2)."
            ),
            ["Some _em_, *strong*, ~gone~, `a &lt; b` and <https://x.test/a?b=1&c=2|a link>."]
        );
        assert_eq!(
            texts("Tom & Jerry <3 > 2, cc <@U024BE7LH> in <#C024BE7LR|general> <!subteam^S1>"),
            ["Tom &amp; Jerry &lt;3 &gt; 2, cc <@U024BE7LH> in <#C024BE7LR|general> <!subteam^S1>"]
        );
        assert_eq!(
            texts("<https://autolink.test>"),
            ["<https://autolink.test>"]
        );
    }

    #[test]
    fn broadcasts_notify_only_when_allowed() {
        // Security review, observation: `<!channel>` in model-written text
        // notified the whole channel.
        let markdown = "Ping <!here>, <!channel> and <!everyone|all>";
        assert_eq!(
            texts(markdown),
            ["Ping &lt;!here&gt;, &lt;!channel&gt; and &lt;!everyone|all&gt;"]
        );
        let allowed = SlackOptions {
            broadcasts: true,
            ..SlackOptions::default()
        };
        let messages = markdown_to_slack_with(markdown, allowed);
        assert_eq!(
            messages[0].blocks[0].text().as_deref(),
            Some("Ping <!here>, <!channel> and <!everyone|all>")
        );
    }

    #[test]
    fn block_forms_become_blocks() {
        let markdown = "# Title\n\nIntro\n\n- one\n- two\n  1. nested\n\n- [x] done\n- [ ] todo\n\n> quoted\n> text\n\n---\n\n```rust\nlet x = a < b;\n```\n\n| a | long b |\n|---|---|\n| 1 | 2 |\n\n#### Small heading";
        assert_eq!(
            texts(markdown),
            [
                "Title",
                "Intro",
                // One list: CommonMark joins lists with the same marker.
                "• one\n• two\n    1. nested\n• ☑ done\n• ☐ todo",
                "> quoted text",
                "divider",
                "```\nlet x = a &lt; b;\n```",
                "```\na | long b\n--+-------\n1 | 2\n```",
                "*Small heading*",
            ]
        );
    }

    #[test]
    fn long_sections_split_between_words_and_code_keeps_its_fences() {
        let long = "word ".repeat(1000);
        let pieces = texts(&long);
        assert!(pieces.len() >= 2);
        assert!(pieces.iter().all(|p| p.chars().count() <= 3000));
        assert!(
            pieces
                .iter()
                .all(|p| !p.starts_with(' ') && !p.ends_with("wor"))
        );
        let code = format!("```\n{}```", "let line = 1;\n".repeat(500));
        let pieces = texts(&code);
        assert!(pieces.len() >= 3, "{}", pieces.len());
        for piece in &pieces {
            assert!(
                piece.starts_with("```\n") && piece.ends_with("\n```"),
                "{piece}"
            );
            assert!(piece.chars().count() <= 3000);
        }
    }

    #[test]
    fn many_blocks_spill_into_further_messages() {
        let markdown = (0..120)
            .map(|i| format!("Paragraph {i}"))
            .collect::<Vec<_>>()
            .join("\n\n");
        let messages = markdown_to_slack(&markdown);
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages.iter().map(|m| m.blocks.len()).collect::<Vec<_>>(),
            [50, 50, 20]
        );
        assert_eq!(messages[1].text, "Paragraph 50");
    }
}
