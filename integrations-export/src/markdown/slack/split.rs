//! Splitting blocks past Slack's per-block limits and packing them into
//! messages.

use super::super::chunks::split_text;
use super::escape::escape;
use super::{Block, SlackMessage, SlackOptions};

/// Splits blocks past the per-block limits.
pub(super) fn split(blocks: Vec<Block>, limits: SlackOptions) -> Vec<Block> {
    let mut out = Vec::with_capacity(blocks.len());
    for block in blocks {
        match block {
            Block::Section(text) if text.chars().count() > limits.section_chars => {
                out.extend(
                    split_section(&text, limits.section_chars)
                        .into_iter()
                        .map(Block::Section),
                );
            }
            Block::Header(text) if text.chars().count() > limits.header_chars => {
                out.push(Block::Section(format!(
                    "*{}*",
                    escape(&text, limits.broadcasts)
                )));
            }
            other => out.push(other),
        }
    }
    out
}

/// Splits a section's text into pieces of at most `max` characters. Code
/// blocks are cut between lines and each piece is fenced again; text is cut
/// after a newline or a space, never inside a `<...>` form or inline code.
fn split_section(text: &str, max: usize) -> Vec<String> {
    if text.starts_with("```\n") && text.ends_with("\n```") && text.matches("```").count() == 2 {
        let body = &text[4..text.len() - 4];
        return split_text(body, max.saturating_sub(8).max(1), true)
            .into_iter()
            .map(|piece| format!("```\n{piece}\n```"))
            .collect();
    }
    split_text(text, max, false)
}

/// Packs blocks into messages under the per-message limits.
pub(super) fn pack(blocks: Vec<Block>, limits: SlackOptions) -> Vec<SlackMessage> {
    let mut messages = Vec::new();
    let mut current: Vec<Block> = Vec::new();
    let mut chars = 0;
    for block in blocks {
        let size = block.chars();
        let second_table = matches!(block, Block::Table(_))
            && current.iter().any(|block| matches!(block, Block::Table(_)));
        if !current.is_empty()
            && (current.len() == limits.blocks_per_message
                || chars + size > limits.message_chars
                || second_table)
        {
            messages.push(message(std::mem::take(&mut current)));
            chars = 0;
        }
        chars += size;
        current.push(block);
    }
    if !current.is_empty() {
        messages.push(message(current));
    }
    messages
}

/// The notification text Slack shows for a message: its first text, at
/// most 3000 characters.
const NOTIFICATION_CHARS: usize = 3000;

fn message(blocks: Vec<Block>) -> SlackMessage {
    let text = blocks
        .iter()
        .find_map(|block| match block {
            Block::Header(text) | Block::Section(text) | Block::Markdown(text) => {
                Some(text.chars().take(NOTIFICATION_CHARS).collect())
            }
            Block::Table(cells) => cells.rows.first().map(|header| header.join(" | ")),
            Block::Divider => None,
        })
        .unwrap_or_default();
    SlackMessage {
        text,
        blocks: blocks.into_iter().map(Block::into_slack).collect(),
    }
}
