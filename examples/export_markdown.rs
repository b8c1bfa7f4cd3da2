//! Export markdown: render a document to Slack Block Kit and Notion blocks,
//! then export it to Slack and Notion, offline.
//!
//! Fake Slack and Notion APIs run on 127.0.0.1 and check every request
//! against the real limits (50 blocks and 3000 characters a section for
//! Slack, 100 blocks and 2000 characters a rich text for Notion). The
//! example prints what the converters make, the dry run of each export,
//! and the external URLs the exports return.
//!
//! ```sh
//! cargo run --example export_markdown
//! ```
//!
//! `RUST_LOG` sets what it logs to stderr (default `info`).

use std::sync::Arc;

use integrations_core::credentials::{CredentialStore, Credentials, MemoryStore};
use integrations_core::id::ProviderId;
use integrations_core::{ConnectionId, TenantId};
use integrations_export::markdown::{markdown_to_notion, markdown_to_slack};
use integrations_export::providers::{NotionProvider, SlackProvider, VendorAccess};
use integrations_export::{Content, ExportRequest, ExportService, SqliteExportStore};
use integrations_fakes::notion::FakeNotion;
use integrations_fakes::slack::FakeSlack;
use integrations_vendor::{Auth, Vendor, VendorConnection};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// This repository's own guides: about 30 KB of markdown, enough for a
/// Slack thread of several messages and several Notion requests.
const DOCUMENT: &str = concat!(
    include_str!("../README.md"),
    "\n\n",
    include_str!("../docs/getting-started.md"),
    "\n\n",
    include_str!("../docs/mcp.md"),
    "\n\n",
    include_str!("../docs/vendor.md"),
);

#[tokio::main]
async fn main() -> Result<(), Error> {
    integrations_examples::init_tracing();

    // 1. Render: what Slack and Notion will receive.
    let messages = markdown_to_slack(DOCUMENT);
    let blocks = markdown_to_notion(DOCUMENT);
    println!(
        "{} KB of markdown -> {} Slack messages ({} blocks), {} Notion blocks",
        DOCUMENT.len() / 1024,
        messages.len(),
        messages.iter().map(|m| m.blocks.len()).sum::<usize>(),
        blocks.len()
    );
    println!(
        "first Slack block: {}",
        serde_json::to_string(&messages[0].blocks[0])?
    );
    println!("first Notion block: {}", serde_json::to_string(&blocks[0])?);

    // 2. The tenant's tokens, in the credential store (never in code).
    let slack_fake = FakeSlack::start("xoxb-example").await;
    let notion_fake = FakeNotion::start("secret_example").await;
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
            &ConnectionId::new("notion", "default")?,
            &Credentials::bearer("secret_example"),
        )
        .await?;

    // 3. The service, with providers pointed at the fakes.
    let dir = tempfile::tempdir()?;
    let slack = VendorConnection::builder(Vendor::slack().with_base_url(slack_fake.api_url()))
        .auth(Auth::Bearer);
    let notion = VendorConnection::builder(Vendor::notion().with_base_url(notion_fake.api_url()))
        .auth(Auth::Bearer);
    let service =
        ExportService::builder(SqliteExportStore::open(dir.path().join("exports.db")).await?)
            .provider(SlackProvider::new(VendorAccess::new(
                slack,
                Arc::clone(&store),
            )?))
            .provider(NotionProvider::new(VendorAccess::new(notion, store)?))
            .build();

    let content = Content::new(DOCUMENT).title("The integrations guide");
    for (provider, destination) in [("slack", "C0GENERAL"), ("notion", "parent-page")] {
        let request = ExportRequest::new(
            tenant.clone(),
            ProviderId::new(provider)?,
            destination,
            content.clone(),
        )
        .idempotency_key(format!("guide-{provider}"));
        // 4. A dry run: the requests it would send.
        let plan = service.plan(&request)?;
        println!(
            "{provider}: the dry run plans {} requests to {}",
            plan.len(),
            plan[0].target
        );
        // 5. The export, logged.
        let record = service.export(request).await?;
        let result = record.result.ok_or("the export failed")?;
        println!(
            "{provider}: {} in {} requests -> {}",
            record.status,
            result.requests,
            result.external_url.unwrap_or_default()
        );
    }
    println!(
        "slack received {} messages in one thread, notion {} page(s); limits broken: {}",
        slack_fake.posts().len(),
        notion_fake.pages().len(),
        slack_fake.violations().len() + notion_fake.violations().len()
    );
    Ok(())
}
