//! Markdown conversion throughput: `markdown_to_slack` and
//! `markdown_to_notion` against pulldown-cmark's own HTML renderer (the
//! baseline) on the same input, this repository's guides (about 60 KB of
//! real markdown), in alternating rounds of one invocation; then both
//! converters on documents written to hurt (deep nesting, runs of `<`,
//! sparse tables) at 8, 16, 32 and 64 KB, with the time of each doubling
//! (linear work: about 2x; the review's quadratic converters took 4x to
//! 20x).
//!
//! ```sh
//! cargo bench -p integrations-export --bench convert
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use integrations_export::markdown::{
    SlackFormat, SlackOptions, markdown_to_notion, markdown_to_slack, markdown_to_slack_with,
};
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

#[path = "../tests/support/hostile.rs"]
mod hostile;

use hostile::hostile;

/// The time of one run of `convert` over `input`: runs are batched to at
/// least 20 ms each, and the least of 7 batches' averages is kept (the
/// machine is shared: the least is the least disturbed).
fn least(input: &str, convert: fn(&str)) -> Duration {
    let started = Instant::now();
    convert(input);
    let once = started.elapsed().max(Duration::from_micros(1));
    let per_batch =
        (Duration::from_millis(20).as_nanos() / once.as_nanos()).clamp(1, 10_000) as u32;
    (0..7)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..per_batch {
                convert(input);
            }
            started.elapsed() / per_batch
        })
        .min()
        .unwrap_or_default()
}

fn adversarial() {
    let converters: [Converter; 3] = [
        ("html", |m| {
            black_box(html_baseline(m));
        }),
        ("slack", |m| {
            black_box(markdown_to_slack(m));
        }),
        ("notion", |m| {
            black_box(markdown_to_notion(m));
        }),
    ];
    println!(
        "\nadversarial documents: time of one conversion (least of 7 batches), and of each doubling\n  (html: pulldown-cmark's renderer, the parser both converters share)"
    );
    let sizes = [8 * 1024, 16 * 1024, 32 * 1024, 64 * 1024];
    let mut worst: f64 = 0.0;
    for (name, convert) in converters {
        for shape in 0..hostile(0).len() {
            let times: Vec<Duration> = sizes
                .iter()
                .map(|size| least(&hostile(*size)[shape].1, convert))
                .collect();
            let ratios: Vec<f64> = times
                .windows(2)
                .map(|pair| pair[1].as_secs_f64() / pair[0].as_secs_f64().max(1e-9))
                .collect();
            if name != "html" {
                worst = ratios.iter().copied().fold(worst, f64::max);
            }
            println!(
                "  {name:<6} {:<30} {:>9.2?} {:>9.2?} {:>9.2?} {:>9.2?}   x{:.2} x{:.2} x{:.2}",
                hostile(0)[shape].0,
                times[0],
                times[1],
                times[2],
                times[3],
                ratios[0],
                ratios[1],
                ratios[2]
            );
        }
    }
    println!("  the slowest doubling: x{worst:.2} (linear: about 2)");
}

fn main() {
    throughput();
    adversarial();
}

fn throughput() {
    let input = DOCS.join("\n\n");
    let bytes = input.len() as f64;
    let converters: [Converter; 5] = [
        ("pulldown-cmark HTML renderer (baseline)", |m| {
            black_box(html_baseline(m));
        }),
        ("markdown_to_slack (Block Kit + mrkdwn, split)", |m| {
            black_box(markdown_to_slack(m));
        }),
        ("markdown_to_slack (markdown + table blocks)", |m| {
            let mut options = SlackOptions::default();
            options.format = SlackFormat::Markdown;
            black_box(markdown_to_slack_with(m, options));
        }),
        ("markdown_to_notion (blocks, rich text)", |m| {
            black_box(markdown_to_notion(m));
        }),
        ("markdown_to_notion, then as request JSON", |m| {
            black_box(serde_json::to_string(&markdown_to_notion(m)).unwrap());
        }),
    ];
    let mut spent = [Duration::ZERO; 5];
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
