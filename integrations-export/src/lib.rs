//! Exporting content from `integrations` to Slack, Notion, GitHub, webhooks
//! and audit files.
//!
//! **Status: in progress.** The markdown to Slack converter is built:
//! GitHub-flavoured markdown to Block Kit and mrkdwn, split so that no
//! message breaks a Slack limit and nothing the user wrote is dropped.
//! Providers, the Notion converter, the export service, the durable outbox
//! and fan-out are still to come.
//!
//! ```
//! use integrations_export::markdown_to_slack;
//!
//! let report = format!("# Weekly report\n\n{}", "A finding worth a paragraph.\n\n".repeat(80));
//! let messages = markdown_to_slack(&report);
//! assert_eq!(messages.len(), 2, "81 blocks: 50 in the first message, 31 in the second");
//! assert_eq!(messages[0].blocks[0]["type"], "header");
//! let post = messages[0].to_post("C024BE91L"); // chat.postMessage arguments
//! assert_eq!(post["blocks"].as_array().unwrap().len(), 50);
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod slack;

pub use integrations_core as core;
pub use slack::{SlackLimits, SlackMessage, markdown_to_slack, markdown_to_slack_with};
