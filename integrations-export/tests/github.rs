//! Exporting to GitHub issues, against a fake GitHub.

mod fixtures;

use integrations_export::providers::ExportContext;
use integrations_export::{Content, Error, Provider};
use integrations_fakes::github::FakeGitHub;

use fixtures::{GITHUB_TOKEN, github, store, tenant};

#[tokio::test]
async fn an_export_opens_an_issue_with_its_labels_and_long_bodies_continue_in_comments() {
    let fake = FakeGitHub::start(GITHUB_TOKEN).await;
    let provider = github(fake.api_url(), store().await);
    let context = ExportContext::new(tenant());
    let content = Content::new("The build broke on **main**.")
        .title("Nightly build failed")
        .metadata("labels", serde_json::json!(["bug", "ci"]));

    let result = provider
        .export(&context, &content, "octocat/hello-world")
        .await
        .unwrap();
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].title, "Nightly build failed");
    assert_eq!(issues[0].body, "The build broke on **main**.");
    assert_eq!(issues[0].labels, ["bug", "ci"]);
    assert_eq!(result.external_id.as_deref(), Some("1"));
    assert_eq!(
        result.external_url.as_deref(),
        Some("https://github.com/octocat/hello-world/issues/1")
    );

    let long = "A line of a long report.\n".repeat(5000); // 125,000 characters
    let result = provider
        .export(&context, &Content::new(long.clone()), "octocat/hello-world")
        .await
        .unwrap();
    let issue = &fake.issues()[1];
    assert_eq!(issue.title, "Export");
    assert_eq!(result.requests, 1 + issue.comments.len());
    assert_eq!(
        format!("{}{}", issue.body, issue.comments.concat()),
        long,
        "nothing dropped"
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn bad_destinations_and_refusals_are_clear() {
    let fake = FakeGitHub::start(GITHUB_TOKEN).await;
    let provider = github(fake.api_url(), store().await);
    let context = ExportContext::new(tenant());
    let content = Content::new("x").title("t");

    let bad = provider
        .export(&context, &content, "not a repo")
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("owner/repo"), "{bad}");
    // Security review, finding 17: dot segments would move the request
    // out of /repos/{owner}/{repo}.
    for escaping in ["../..", "x/..", "../user", "octocat/.", ".hidden/repo"] {
        let refused = provider
            .export(&context, &content, escaping)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, Error::InvalidRequest { .. }),
            "{escaping}: {refused}"
        );
    }
    let missing = provider
        .export(&context, &content, "octocat/missing")
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            Error::Vendor(integrations_vendor::Error::Api { status: 404, .. })
        ),
        "{missing}"
    );
    assert!(fake.issues().is_empty());

    fake.add_repository("octocat/second");
    let page = provider.list_destinations(&context, None).await.unwrap();
    let names: Vec<&str> = page.destinations.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(names, ["octocat/hello-world", "octocat/second"]);
    assert_eq!(page.next_cursor, None);
    assert_eq!(
        provider
            .validate_connection(&context)
            .await
            .unwrap()
            .identity
            .as_deref(),
        Some("octocat")
    );
}
