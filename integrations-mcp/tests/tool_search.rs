//! Search quality on real tool lists: 346 tools of 25 published MCP servers
//! and 129 labelled queries (testing/search). `ToolIndex` must find the
//! labelled tools among its first five far more often than a plain
//! substring match does.

use integrations_core::id::ServerName;
use integrations_mcp::client::ToolIndex;
use integrations_mcp::rmcp::model::Tool;
use serde_json::Value;

const TOOLS: &str = include_str!("../../testing/search/tools.json");
const QUERIES: &str = include_str!("../../testing/search/queries.tsv");

/// (server, tools) as the servers listed them.
fn servers() -> Vec<(String, Vec<Tool>)> {
    let servers: Vec<Value> = serde_json::from_str(TOOLS).unwrap();
    servers
        .iter()
        .map(|server| {
            let tools = server["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|tool| {
                    let mut parsed: Tool = serde_json::from_value(serde_json::json!({
                        "name": tool["name"],
                        "description": tool["description"],
                        "inputSchema": {"type": "object", "properties": tool["inputSchema"]["properties"]},
                    }))
                    .unwrap();
                    parsed.title = tool["title"].as_str().map(str::to_owned);
                    parsed
                })
                .collect();
            (server["server"].as_str().unwrap().to_owned(), tools)
        })
        .collect()
}

fn queries() -> Vec<(&'static str, Vec<&'static str>)> {
    QUERIES
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            (fields.next().unwrap(), fields.collect())
        })
        .collect()
}

/// Ranks by how many of the query's words occur in the tool's name or
/// description (case-insensitive substrings), ties in listing order.
fn substring_top(servers: &[(String, Vec<Tool>)], query: &str, k: usize) -> Vec<String> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let mut scored: Vec<(usize, usize, String)> = Vec::new();
    for (server, tools) in servers {
        for tool in tools {
            let text = format!(
                "{} {}",
                tool.name,
                tool.description.as_deref().unwrap_or_default()
            )
            .to_lowercase();
            let hits = words
                .iter()
                .filter(|word| text.contains(word.as_str()))
                .count();
            if hits > 0 {
                scored.push((hits, scored.len(), format!("{server}__{}", tool.name)));
            }
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
        .into_iter()
        .take(k)
        .map(|(_, _, name)| name)
        .collect()
}

/// The mean over queries of the share of their tools in `top`'s first 5.
fn recall_at_5(queries: &[(&str, Vec<&str>)], top: impl Fn(&str) -> Vec<String>) -> f64 {
    let total: f64 = queries
        .iter()
        .map(|(query, relevant)| {
            let found = top(query);
            let share = relevant
                .iter()
                .filter(|name| found.iter().any(|f| f == *name))
                .count();
            let wanted = relevant.len().min(5);
            share.min(wanted) as f64 / wanted as f64
        })
        .sum();
    total / queries.len() as f64
}

#[test]
fn bm25_finds_the_labelled_tools_far_better_than_substrings() {
    let servers = servers();
    assert!(servers.iter().map(|(_, tools)| tools.len()).sum::<usize>() >= 300);
    let queries = queries();
    assert!(queries.len() >= 100);

    let mut index = ToolIndex::new();
    for (server, tools) in &servers {
        index.index_server(&ServerName::new(server).unwrap(), tools);
    }
    assert_eq!(index.len(), 346);
    let bm25 = recall_at_5(&queries, |query| {
        index
            .search(query, 5)
            .into_iter()
            .map(|hit| hit.tool.name)
            .collect()
    });
    let substring = recall_at_5(&queries, |query| substring_top(&servers, query, 5));
    println!("recall@5: ToolIndex {bm25:.3}, substring match {substring:.3}");
    assert!(bm25 >= 0.75, "ToolIndex recall@5 fell to {bm25:.3}");
    assert!(
        bm25 >= substring + 0.15,
        "{bm25:.3} vs substring {substring:.3}"
    );
}

#[test]
fn reindexing_one_server_changes_only_its_results() {
    let servers = servers();
    let mut index = ToolIndex::new();
    for (server, tools) in &servers {
        index.index_server(&ServerName::new(server).unwrap(), tools);
    }
    let before = index.search("post a message to a slack channel", 1);
    assert_eq!(before[0].tool.name, "slack__slack_post_message");
    // The Slack server's list changes: one tool left.
    let slack = &servers.iter().find(|(name, _)| name == "slack").unwrap().1;
    let only: Vec<Tool> = slack
        .iter()
        .filter(|tool| tool.name == "slack_list_channels")
        .cloned()
        .collect();
    index.index_server(&ServerName::from_static("slack"), &only);
    assert_eq!(index.len(), 346 - 7);
    let after = index.search("post a message to a slack channel", 3);
    assert!(
        after
            .iter()
            .all(|hit| hit.tool.name != "slack__slack_post_message")
    );
    let github = index.search("create an issue in a github repository", 3);
    assert!(
        github
            .iter()
            .any(|hit| hit.tool.name == "github__create_issue"),
        "{github:?}"
    );
}
