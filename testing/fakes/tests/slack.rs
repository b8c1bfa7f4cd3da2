//! The fake Slack over raw HTTP on 127.0.0.1.

use std::time::{Duration, Instant};

use integrations_fakes::slack::FakeSlack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post(fake: &FakeSlack, method: &str) -> String {
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
         Content-Length: 0\r\nConnection: close\r\n\r\n"
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
