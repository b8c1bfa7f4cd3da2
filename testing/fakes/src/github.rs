//! A fake GitHub REST API: issues, comments and repositories.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{FakeServer, Recorded, Reply, lock};

/// An issue the fake holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GitHubIssue {
    /// `owner/repo`.
    pub repository: String,
    /// Its number.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// Its comments' bodies.
    pub comments: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    token: String,
    repositories: Vec<String>,
    issues: Vec<GitHubIssue>,
    violations: Vec<String>,
}

fn failed(field: &str, code: &str) -> Reply {
    Reply::json(
        422,
        json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": field, "code": code}],
            "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
        }),
    )
}

impl State {
    fn create(&mut self, repository: &str, body: &Value) -> Reply {
        let title = body["title"].as_str().unwrap_or_default();
        if title.is_empty() {
            self.violations.push("an issue without a title".into());
            return failed("title", "missing_field");
        }
        let text = body["body"].as_str().unwrap_or_default();
        if text.chars().count() > 65_536 {
            self.violations
                .push(format!("a body of {} characters", text.chars().count()));
            return failed("body", "custom");
        }
        let number = self
            .issues
            .iter()
            .filter(|issue| issue.repository == repository)
            .count() as u64
            + 1;
        let labels: Vec<String> = body["labels"]
            .as_array()
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        self.issues.push(GitHubIssue {
            repository: repository.to_owned(),
            number,
            title: title.to_owned(),
            body: text.to_owned(),
            labels: labels.clone(),
            comments: Vec::new(),
        });
        Reply::json(
            201,
            json!({
                "number": number, "title": title, "body": text, "state": "open",
                "labels": labels.iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
                "html_url": format!("https://github.com/{repository}/issues/{number}"),
            }),
        )
    }

    fn comment(&mut self, repository: &str, number: &str, body: &Value) -> Reply {
        let text = body["body"].as_str().unwrap_or_default();
        if text.is_empty() || text.chars().count() > 65_536 {
            self.violations
                .push(format!("a comment of {} characters", text.chars().count()));
            return failed("body", "custom");
        }
        let Some(issue) = self
            .issues
            .iter_mut()
            .find(|issue| issue.repository == repository && issue.number.to_string() == number)
        else {
            return Reply::json(404, json!({"message": "Not Found"}));
        };
        issue.comments.push(text.to_owned());
        Reply::json(201, json!({"id": issue.comments.len(), "body": text}))
    }
}

/// A fake GitHub on 127.0.0.1: `POST /repos/{owner}/{repo}/issues`,
/// `POST /repos/{owner}/{repo}/issues/{number}/comments`, `GET /user` and
/// `GET /user/repos` (paged with `page` and `per_page`).
///
/// Requests need `Authorization: Bearer {token}` (else 401 `Bad
/// credentials`); an unknown repository is 404; an issue without a title
/// or with a body over 65,536 characters is 422 `Validation Failed`, as
/// GitHub answers, and recorded in [`violations`](Self::violations).
#[derive(Debug, Clone)]
pub struct FakeGitHub {
    server: Arc<FakeServer>,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    /// Starts a fake GitHub that accepts `token`, with repository
    /// `octocat/hello-world`.
    pub async fn start(token: &str) -> Self {
        let fake = Self {
            server: Arc::new(FakeServer::start().await),
            state: Arc::new(Mutex::new(State {
                token: token.to_owned(),
                repositories: vec!["octocat/hello-world".into()],
                ..State::default()
            })),
        };
        for (method, path) in [
            ("POST", "/repos/{owner}/{repo}/issues"),
            ("POST", "/repos/{owner}/{repo}/issues/{number}/comments"),
            ("GET", "/user"),
            ("GET", "/user/repos"),
        ] {
            let state = Arc::clone(&fake.state);
            fake.server.route(method, path, move |request: &Recorded| {
                let mut state = lock(&state);
                if request.header("authorization") != Some(&format!("Bearer {}", state.token)) {
                    return Reply::json(401, json!({"message": "Bad credentials"}));
                }
                let segments: Vec<&str> = request.path.split('/').collect();
                match segments.as_slice() {
                    ["", "user"] => Reply::json(200, json!({"login": "octocat", "id": 1})),
                    ["", "user", "repos"] => {
                        let query: Vec<(String, String)> = serde_urlencoded::from_str(
                            request.query.as_deref().unwrap_or_default(),
                        )
                        .unwrap_or_default();
                        let get = |name: &str| {
                            query
                                .iter()
                                .find(|(n, _)| n == name)
                                .and_then(|(_, v)| v.parse::<usize>().ok())
                        };
                        let (per_page, page) = (
                            get("per_page").unwrap_or(30).clamp(1, 100),
                            get("page").unwrap_or(1).max(1),
                        );
                        let repositories: Vec<Value> = state
                            .repositories
                            .iter()
                            .skip((page - 1) * per_page)
                            .take(per_page)
                            .map(|name| json!({"full_name": name}))
                            .collect();
                        Reply::json(200, json!(repositories))
                    }
                    ["", "repos", owner, repo, "issues", rest @ ..] => {
                        let repository = format!("{owner}/{repo}");
                        if !state.repositories.contains(&repository) {
                            return Reply::json(404, json!({"message": "Not Found"}));
                        }
                        match rest {
                            [] => state.create(&repository, &request.json()),
                            [number, "comments"] => {
                                state.comment(&repository, number, &request.json())
                            }
                            _ => Reply::json(404, json!({"message": "Not Found"})),
                        }
                    }
                    _ => Reply::json(404, json!({"message": "Not Found"})),
                }
            });
        }
        fake
    }

    /// The API's base URL.
    pub fn api_url(&self) -> String {
        self.server.url("")
    }

    /// Adds a repository, as `owner/repo`.
    pub fn add_repository(&self, name: &str) {
        lock(&self.state).repositories.push(name.to_owned());
    }

    /// The issues created, in order.
    pub fn issues(&self) -> Vec<GitHubIssue> {
        lock(&self.state).issues.clone()
    }

    /// The limits broken by requests, which GitHub refused.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.state).violations.clone()
    }
}
