//! The fake SMTP relay over raw TCP on 127.0.0.1.

use integrations_fakes::smtp::FakeSmtp;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Client {
    lines: BufReader<TcpStream>,
}

impl Client {
    async fn connect(fake: &FakeSmtp) -> Self {
        let stream = TcpStream::connect((fake.host(), fake.port()))
            .await
            .unwrap();
        let mut client = Self {
            lines: BufReader::new(stream),
        };
        assert!(client.reply().await.starts_with("220"));
        client
    }

    /// The last line of the next reply.
    async fn reply(&mut self) -> String {
        loop {
            let mut line = String::new();
            self.lines.read_line(&mut line).await.unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                return line;
            }
        }
    }

    async fn send(&mut self, line: &str) -> String {
        self.lines
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }
}

#[tokio::test]
async fn the_relay_answers_as_rfc_5321_says() {
    let fake = FakeSmtp::start("u", "p").await;
    let mut client = Client::connect(&fake).await;
    assert!(client.send("EHLO test").await.starts_with("250"));
    assert!(
        client
            .send("MAIL FROM:<a@example.com>")
            .await
            .starts_with("530")
    );
    // AUTH PLAIN of "\0u\0wrong", then of "\0u\0p".
    assert!(
        client
            .send("AUTH PLAIN AHUAd3Jvbmc=")
            .await
            .starts_with("535")
    );
    assert!(client.send("AUTH PLAIN AHUAcA==").await.starts_with("235"));
    assert!(
        client
            .send("MAIL FROM:<a@example.com>")
            .await
            .starts_with("250")
    );
    for n in 0..100 {
        let reply = client.send(&format!("RCPT TO:<r{n}@example.com>")).await;
        assert!(reply.starts_with("250"), "{reply}");
    }
    assert!(
        client
            .send("RCPT TO:<r100@example.com>")
            .await
            .starts_with("452")
    );
    assert!(client.send("DATA").await.starts_with("354"));
    let long = "x".repeat(1200);
    let reply = client
        .send(&format!("Subject: hi\r\n\r\n..leading dot\r\n{long}\r\n."))
        .await;
    assert!(reply.starts_with("500"), "{reply}");
    assert!(
        client
            .send("MAIL FROM:<a@example.com>")
            .await
            .starts_with("250")
    );
    assert!(
        client
            .send("RCPT TO:<b@example.com>")
            .await
            .starts_with("250")
    );
    assert!(client.send("DATA").await.starts_with("354"));
    let reply = client.send("Subject: hi\r\n\r\n..leading dot\r\n.").await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(client.send("QUIT").await.starts_with("221"));

    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, ["b@example.com"]);
    assert_eq!(
        messages[0].data, "Subject: hi\r\n\r\n.leading dot\r\n",
        "dot-unstuffed"
    );
    let violations = fake.violations();
    assert_eq!(violations.len(), 4, "{violations:?}");
}
