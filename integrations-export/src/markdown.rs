//! Markdown converters: GitHub-flavoured markdown to Slack Block Kit and to
//! Notion blocks, split so that no platform limit is broken.

mod notion;
mod slack;

pub use notion::{
    NOTION_BLOCKS_PER_REQUEST, NOTION_NESTING, NOTION_RICH_TEXT_CHARS, markdown_to_notion,
    notion_batches,
};
pub use slack::{
    SlackBlock, SlackLimits, SlackMessage, TextObject, markdown_to_slack, markdown_to_slack_with,
};
