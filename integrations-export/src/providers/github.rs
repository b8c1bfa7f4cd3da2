//! GitHub issues.

use async_trait::async_trait;
use integrations_core::id::ProviderId;
use serde_json::{Value, json};

use super::{VendorAccess, check, require_destination};
use crate::error::Error;
use crate::provider::{
    ConnectionCheck, Content, Destination, DestinationPage, ExportContext, ExportResult,
    PlannedRequest, Provider,
};

/// The most characters GitHub takes in an issue's or a comment's body.
const BODY_CHARS: usize = 65_536;
/// Repositories per page of `list_destinations`.
const PER_PAGE: usize = 100;

provider_id!("github");

/// GitHub issues: each export opens an issue in a repository (destination:
/// `owner/repo`) with the content's title (`Export` without one), its
/// markdown as the body (GitHub renders markdown itself) and the labels in
/// the metadata's `labels` (an array of strings). A body past GitHub's
/// 65,536 characters continues in comments, cut between lines.
///
/// Credentials: a token ([`Auth::Bearer`](integrations_vendor::Auth::Bearer)
/// or OAuth 2) with the `issues: write` permission (`repo` scope for a
/// classic token).
#[derive(Debug, Clone)]
pub struct GitHubProvider {
    access: VendorAccess,
}

impl GitHubProvider {
    /// A provider whose connections come from `access`.
    pub fn new(access: VendorAccess) -> Self {
        Self { access }
    }

    fn repository(destination: &str) -> Result<&str, Error> {
        require_destination(provider_id(), destination, "a repository as `owner/repo`")?;
        // No part may be or begin with a dot: `..` would move the request
        // path out of `/repos/{owner}/{repo}` on the vendor's host.
        let valid = destination.split('/').count() == 2
            && destination.split('/').all(|part| {
                !part.is_empty()
                    && !part.starts_with('.')
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        if !valid {
            return Err(Error::invalid(
                provider_id(),
                format!("{destination:?} is not a repository; give it as `owner/repo`"),
            ));
        }
        Ok(destination)
    }

    /// The issue and the comments that continue its body.
    fn requests(content: &Content) -> (Value, Vec<Value>) {
        let mut parts = split_body(&content.markdown).into_iter();
        let labels: Vec<&str> = content
            .metadata
            .get("labels")
            .and_then(Value::as_array)
            .map(|labels| labels.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let issue = json!({
            "title": content.title.as_deref().unwrap_or("Export"),
            "body": parts.next().unwrap_or_default(),
            "labels": labels,
        });
        (issue, parts.map(|body| json!({"body": body})).collect())
    }
}

/// Cuts `body` into pieces of at most [`BODY_CHARS`] characters, after a
/// line where one ends in reach, else anywhere.
fn split_body(body: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = body;
    while rest.chars().count() > BODY_CHARS {
        let limit = rest
            .char_indices()
            .nth(BODY_CHARS)
            .map_or(rest.len(), |(at, _)| at);
        let cut = rest[..limit].rfind('\n').map_or(limit, |at| at + 1);
        let cut = if cut == 0 { limit } else { cut };
        pieces.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    pieces.push(rest.to_owned());
    pieces
}

#[async_trait]
impl Provider for GitHubProvider {
    fn id(&self) -> &ProviderId {
        provider_id()
    }

    async fn list_destinations(
        &self,
        context: &ExportContext,
        cursor: Option<&str>,
    ) -> Result<DestinationPage, Error> {
        let github = self.access.connection(context)?;
        let page: u32 = cursor.and_then(|cursor| cursor.parse().ok()).unwrap_or(1);
        let repositories: Value = github
            .get("/user/repos")
            .query("per_page", PER_PAGE)
            .query("page", page)
            .query("sort", "updated")
            .send_json()
            .await?;
        let repositories = repositories
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let destinations: Vec<Destination> = repositories
            .iter()
            .filter_map(|repository| {
                let name = repository["full_name"].as_str()?;
                Some(Destination::new(name, name, "repository"))
            })
            .collect();
        let next = (repositories.len() == PER_PAGE).then(|| (page + 1).to_string());
        Ok(DestinationPage::new(destinations, next))
    }

    async fn validate_connection(&self, context: &ExportContext) -> Result<ConnectionCheck, Error> {
        check(&self.access.connection(context)?).await
    }

    fn format_content(&self, content: &Content) -> Result<Value, Error> {
        Ok(Self::requests(content).0)
    }

    fn plan(
        &self,
        _context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error> {
        let repository = Self::repository(destination)?;
        let base = self.access.base_url();
        let (issue, comments) = Self::requests(content);
        let mut plan = vec![PlannedRequest::new(
            "POST",
            format!("{base}/repos/{repository}/issues"),
            issue,
        )];
        plan.extend(comments.into_iter().map(|comment| {
            PlannedRequest::new(
                "POST",
                format!("{base}/repos/{repository}/issues/{{{{number from request 1}}}}/comments"),
                comment,
            )
        }));
        Ok(plan)
    }

    async fn export(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<ExportResult, Error> {
        let repository = Self::repository(destination)?;
        let github = self.access.connection(context)?;
        let (issue, comments) = Self::requests(content);
        let created: Value = github
            .post(&format!("/repos/{repository}/issues"))
            .json(&issue)
            .send_json()
            .await?;
        let number = created["number"]
            .as_u64()
            .ok_or_else(|| Error::unexpected(provider_id(), "the new issue has no `number`"))?;
        for comment in &comments {
            github
                .post(&format!("/repos/{repository}/issues/{number}/comments"))
                .json(comment)
                .send()
                .await?;
        }
        let mut result = ExportResult::new(provider_id().clone())
            .external_id(number.to_string())
            .requests(1 + comments.len());
        if let Some(url) = created["html_url"].as_str() {
            result = result.external_url(url);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_continue_in_pieces_cut_between_lines() {
        let line = format!("{}\n", "x".repeat(99));
        let body = line.repeat(1000); // 100,000 characters
        let pieces = split_body(&body);
        assert_eq!(pieces.len(), 2);
        assert!(
            pieces
                .iter()
                .all(|piece| piece.chars().count() <= BODY_CHARS)
        );
        assert!(pieces[0].ends_with('\n'));
        assert_eq!(pieces.concat(), body);
        assert_eq!(split_body("short"), vec!["short".to_owned()]);
        let unbroken = "é".repeat(BODY_CHARS + 10);
        assert_eq!(split_body(&unbroken).concat(), unbroken);
    }

    #[test]
    fn repositories_must_be_owner_slash_repo() {
        assert!(GitHubProvider::repository("octocat/hello-world").is_ok());
        for bad in ["", "octocat", "a/b/c", "octo cat/x", "/x"] {
            assert!(
                matches!(
                    GitHubProvider::repository(bad),
                    Err(Error::InvalidRequest { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
