//! Property tests of the markdown to Slack converter: for any document
//! made of the forms users write, no message breaks a Slack limit, and
//! every word of the input's text appears in the output, in order.

mod support;

use integrations_export::markdown::{
    SlackBlock, SlackFormat, SlackOptions, markdown_to_slack, markdown_to_slack_with,
};
use proptest::prelude::*;
use support::{document, input_words, unescape, words_of};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_message_breaks_a_slack_limit(markdown in document()) {
        let limits = SlackOptions::default();
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
            .filter_map(SlackBlock::text)
            .flat_map(|text| words_of(&unescape(&text)))
            .collect();
        let mut rest = output.iter();
        for word in input_words(&markdown) {
            prop_assert!(
                rest.any(|out| *out == word),
                "`{word}` is missing from the output (or out of order)"
            );
        }
    }

    #[test]
    fn markdown_blocks_break_no_slack_limit(markdown in document()) {
        let options = markdown_options();
        for message in markdown_to_slack_with(&markdown, options) {
            let post = message.to_post("C024BE91L");
            let blocks = post["blocks"].as_array().unwrap();
            prop_assert!(!blocks.is_empty());
            prop_assert!(blocks.len() <= options.blocks_per_message);
            let (mut markdown_chars, mut all_chars, mut tables) = (0, 0, 0);
            for block in blocks {
                match block["type"].as_str().unwrap() {
                    "markdown" => {
                        let chars = block["text"].as_str().unwrap().chars().count();
                        prop_assert!(chars > 0);
                        markdown_chars += chars;
                        all_chars += chars;
                    }
                    "table" => {
                        tables += 1;
                        let rows = block["rows"].as_array().unwrap();
                        prop_assert!(rows.len() <= options.table_rows, "{} rows", rows.len());
                        let mut cells = 0;
                        for row in rows {
                            let row = row.as_array().unwrap();
                            prop_assert!(row.len() <= options.table_columns);
                            for cell in row {
                                prop_assert_eq!(&cell["type"], "raw_text");
                                let text = cell["text"].as_str().unwrap();
                                prop_assert!(!text.is_empty(), "Slack refuses an empty cell");
                                cells += text.chars().count();
                            }
                        }
                        prop_assert!(cells <= options.table_chars, "table of {cells}");
                        all_chars += cells;
                    }
                    other => prop_assert!(false, "unexpected block {other}"),
                }
            }
            prop_assert!(tables <= 1, "{tables} tables in one message");
            prop_assert!(markdown_chars <= options.message_chars);
            prop_assert!(all_chars <= options.message_chars, "message of {all_chars}");
        }
    }

    #[test]
    fn markdown_blocks_keep_every_word_in_order(markdown in document()) {
        let output: Vec<String> = markdown_to_slack_with(&markdown, markdown_options())
            .iter()
            .flat_map(|message| message.blocks.iter())
            .filter_map(SlackBlock::text)
            .flat_map(|text| words_of(&unescape(&text)))
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

fn markdown_options() -> SlackOptions {
    let mut options = SlackOptions::default();
    options.format = SlackFormat::Markdown;
    options
}
