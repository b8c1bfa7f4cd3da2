//! Snapshots of what typical documents become, for a person to review:
//! Slack Block Kit (mrkdwn sections, and `markdown` and `table` blocks) and
//! Notion blocks of a status report, release notes and
//! an agent's answer with code, and a webhook's dry run.

use integrations_export::markdown::{
    SlackFormat, SlackOptions, markdown_to_html, markdown_to_notion, markdown_to_slack,
    markdown_to_slack_with, markdown_to_text,
};

const STATUS_REPORT: &str = "\
# Weekly status

**Shipped**: the export outbox, with _durable_ enqueues. See <https://example.com/pr/42|PR 42>.

## Risks

- Slack rate limits on `chat.postMessage` (1 per second per channel)
- Notion's 100-block requests
  - nested items
    - and deeper ones

| Service | Status | Owner |
|---|:---:|---|
| export | green | <@U024BE7LH> |
| vendor | amber | <#C024BE91L> |

- [x] write the guide
- [ ] publish 0.1

> Ask in #integrations if something is unclear & say what you tried.

---
Thanks!
";

const RELEASE_NOTES: &str = "\
## 0.2.0

1. **Breaking**: `ExportService::export` returns the log record.
2. New: ~~plain~~ signed webhooks.

### Fixed

* A < B && C > D no longer breaks Slack's escaping.
";

const AGENT_ANSWER: &str = "\
The query you want:

```sql
SELECT tenant, count(*) FROM integrations_exports
WHERE status = 'failed' GROUP BY tenant;
```

Then run `cargo run --example fanout`.
";

#[test]
fn slack_blocks_of_typical_documents() {
    insta::assert_json_snapshot!("slack_status_report", markdown_to_slack(STATUS_REPORT));
    insta::assert_json_snapshot!("slack_release_notes", markdown_to_slack(RELEASE_NOTES));
    insta::assert_json_snapshot!("slack_agent_answer", markdown_to_slack(AGENT_ANSWER));
}

#[test]
fn slack_markdown_blocks_of_typical_documents() {
    let mut options = SlackOptions::default();
    options.format = SlackFormat::Markdown;
    let two_tables =
        format!("{STATUS_REPORT}\n| Second | table |\n|---|--:|\n| in | the next message |\n");
    for (name, document) in [
        ("slack_markdown_status_report", STATUS_REPORT),
        ("slack_markdown_release_notes", RELEASE_NOTES),
        ("slack_markdown_agent_answer", AGENT_ANSWER),
        ("slack_markdown_two_tables", &two_tables),
    ] {
        insta::assert_json_snapshot!(name, markdown_to_slack_with(document, options));
    }
}

#[test]
fn notion_blocks_of_typical_documents() {
    insta::assert_json_snapshot!("notion_status_report", markdown_to_notion(STATUS_REPORT));
    insta::assert_json_snapshot!("notion_release_notes", markdown_to_notion(RELEASE_NOTES));
    insta::assert_json_snapshot!("notion_agent_answer", markdown_to_notion(AGENT_ANSWER));
}

#[test]
fn email_parts_of_typical_documents() {
    insta::assert_snapshot!("email_text_status_report", markdown_to_text(STATUS_REPORT));
    insta::assert_snapshot!("email_html_status_report", markdown_to_html(STATUS_REPORT));
    insta::assert_snapshot!("email_text_agent_answer", markdown_to_text(AGENT_ANSWER));
}
