//! Markdown written to hurt a converter (security review, finding 2): the
//! shapes the test `hostile_documents` and the bench `convert` share.

/// Each shape at about `size` bytes, with its name.
pub(crate) fn hostile(size: usize) -> Vec<(&'static str, String)> {
    let half = size / 2;
    vec![
        // D nested quotes, then M lazy continuation lines ending in hard breaks.
        (
            "nested quotes, lazy lines",
            format!("{}a\\\n{}", ">".repeat(half / 2), "b\\\n".repeat(half / 6)),
        ),
        (
            "a list nested on one line",
            format!("{}x", "- ".repeat(half)),
        ),
        (
            "a deep list, lazy lines",
            format!("{}a\\\n{}", "- ".repeat(half / 4), "b\\\n".repeat(half / 6)),
        ),
        (
            "a list nested line by line",
            (0..)
                .map(|depth| format!("{}- item\n", "  ".repeat(depth)))
                .scan(0, |total, line| {
                    *total += line.len();
                    (*total <= size).then_some(line)
                })
                .collect(),
        ),
        ("a run of `<`", "<".repeat(size)),
        (
            "a wide header over short rows",
            format!(
                "{}|\n{}|\n{}",
                "|h".repeat(half / 4),
                "|-".repeat(half / 4),
                "|x|\n".repeat(half / 4)
            ),
        ),
        (
            "one wide cell over many rows",
            format!(
                "|{}|b|\n|-|-|\n{}",
                "w".repeat(half / 2),
                "|x|y|\n".repeat(half / 6)
            ),
        ),
    ]
}
