//! [`ToolIndex`]: BM25 search over tools, kept per server so one server's
//! list can be indexed again alone.

use std::collections::HashMap;

use integrations_core::id::ServerName;
use rmcp::model::Tool;
use rust_stemmers::{Algorithm, Stemmer};

use crate::client::toolbox::{NamespacedTool, SEPARATOR};

/// BM25's term-frequency saturation.
const K1: f32 = 1.2;
/// BM25's length normalisation.
const B: f32 = 0.75;
/// How much each part of a tool counts.
const NAME: f32 = 3.0;
const TITLE: f32 = 2.0;
const DESCRIPTION: f32 = 1.0;
const PARAMETER: f32 = 1.0;
const SERVER: f32 = 1.0;
/// Text read from one tool, at most (descriptions can be long).
const MAX_TOOL_TEXT: usize = 16 * 1024;
/// Query terms looked at, at most.
const MAX_QUERY_TERMS: usize = 32;

/// Words too common in tool descriptions to tell tools apart.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "for", "from", "given", "has", "have",
    "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "that", "the",
    "their", "them", "then", "this", "to", "use", "used", "using", "was", "when", "which", "will",
    "with", "you", "your",
];

/// One tool in the index.
#[derive(Debug)]
struct Doc {
    tool: NamespacedTool,
    /// Weighted term frequencies.
    terms: HashMap<String, f32>,
    /// Weighted length.
    length: f32,
}

/// A search index over the tools of several servers, ranked with BM25 over
/// a tool's name (weighted 3), title (2), description, parameter names and
/// descriptions, and server name; words are split at `_`, `-`, `.` and
/// camelCase, lower-cased, stemmed (Snowball English), and common words
/// dropped. Each server's tools are a segment of their own:
/// [`index_server`](Self::index_server) replaces one server's tools
/// without touching the others'.
///
/// [`Toolbox::search`](crate::Toolbox::search) keeps one current with the
/// pool's lists; a host can also index tools of its own.
///
/// ```
/// use integrations_core::id::ServerName;
/// use integrations_mcp::client::ToolIndex;
/// use integrations_mcp::rmcp::model::Tool;
/// use std::sync::Arc;
///
/// let tool = |name: &'static str, description: &'static str| {
///     Tool::new(name, description, Arc::new(serde_json::Map::new()))
/// };
/// let mut index = ToolIndex::new();
/// index.index_server(&ServerName::from_static("github"), &[
///     tool("create_issue", "Create a new issue in a GitHub repository"),
///     tool("list_commits", "Get list of commits of a branch"),
/// ]);
/// index.index_server(&ServerName::from_static("slack"), &[tool("slack_post_message", "Post a new message to a channel")]);
/// let hits = index.search("open a bug report issue", 5);
/// assert_eq!(hits[0].tool.name, "github__create_issue");
/// ```
pub struct ToolIndex {
    /// Every tool indexed, by id; `None` once its server was indexed again
    /// or removed (its postings go at the next compaction).
    docs: Vec<Option<Doc>>,
    /// term -> (tool id, weighted frequency), removed tools included.
    postings: HashMap<String, Vec<(u32, f32)>>,
    /// The ids of each server's tools.
    servers: HashMap<ServerName, Vec<u32>>,
    /// In how many live tools each term appears.
    document_frequency: HashMap<String, u32>,
    live: u32,
    total_length: f64,
    stemmer: Stemmer,
}

impl std::fmt::Debug for ToolIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolIndex")
            .field("servers", &self.servers.len())
            .field("tools", &self.live)
            .finish_non_exhaustive()
    }
}

impl Default for ToolIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// A tool found by [`ToolIndex::search`], with its score (higher is
/// better; comparable within one search only).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SearchHit {
    /// The tool, namespaced.
    pub tool: NamespacedTool,
    /// Its BM25 score.
    pub score: f32,
}

impl ToolIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            docs: Vec::new(),
            postings: HashMap::new(),
            servers: HashMap::new(),
            document_frequency: HashMap::new(),
            live: 0,
            total_length: 0.0,
            stemmer: Stemmer::create(Algorithm::English),
        }
    }

    /// How many tools are indexed.
    pub fn len(&self) -> usize {
        self.live as usize
    }

    /// Whether no tool is indexed.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Indexes `tools` as `server`'s, replacing what was indexed for it.
    /// Time is linear in the tools' text (at most 16 KiB read per tool),
    /// plus, now and then, a compaction linear in the whole index.
    pub fn index_server(&mut self, server: &ServerName, tools: &[Tool]) {
        self.remove_server(server);
        let mut ids = Vec::with_capacity(tools.len());
        for tool in tools {
            let Ok(id) = u32::try_from(self.docs.len()) else {
                break;
            };
            let doc = self.document(server, tool);
            for (term, frequency) in &doc.terms {
                self.postings
                    .entry(term.clone())
                    .or_default()
                    .push((id, *frequency));
                *self.document_frequency.entry(term.clone()).or_default() += 1;
            }
            self.live += 1;
            self.total_length += f64::from(doc.length);
            self.docs.push(Some(doc));
            ids.push(id);
        }
        self.servers.insert(server.clone(), ids);
    }

    /// Removes `server`'s tools.
    pub fn remove_server(&mut self, server: &ServerName) {
        let Some(ids) = self.servers.remove(server) else {
            return;
        };
        for id in ids {
            let Some(doc) = self.docs.get_mut(id as usize).and_then(Option::take) else {
                continue;
            };
            for term in doc.terms.keys() {
                if let Some(count) = self.document_frequency.get_mut(term) {
                    *count -= 1;
                    if *count == 0 {
                        self.document_frequency.remove(term);
                    }
                }
            }
            self.live -= 1;
            self.total_length -= f64::from(doc.length);
        }
        if self.docs.len() > 1024 && self.docs.len() > 2 * self.live as usize {
            self.compact();
        }
    }

    /// Drops removed tools: ids are given anew, postings rebuilt.
    fn compact(&mut self) {
        let mut renumbered = vec![u32::MAX; self.docs.len()];
        let mut docs = Vec::with_capacity(self.live as usize);
        for (old, doc) in std::mem::take(&mut self.docs).into_iter().enumerate() {
            if let Some(doc) = doc {
                renumbered[old] = u32::try_from(docs.len()).unwrap_or(u32::MAX);
                docs.push(Some(doc));
            }
        }
        self.docs = docs;
        for postings in self.postings.values_mut() {
            postings.retain_mut(|(id, _)| {
                *id = renumbered[*id as usize];
                *id != u32::MAX
            });
        }
        self.postings.retain(|_, postings| !postings.is_empty());
        for ids in self.servers.values_mut() {
            for id in ids.iter_mut() {
                *id = renumbered[*id as usize];
            }
        }
    }

    /// Keeps only the servers `keep` says.
    pub fn retain_servers(&mut self, keep: impl Fn(&ServerName) -> bool) {
        let gone: Vec<ServerName> = self
            .servers
            .keys()
            .filter(|server| !keep(server))
            .cloned()
            .collect();
        for server in gone {
            self.remove_server(&server);
        }
    }

    /// The `k` tools that best match `query`, best first; none when no
    /// word of the query is in any tool.
    pub fn search(&self, query: &str, k: usize) -> Vec<SearchHit> {
        if k == 0 || self.live == 0 {
            return Vec::new();
        }
        let mut terms: Vec<String> = Vec::new();
        self.terms(query, &mut |term| {
            if terms.len() < MAX_QUERY_TERMS && !terms.contains(&term) {
                terms.push(term);
            }
        });
        #[allow(clippy::cast_possible_truncation)] // an average length
        let average = (self.total_length / f64::from(self.live)) as f32;
        let docs = self.live as f32;
        let mut scores = vec![0.0_f32; self.docs.len()];
        let mut touched: Vec<u32> = Vec::new();
        for term in &terms {
            let (Some(df), Some(postings)) =
                (self.document_frequency.get(term), self.postings.get(term))
            else {
                continue;
            };
            let df = *df as f32;
            let idf = ((docs - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(id, tf) in postings {
                let Some(Some(doc)) = self.docs.get(id as usize) else {
                    continue;
                };
                let norm = K1 * (1.0 - B + B * doc.length / average.max(f32::EPSILON));
                let score = &mut scores[id as usize];
                if *score == 0.0 {
                    touched.push(id);
                }
                *score += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        let mut hits: Vec<(f32, &Doc)> = touched
            .into_iter()
            .filter_map(|id| Some((scores[id as usize], self.docs[id as usize].as_ref()?)))
            .collect();
        let k = k.min(hits.len());
        if k == 0 {
            return Vec::new();
        }
        let order = |a: &(f32, &Doc), b: &(f32, &Doc)| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.tool.name.cmp(&b.1.tool.name))
        };
        hits.select_nth_unstable_by(k - 1, order);
        hits.truncate(k);
        hits.sort_unstable_by(order);
        hits.into_iter()
            .map(|(score, doc)| SearchHit {
                tool: doc.tool.clone(),
                score,
            })
            .collect()
    }

    fn document(&self, server: &ServerName, tool: &Tool) -> Doc {
        let mut terms: HashMap<String, f32> = HashMap::new();
        let mut length = 0.0;
        let mut budget = MAX_TOOL_TEXT;
        let mut add = |text: &str, weight: f32| {
            let text = clip(text, budget);
            budget -= text.len();
            self.terms(text, &mut |term| {
                *terms.entry(term).or_default() += weight;
                length += weight;
            });
        };
        add(&tool.name, NAME);
        add(server.as_str(), SERVER);
        if let Some(title) = &tool.title {
            add(title, TITLE);
        }
        if let Some(description) = &tool.description {
            add(description, DESCRIPTION);
        }
        if let Some(serde_json::Value::Object(properties)) = tool.input_schema.get("properties") {
            for (name, property) in properties {
                add(name, PARAMETER);
                if let Some(text) = property.get("description").and_then(|d| d.as_str()) {
                    add(text, PARAMETER);
                }
            }
        }
        Doc {
            tool: NamespacedTool {
                name: format!("{server}{SEPARATOR}{}", tool.name),
                server: server.clone(),
                tool: tool.clone(),
            },
            terms,
            length,
        }
    }

    /// The terms of `text`: words split at non-alphanumerics and camelCase,
    /// lower-cased, without stop words, stemmed.
    fn terms(&self, text: &str, each: &mut impl FnMut(String)) {
        for word in text.split(|c: char| !c.is_alphanumeric()) {
            for part in camel_parts(word) {
                let lower = part.to_lowercase();
                if lower.is_empty() || STOP_WORDS.contains(&lower.as_str()) {
                    continue;
                }
                each(self.stemmer.stem(&lower).into_owned());
            }
        }
    }
}

/// `text` cut to at most `budget` bytes, at a character boundary.
fn clip(text: &str, budget: usize) -> &str {
    if text.len() <= budget {
        return text;
    }
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `getUserById` -> `get`, `User`, `By`, `Id`; `HTTPServer` -> `HTTP`,
/// `Server`.
fn camel_parts(word: &str) -> impl Iterator<Item = &str> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut cuts = vec![0];
    for i in 1..chars.len() {
        let (at, c) = chars[i];
        let previous = chars[i - 1].1;
        let next_lower = chars.get(i + 1).is_some_and(|(_, n)| n.is_lowercase());
        if c.is_uppercase() && (previous.is_lowercase() || (previous.is_uppercase() && next_lower))
        {
            cuts.push(at);
        }
    }
    cuts.push(word.len());
    cuts.windows(2)
        .map(move |pair| &word[pair[0]..pair[1]])
        .collect::<Vec<_>>()
        .into_iter()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tool(name: &'static str, description: &'static str) -> Tool {
        Tool::new(name, description, Arc::new(serde_json::Map::new()))
    }

    #[test]
    fn words_are_split_at_case_and_punctuation() {
        let parts: Vec<&str> = camel_parts("getUserById").collect();
        assert_eq!(parts, ["get", "User", "By", "Id"]);
        let parts: Vec<&str> = camel_parts("HTTPServer").collect();
        assert_eq!(parts, ["HTTP", "Server"]);
        let index = ToolIndex::new();
        let mut terms = Vec::new();
        index.terms("list_pullRequests of the repos", &mut |t| terms.push(t));
        assert_eq!(terms, ["list", "pull", "request", "repo"]);
    }

    #[test]
    fn reindexing_a_server_replaces_its_tools_only() {
        let mut index = ToolIndex::new();
        index.index_server(
            &ServerName::from_static("a"),
            &[tool("read_file", "Read a file")],
        );
        index.index_server(
            &ServerName::from_static("b"),
            &[tool("read_page", "Read a web page")],
        );
        assert_eq!(index.len(), 2);
        index.index_server(
            &ServerName::from_static("a"),
            &[tool("write_file", "Write a file")],
        );
        assert_eq!(index.len(), 2);
        let hits = index.search("read", 5);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].tool.name, "b__read_page");
        index.remove_server(&ServerName::from_static("b"));
        assert!(index.search("read", 5).is_empty());
        assert!(index.document_frequency.keys().all(|term| term != "page"));
    }

    #[test]
    fn removed_tools_are_compacted_away() {
        let mut index = ToolIndex::new();
        let tools: Vec<Tool> = (0..600).map(|_| tool("read_file", "Read a file")).collect();
        index.index_server(&ServerName::from_static("a"), &tools);
        index.index_server(
            &ServerName::from_static("b"),
            &[tool("write_file", "Write a file")],
        );
        for _ in 0..3 {
            index.index_server(&ServerName::from_static("a"), &tools);
        }
        assert!(index.docs.len() <= 1201, "{}", index.docs.len());
        index.index_server(&ServerName::from_static("a"), &tools[..10]);
        assert_eq!(index.len(), 11);
        assert_eq!(index.search("write", 1)[0].tool.name, "b__write_file");
        assert_eq!(index.search("read", 20).len(), 10);
    }

    #[test]
    fn names_count_more_than_descriptions() {
        let mut index = ToolIndex::new();
        index.index_server(
            &ServerName::from_static("s"),
            &[
                tool("delete_branch", "Removes a branch; see also create"),
                tool("create_branch", "Makes a new branch"),
            ],
        );
        let hits = index.search("create branch", 2);
        assert_eq!(hits[0].tool.tool.name, "create_branch");
        assert!(index.search("", 3).is_empty());
        assert!(index.search("the of and", 3).is_empty());
        assert!(index.search("create", 0).is_empty());
    }
}
