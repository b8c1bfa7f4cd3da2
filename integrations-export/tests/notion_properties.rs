//! Property tests of the markdown to Notion converter: for any document
//! made of the forms users write, no rich text item, nesting or batch
//! breaks a Notion limit, and every word of the input's text appears in
//! the output, in order.

mod support;

use integrations_export::markdown::{
    NOTION_BLOCKS_PER_REQUEST, NOTION_NESTING, NOTION_RICH_TEXT_CHARS, markdown_to_notion,
    notion_batches,
};
use proptest::prelude::*;
use serde_json::Value;
use support::{document, input_words, words_of};

/// The blocks of `markdown` as Notion receives them.
fn as_sent(markdown: &str) -> Vec<Value> {
    markdown_to_notion(markdown)
        .iter()
        .map(|block| serde_json::to_value(block).unwrap())
        .collect()
}

/// The block's rich text runs: its rich text, or each of its table cells
/// (a table row's). Notion shows a run's items as one text.
fn runs(block: &Value) -> Vec<Vec<&Value>> {
    let kind = block["type"].as_str().unwrap_or_default();
    let body = &block[kind];
    let mut runs: Vec<Vec<&Value>> = body["rich_text"]
        .as_array()
        .map(|items| vec![items.iter().collect()])
        .unwrap_or_default();
    if let Some(cells) = body["cells"].as_array() {
        runs.extend(
            cells
                .iter()
                .filter_map(Value::as_array)
                .map(|cell| cell.iter().collect()),
        );
    }
    runs
}

fn content(item: &Value) -> &str {
    item["text"]["content"].as_str().unwrap_or_default()
}

fn children(block: &Value) -> Vec<&Value> {
    let kind = block["type"].as_str().unwrap_or_default();
    block[kind]["children"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Depth-first, in document order: (depth, block).
fn walk<'a>(
    blocks: impl IntoIterator<Item = &'a Value>,
    depth: usize,
    out: &mut Vec<(usize, &'a Value)>,
) {
    for block in blocks {
        out.push((depth, block));
        walk(children(block), depth + 1, out);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_item_nesting_or_batch_breaks_a_notion_limit(markdown in document()) {
        let typed = markdown_to_notion(&markdown);
        for batch in notion_batches(&typed) {
            prop_assert!(!batch.is_empty() && batch.len() <= NOTION_BLOCKS_PER_REQUEST);
        }
        let blocks = as_sent(&markdown);
        let mut all = Vec::new();
        walk(&blocks, 0, &mut all);
        for (depth, block) in all {
            // Table rows are a table's own children, not nesting.
            if block["type"] != "table_row" {
                prop_assert!(depth <= NOTION_NESTING, "a block at depth {depth}");
            }
            for item in runs(block).into_iter().flatten() {
                let chars = content(item).chars().count();
                prop_assert!(chars <= NOTION_RICH_TEXT_CHARS, "a rich text item of {chars}");
            }
        }
    }

    #[test]
    fn every_word_written_is_in_the_output_in_order(markdown in document()) {
        let blocks = as_sent(&markdown);
        let mut all = Vec::new();
        walk(&blocks, 0, &mut all);
        let output: Vec<String> = all
            .iter()
            .flat_map(|(_, block)| runs(block))
            .flat_map(|run| words_of(&run.into_iter().map(content).collect::<String>()))
            .collect();
        let mut rest = output.iter();
        for word in input_words(&markdown) {
            prop_assert!(rest.any(|out| *out == word), "`{word}` is missing from the output (or out of order)");
        }
    }
}
