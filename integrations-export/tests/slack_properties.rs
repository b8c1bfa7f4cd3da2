//! Property tests of the markdown to Slack converter: for any document
//! made of the forms users write, no message breaks a Slack limit, and
//! every word of the input's text appears in the output, in order.

mod support;

use integrations_export::markdown::{SlackLimits, markdown_to_slack};
use proptest::prelude::*;
use support::{document, input_words, unescape, words_of};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_message_breaks_a_slack_limit(markdown in document()) {
        let limits = SlackLimits::default();
        for message in markdown_to_slack(&markdown) {
            prop_assert!(!message.blocks.is_empty());
            prop_assert!(message.blocks.len() <= limits.blocks_per_message);
            let mut total = 0;
            // What Slack receives: the serialised arguments.
            let post = message.to_post("C024BE91L");
            for block in post["blocks"].as_array().unwrap() {
                let text = block["text"]["text"].as_str().unwrap_or_default();
                let chars = text.chars().count();
                match block["type"].as_str().unwrap() {
                    "header" => prop_assert!(chars <= limits.header_chars, "header of {chars}"),
                    "section" => prop_assert!(chars <= limits.section_chars, "section of {chars}"),
                    "divider" => {}
                    other => prop_assert!(false, "unexpected block {other}"),
                }
                total += chars;
            }
            prop_assert!(total <= limits.message_chars, "message of {total}");
            prop_assert!(message.text.chars().count() <= limits.section_chars);
        }
    }

    #[test]
    fn every_word_written_is_in_the_output_in_order(markdown in document()) {
        let output: Vec<String> = markdown_to_slack(&markdown)
            .iter()
            .flat_map(|message| message.blocks.iter())
            .filter_map(integrations_export::markdown::SlackBlock::text)
            .flat_map(|text| words_of(&unescape(text)))
            .collect();
        let mut rest = output.iter();
        for word in input_words(&markdown) {
            prop_assert!(
                rest.any(|out| *out == word),
                "`{word}` is missing from the output (or out of order)"
            );
        }
    }
}
