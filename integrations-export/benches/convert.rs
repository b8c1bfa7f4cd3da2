//! Markdown conversion throughput: `markdown_to_slack` and
//! `markdown_to_notion` against pulldown-cmark's own HTML renderer (the
//! baseline) on the same input, this repository's guides (about 60 KB of
//! real markdown), in alternating rounds of one invocation.
//!
//! ```sh
//! cargo bench -p integrations-export --bench convert
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use integrations_export::markdown::{markdown_to_notion, markdown_to_slack};
use pulldown_cmark::{Options, Parser, html};

const DOCS: [&str; 6] = [
    include_str!("../../README.md"),
    include_str!("../../docs/getting-started.md"),
    include_str!("../../docs/credentials.md"),
    include_str!("../../docs/mcp.md"),
    include_str!("../../docs/vendor.md"),
    include_str!("../../docs/PERFORMANCE.md"),
];

fn html_baseline(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(markdown, options));
    out
}

/// A converter's name and its run over the input.
type Converter = (&'static str, fn(&str));

fn main() {
    let input = DOCS.join("\n\n");
    let bytes = input.len() as f64;
    let converters: [Converter; 3] = [
        ("pulldown-cmark HTML renderer (baseline)", |m| {
            black_box(html_baseline(m));
        }),
        ("markdown_to_slack (Block Kit + mrkdwn, split)", |m| {
            black_box(markdown_to_slack(m));
        }),
        ("markdown_to_notion (blocks, rich text)", |m| {
            black_box(markdown_to_notion(m));
        }),
    ];
    let mut spent = [Duration::ZERO; 3];
    let rounds = 30;
    for round in 0..rounds {
        for turn in 0..converters.len() {
            let which = (round + turn) % converters.len();
            let started = Instant::now();
            for _ in 0..10 {
                (converters[which].1)(&input);
            }
            spent[which] += started.elapsed();
        }
    }
    println!(
        "{:.0} KB of markdown, {} conversions each in {rounds} alternating rounds:",
        bytes / 1024.0,
        rounds * 10
    );
    let rate = |spent: Duration| bytes * (rounds * 10) as f64 / spent.as_secs_f64() / 1e6;
    let baseline = rate(spent[0]);
    for (i, (label, _)) in converters.iter().enumerate() {
        println!(
            "  {label:<48} {:>7.1} MB/s   {:>5.2}x",
            rate(spent[i]),
            rate(spent[i]) / baseline
        );
    }
}
