//! Documents written to hurt: deep nesting, runs of `<`, wide tables. What
//! a host relies on is that the converters' output (and so their work) is
//! at most a constant times the input, whatever the input; the benchmark
//! `cargo bench -p integrations-export --bench convert` shows the time.

use integrations_export::markdown::{
    SlackFormat, SlackOptions, markdown_to_html, markdown_to_notion, markdown_to_slack,
    markdown_to_slack_with, markdown_to_text,
};

#[path = "support/hostile.rs"]
mod hostile;

use hostile::hostile;

fn slack_chars(markdown: &str) -> usize {
    markdown_to_slack(markdown)
        .iter()
        .map(|message| message.to_post("C1").to_string().len())
        .sum()
}

fn slack_markdown_chars(markdown: &str) -> usize {
    let mut options = SlackOptions::default();
    options.format = SlackFormat::Markdown;
    markdown_to_slack_with(markdown, options)
        .iter()
        .map(|message| message.to_post("C1").to_string().len())
        .sum()
}

fn notion_bytes(markdown: &str) -> usize {
    markdown_to_notion(markdown)
        .iter()
        .map(|block| serde_json::to_string(block).unwrap().len())
        .sum()
}

/// Output per byte of input, for both converters: every block, every
/// message and the JSON around them included.
const AT_MOST_PER_BYTE: usize = 80;

/// Asserts that `converter`'s output is at most a constant times the
/// input for every shape.
fn linear(converter: &str, output_bytes: fn(&str) -> usize) {
    for (shape, markdown) in hostile(4096) {
        let out = output_bytes(&markdown);
        assert!(
            out <= AT_MOST_PER_BYTE * markdown.len() + 4096,
            "{converter}, {shape}: {} bytes of markdown gave {out} bytes",
            markdown.len()
        );
    }
}

#[test]
fn slack_output_is_at_most_a_constant_times_the_input() {
    linear("slack", slack_chars);
}

#[test]
fn slack_markdown_block_output_is_at_most_a_constant_times_the_input() {
    linear("slack markdown blocks", slack_markdown_chars);
}

#[test]
fn email_parts_are_at_most_a_constant_times_the_input() {
    linear("email text", |m| markdown_to_text(m).len());
    linear("email html", |m| markdown_to_html(m).len());
}

#[test]
fn notion_output_is_at_most_a_constant_times_the_input() {
    linear("notion", notion_bytes);
}

#[test]
fn text_under_deep_nesting_is_kept() {
    // Past the honoured depth, levels are flat, but no word is dropped.
    let markdown = format!("{}deep words here", "> ".repeat(40));
    let text: String = markdown_to_slack(&markdown)
        .iter()
        .flat_map(|m| m.blocks.iter().filter_map(|b| b.text().map(String::from)))
        .collect();
    assert!(text.contains("deep words here"), "{text}");
    let list: String = (0..30)
        .map(|depth| format!("{}- level{depth}\n", "  ".repeat(depth)))
        .collect();
    let text: String = markdown_to_slack(&list)
        .iter()
        .flat_map(|m| m.blocks.iter().filter_map(|b| b.text().map(String::from)))
        .collect();
    for depth in 0..30 {
        assert!(text.contains(&format!("level{depth}")), "level{depth}");
    }
    let notion = serde_json::to_string(&markdown_to_notion(&list)).unwrap();
    for depth in 0..30 {
        assert!(
            notion.contains(&format!("\"level{depth}\"")),
            "level{depth}"
        );
    }
}
