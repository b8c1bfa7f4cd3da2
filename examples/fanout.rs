//! Fan-out: one event to a Slack notification, a GitHub issue and an audit
//! line at once, each with its own status; then the same event with no
//! provider configured, which says honestly that nothing was sent.
//!
//! Fake Slack and GitHub APIs run on 127.0.0.1; the GitHub repository of
//! the second target does not exist, so that export fails while the others
//! are delivered. The audit line goes to a JSONL file in a temporary
//! folder.
//!
//! ```sh
//! cargo run --example fanout
//! ```
//!
//! `RUST_LOG` sets what it logs to stderr (default `info`).

use std::sync::Arc;

use integrations_core::credentials::{CredentialStore, Credentials, MemoryStore};
use integrations_core::id::ProviderId;
use integrations_core::{ConnectionId, TenantId};
use integrations_export::providers::{GitHubProvider, SlackProvider, VendorAccess};
use integrations_export::service::Target;
use integrations_export::{AuditProvider, Content, ExportService, SqliteExportStore};
use integrations_fakes::github::FakeGitHub;
use integrations_fakes::slack::FakeSlack;
use integrations_vendor::{Auth, Vendor, VendorConnection};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    integrations_examples::init_tracing();
    let slack_fake = FakeSlack::start("xoxb-example").await;
    let github_fake = FakeGitHub::start("ghp_example").await;
    let tenant = TenantId::new("user-1")?;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    store
        .put(
            &tenant,
            &ConnectionId::new("slack", "default")?,
            &Credentials::bearer("xoxb-example"),
        )
        .await?;
    store
        .put(
            &tenant,
            &ConnectionId::new("github", "default")?,
            &Credentials::bearer("ghp_example"),
        )
        .await?;

    let dir = tempfile::tempdir()?;
    let slack = VendorConnection::builder(Vendor::slack().with_base_url(slack_fake.api_url()))
        .auth(Auth::Bearer);
    let github = VendorConnection::builder(Vendor::github().with_base_url(github_fake.api_url()))
        .auth(Auth::Bearer);
    let service =
        ExportService::builder(SqliteExportStore::open(dir.path().join("exports.db")).await?)
            .provider(SlackProvider::new(VendorAccess::new(
                slack,
                Arc::clone(&store),
            )?))
            .provider(GitHubProvider::new(VendorAccess::new(github, store)?))
            .provider(AuditProvider::new(dir.path().join("audit")))
            .build();

    let event = Content::new("The nightly build failed on `main`: 3 tests.")
        .title("Nightly build failed")
        .metadata("labels", serde_json::json!(["ci"]));
    let targets = [
        Target::new(ProviderId::from_static("slack"), "C0GENERAL"),
        Target::new(ProviderId::from_static("github"), "octocat/hello-world"),
        Target::new(ProviderId::from_static("github"), "octocat/no-such-repo"),
        Target::new(ProviderId::from_static("audit"), "build_failed"),
    ];
    let fan_out = service
        .fan_out(&tenant, "nightly-2026-11-24", &event, &targets)
        .await;
    println!(
        "fan-out to {} targets, {} delivered:",
        targets.len(),
        fan_out.delivered()
    );
    println!("{fan_out}");

    let basic = service
        .fan_out(&tenant, "nightly-2026-11-25", &event, &[])
        .await;
    println!("without providers: {basic}");
    Ok(())
}
