//! Exporting content from `integrations` to Slack, Notion, GitHub, webhooks
//! and audit files.
//!
//! **Status: in progress.** The markdown converters are built:
//! GitHub-flavoured markdown to Slack Block Kit and mrkdwn
//! ([`markdown_to_slack`]) and to Notion blocks ([`markdown_to_notion`]),
//! split so that no message or request breaks a platform limit and nothing
//! the user wrote is dropped. Providers, the export service, the durable
//! outbox and fan-out are still to come.
//!
//! ```
//! use integrations_export::{SlackBlock, markdown_to_slack};
//!
//! let report = format!("# Weekly report\n\n{}", "A finding worth a paragraph.\n\n".repeat(80));
//! let messages = markdown_to_slack(&report);
//! assert_eq!(messages.len(), 2, "81 blocks: 50 in the first message, 31 in the second");
//! assert!(matches!(messages[0].blocks[0], SlackBlock::Header { .. }));
//! let post = messages[0].to_post("C024BE91L"); // chat.postMessage arguments
//! assert_eq!(post["blocks"].as_array().unwrap().len(), 50);
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod notion;
mod slack;

pub use integrations_core as core;
pub use notion::{
    NOTION_BLOCKS_PER_REQUEST, NOTION_NESTING, NOTION_RICH_TEXT_CHARS, markdown_to_notion,
    notion_batches,
};
pub use slack::{
    SlackBlock, SlackLimits, SlackMessage, TextObject, markdown_to_slack, markdown_to_slack_with,
};
