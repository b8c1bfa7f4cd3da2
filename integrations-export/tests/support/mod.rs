//! What the converter property tests share: a generator of documents made
//! of the forms users write, and the words a person wrote in one.
#![allow(dead_code, unreachable_pub)]

use proptest::prelude::*;
use pulldown_cmark::{Event, Options, Parser};

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]{1,12}"
}

fn inline() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => word(),
        1 => (word(), word()).prop_map(|(a, b)| format!("**{a} {b}**")),
        1 => word().prop_map(|w| format!("*{w}*")),
        1 => word().prop_map(|w| format!("~~{w}~~")),
        1 => word().prop_map(|w| format!("`{w} < {w}`")),
        1 => (word(), word()).prop_map(|(a, b)| format!("[{a} {b}](https://ex.test/{a}?q={b}&r=1)")),
        1 => Just("<@U024BE7LH>".to_owned()),
        1 => Just("&".to_owned()),
        1 => Just("a<b".to_owned()),
        1 => Just("x > y".to_owned()),
    ]
}

fn words(range: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(word(), range).prop_map(|w| w.join(" "))
}

fn block() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(inline(), 1..60).prop_map(|p| p.join(" ")),
        1 => words(400..900),
        1 => (1..4usize, words(1..50)).prop_map(|(level, text)| format!("{} {text}", "#".repeat(level))),
        1 => prop::collection::vec(words(1..8), 1..6)
            .prop_map(|items| items.iter().map(|i| format!("- {i}")).collect::<Vec<_>>().join("\n")),
        1 => prop::collection::vec(words(1..10), 1..400)
            .prop_map(|lines| format!("```\n{}\n```", lines.join("\n"))),
        1 => words(1..40).prop_map(|text| format!("> {text}")),
        1 => (word(), word(), word(), word())
            .prop_map(|(a, b, c, d)| format!("| {a} | {b} |\n|---|---|\n| {c} | {d} |")),
        1 => Just("---".to_owned()),
        1 => table(),
    ]
}

/// A table of up to 150 rows and 25 columns (past Slack's 100 and 20), a
/// few of its cells long.
fn table() -> impl Strategy<Value = String> {
    (1..25usize, 0..130usize).prop_flat_map(|(columns, rows)| {
        let cell = prop_oneof![16 => word(), 2 => Just(String::new()), 1 => words(20..80)];
        prop::collection::vec(prop::collection::vec(cell, columns), rows + 1).prop_map(
            move |rows| {
                let line = |row: &Vec<String>| format!("| {} |", row.join(" | "));
                let mut lines = vec![line(&rows[0]), format!("|{}", "---|".repeat(columns))];
                lines.extend(rows[1..].iter().map(line));
                lines.join("\n")
            },
        )
    })
}

pub fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(block(), 1..90).prop_map(|blocks| blocks.join("\n\n"))
}

/// Maximal runs of letters and digits.
pub fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The words of the text a person wrote: text and code spans.
pub fn input_words(markdown: &str) -> Vec<String> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut text = String::new();
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            _ => text.push(' '),
        }
    }
    words_of(&text)
}

pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
