//! Tool search benchmarks on real tool descriptions (testing/search), each
//! beside a baseline run in the same invocation:
//!
//! 1. `ToolIndex::search` p50/p99 over 10,000 tools (the 346 tools of 25
//!    published servers, as 29 copies of each server), the 129 labelled
//!    queries in turn; baseline: a plain substring scan of the same tools.
//! 2. Indexing one server's 100 tools again in that 10,000-tool index;
//!    baseline: cloning the 100 tools.
//!
//! ```sh
//! cargo bench -p integrations-mcp --bench search
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use integrations_core::id::ServerName;
use integrations_mcp::client::ToolIndex;
use integrations_mcp::rmcp::model::Tool;
use serde_json::Value;

const TOOLS: &str = include_str!("../../testing/search/tools.json");
const QUERIES: &str = include_str!("../../testing/search/queries.tsv");

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[((p * sorted.len()).div_ceil(100)).max(1) - 1]
}

fn report(label: &str, mut times: Vec<Duration>, baseline: Option<Duration>) -> Duration {
    times.sort();
    let (p50, p99) = (percentile(&times, 50), percentile(&times, 99));
    let ratio = baseline.map_or(String::new(), |b| {
        format!(
            "  ({:.2}x the baseline)",
            p50.as_secs_f64() / b.as_secs_f64()
        )
    });
    println!("{label:<44} p50 {p50:>10.1?}  p99 {p99:>10.1?}{ratio}");
    p50
}

fn servers() -> Vec<(String, Vec<Tool>)> {
    let servers: Vec<Value> = serde_json::from_str(TOOLS).expect("tools.json");
    servers
        .iter()
        .map(|server| {
            let tools = server["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|tool| {
                    serde_json::from_value(serde_json::json!({
                        "name": tool["name"],
                        "description": tool["description"],
                        "inputSchema": {"type": "object", "properties": tool["inputSchema"]["properties"]},
                    }))
                    .ok()
                })
                .collect();
            (server["server"].as_str().unwrap_or("?").to_owned(), tools)
        })
        .collect()
}

fn main() {
    let servers = servers();
    let queries: Vec<&str> = QUERIES
        .lines()
        .filter_map(|line| line.split('\t').next())
        .collect();
    let mut index = ToolIndex::new();
    let mut all: Vec<Tool> = Vec::new();
    'fill: for copy in 0.. {
        for (server, tools) in &servers {
            let tools: Vec<Tool> = tools.iter().take(10_000 - all.len()).cloned().collect();
            index.index_server(
                &ServerName::new(format!("{server}-{copy}")).unwrap(),
                &tools,
            );
            all.extend(tools);
            if all.len() == 10_000 {
                break 'fill;
            }
        }
    }
    println!("{} tools", index.len());

    let rounds = 20;
    let mut scan = Vec::new();
    let mut search = Vec::new();
    for _ in 0..rounds {
        for query in &queries {
            let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
            let started = Instant::now();
            let found = all
                .iter()
                .filter(|tool| {
                    let name = tool.name.to_lowercase();
                    let description = tool
                        .description
                        .as_deref()
                        .unwrap_or_default()
                        .to_lowercase();
                    words.iter().any(|word| {
                        name.contains(word.as_str()) || description.contains(word.as_str())
                    })
                })
                .count();
            scan.push(started.elapsed());
            black_box(found);

            let started = Instant::now();
            black_box(index.search(query, 5));
            search.push(started.elapsed());
        }
    }
    let baseline = report("substring scan of 10,000 tools (baseline)", scan, None);
    report(
        "ToolIndex::search, 10,000 tools, k = 5",
        search,
        Some(baseline),
    );

    let hundred: Vec<Tool> = all.iter().take(100).cloned().collect();
    let mut clone = Vec::new();
    let mut reindex = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        black_box(hundred.clone());
        clone.push(started.elapsed());
        let started = Instant::now();
        index.index_server(&ServerName::from_static("busy-server"), &hundred);
        reindex.push(started.elapsed());
    }
    let baseline = report("cloning 100 tools (baseline)", clone, None);
    report(
        "index_server, 100 tools, in 10,000",
        reindex,
        Some(baseline),
    );
}
