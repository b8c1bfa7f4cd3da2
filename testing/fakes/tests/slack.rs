//! The fake Slack over raw HTTP on 127.0.0.1.

use std::time::{Duration, Instant};

use integrations_fakes::slack::FakeSlack;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post(fake: &FakeSlack, method: &str) -> String {
    post_json(fake, method, "").await
}

async fn post_json(fake: &FakeSlack, method: &str, body: &str) -> String {
    let url = fake.api_url();
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let request = format!(
        "POST /api/{method} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer xoxb-t\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

/// Issue 21: `set_delay` stored the delay and never applied it.
#[tokio::test]
async fn set_delay_delays_every_answer() {
    let fake = FakeSlack::start("xoxb-t").await;
    let answer = post(&fake, "auth.test").await;
    assert!(answer.contains("\"ok\":true"), "{answer}");

    fake.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    let answer = post(&fake, "auth.test").await;
    assert!(answer.contains("\"ok\":true"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );

    fake.rate_limit_next(1, 1);
    let started = Instant::now();
    let limited = post(&fake, "auth.test").await;
    assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "refusals are delayed too"
    );
}

/// Issue 21: the fake refuses `markdown` and `table` blocks past Slack's
/// limits with `invalid_blocks`, as Slack does, and takes those within.
#[tokio::test]
async fn markdown_and_table_blocks_are_held_to_slacks_limits() {
    let fake = FakeSlack::start("xoxb-t").await;
    let cell = |text: &str| json!({"type": "raw_text", "text": text});
    let table = |rows: usize, text: &str| json!({"type": "table", "rows": vec![vec![cell(text), cell("b")]; rows]});
    let markdown = |chars: usize| json!({"type": "markdown", "text": "m".repeat(chars)});
    let post = |blocks: Value| {
        let body = json!({"channel": "C0GENERAL", "text": "t", "blocks": blocks}).to_string();
        let fake = fake.clone();
        async move { post_json(&fake, "chat.postMessage", &body).await }
    };

    let fine = post(json!([markdown(6000), table(100, "a"), markdown(6000)])).await;
    assert!(fine.contains("\"ok\":true"), "{fine}");
    for (blocks, why) in [
        (json!([markdown(6000), markdown(6001)]), "more than 12,000"),
        (json!([table(2, "a"), table(2, "a")]), "only one table"),
        (json!([table(101, "a")]), "101 rows"),
        (json!([table(2, "")]), "raw_text with text"),
        (json!([table(2, &"x".repeat(5000))]), "more than 10,000"),
    ] {
        let refused = post(blocks).await;
        assert!(refused.contains("invalid_blocks"), "{refused}");
        assert!(
            fake.violations().last().is_some_and(|v| v.contains(why)),
            "{why}: {:?}",
            fake.violations()
        );
    }
    assert_eq!(fake.posts().len(), 1);
}
