//! The host app end to end, over real HTTP on 127.0.0.1: the example runs
//! with `--serve`, and a client walks the OAuth flow, a connection test, a
//! destination listing and an export, and reads the export back from the
//! log. Then headless Chromium loads the page, connects the fake provider
//! and sees it listed as connected with its health.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};

/// Third-party text in the heartbeat's notifications (security review,
/// finding 11: such text went into `innerHTML`, and this script ran).
const NOTE: &str = r#"<img src=x onerror="window.__xss = 1">"#;

/// The running example; killed when dropped.
struct HostApp {
    child: Child,
    base: String,
}

impl Drop for HostApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn host_app() -> HostApp {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let binary = deps.parent().unwrap().join("examples").join("host_app");
    let mut child = Command::new(binary)
        .arg("--serve")
        .env("RUST_LOG", "warn")
        .env("HOST_APP_NOTE", NOTE)
        .stdout(Stdio::piped())
        .spawn()
        .expect("host_app is built by `cargo test`");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    HostApp { child, base }
}

#[tokio::test]
async fn a_client_connects_tests_lists_exports_and_reads_the_log() {
    let app = host_app();
    let base = &app.base;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let grace = Tenant {
        http: &http,
        base,
        id: "grace",
    };
    let someone_else = Tenant {
        id: "someone-else",
        ..grace
    };

    let available = grace.get("/integrations/available?q=notion").await;
    assert_eq!(available.as_array().unwrap().len(), 1);
    assert_eq!(available[0]["slug"], "notion");
    let bad = grace
        .send(Method::GET, "/integrations/available?kind=fax")
        .await;
    assert_eq!(bad.status(), 400);
    let nothing = grace.get("/integrations/connected").await;
    assert_eq!(nothing, json!([]));

    // The OAuth code flow: start, the provider, the callback.
    let start = grace
        .send(Method::GET, "/integrations/slack/oauth/start")
        .await;
    assert_eq!(start.status(), 303);
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.contains("code_challenge="), "PKCE: {authorize}");
    let callback = http.get(&authorize).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let path = callback.strip_prefix(base.as_str()).unwrap_or(&callback);
    let landed = grace.send(Method::GET, path).await;
    assert_eq!(landed.headers()["location"], "/?connected=slack");
    let replayed = grace.send(Method::GET, path).await;
    assert_eq!(replayed.status(), 400, "a state is used once");
    let connected = grace.get("/integrations/connected").await;
    assert_eq!(connected[0]["connection"], "slack/default");
    let other = someone_else.get("/integrations/connected").await;
    assert_eq!(other, json!([]), "tenants are apart");

    let test = grace
        .json(Method::POST, "/integrations/slack/test", None)
        .await;
    assert_eq!(test["success"], true, "{test}");
    let destinations = grace.get("/integrations/slack/destinations").await;
    assert_eq!(destinations["destinations"][0]["id"], "C0GENERAL");

    let body = json!({"provider": "slack", "destination": "C0GENERAL", "title": "Release", "markdown": "Version **1.0** is out.", "idempotency_key": "release-1"});
    let exported = grace
        .json(Method::POST, "/integrations/export", Some(&body))
        .await;
    assert_eq!(exported["status"], "delivered", "{exported}");
    let log = grace.get("/integrations/exports").await;
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["key"], "release-1");
    assert_eq!(log[0]["external_url"], exported["external_url"]);

    let events = grace.get("/integrations/slack/events").await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(kinds, ["connected", "tested", "exported"]);
    let theirs = someone_else.get("/integrations/slack/events").await;
    assert_eq!(theirs, json!([]), "one tenant's events are not another's");
    let health = grace.get("/integrations/slack/health").await;
    assert_eq!(health["summary"]["success_rate"], 1.0, "{health}");
    let history = health["history"].as_array().unwrap();
    assert!(
        !history.is_empty(),
        "the test and the export are in the history"
    );
    assert!(
        history
            .iter()
            .all(|call| call["status"] == "ok" && call["response_time_ms"].is_u64()),
        "{health}"
    );
    // Security review, finding 11: health (with its last error) was one
    // record for every tenant, and state-changing routes took cross-site
    // form posts.
    let theirs = someone_else.get("/integrations/slack/health").await;
    assert_eq!(
        theirs,
        json!({"summary": null, "history": []}),
        "one tenant's health is not another's"
    );
    let cross_site = http
        .post(format!("{base}/integrations/slack/test"))
        .header("x-tenant", "grace")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 415, "a form post is refused");
    // The connected Slack has an MCP server of its own for the tenant,
    // run with its token; the tool policy leaves Slack's tools only.
    let tools = grace.get("/integrations/slack/tools").await;
    assert_eq!(
        tools["tools"],
        json!([
            "slack_post_message",
            "slack_reply_to_thread",
            "slack_list_channels"
        ])
    );
    assert_eq!(tools["health"], "ok");
    assert_eq!(grace.get("/integrations/mcp/metrics").await["sessions"], 1);
    let gone = grace
        .json(Method::DELETE, "/integrations/slack", None)
        .await;
    assert_eq!(gone["removed"], true);
    // Issue 20: disconnecting deleted the credentials and left the MCP
    // server running with the deleted token.
    assert_eq!(gone["mcp_server_removed"], true);
    assert_eq!(grace.get("/integrations/mcp/metrics").await["sessions"], 0);
    let refused = grace.get("/integrations/slack/tools").await;
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("no MCP server `slack`"),
        "{refused}"
    );

    // Security review, finding 11: `/events` sent every tenant's
    // notifications to everyone. The note is tenant `demo`'s.
    let demo = Tenant {
        id: "demo",
        ..grace
    };
    let (mine, theirs) = tokio::join!(demo.events_for(3), grace.events_for(3));
    assert!(
        mine.contains("onerror") && mine.contains("all integrations running"),
        "{mine}"
    );
    assert!(theirs.contains("all integrations running"), "{theirs}");
    assert!(
        !theirs.contains("onerror"),
        "another tenant's note reached grace: {theirs}"
    );
}

/// Issue 22, in part: an MCP server from the catalog, connected from the
/// form (a server the host installed, never a typed command; environment
/// as text or as a reference to one of the tenant's connections), tested
/// (latency, server, capabilities, tools), called, and disconnected, its
/// session gone.
#[tokio::test]
async fn an_mcp_server_is_connected_from_the_form_tested_called_and_disconnected() {
    let app = host_app();
    let http = reqwest::Client::new();
    let lin = Tenant {
        http: &http,
        base: &app.base,
        id: "lin",
    };
    let mcp = lin.get("/integrations/available?kind=mcp").await;
    let slugs: Vec<&str> = mcp
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["demo-mcp", "notes-mcp"], "{mcp}");
    assert!(mcp.as_array().unwrap().iter().all(|e| e["kind"] == "mcp"));
    let vendors = lin.get("/integrations/available?kind=vendor").await;
    assert!(
        vendors
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] == "vendor")
    );

    let typed = lin
        .request(
            Method::POST,
            "/integrations/mcp/evil",
            Some(&json!({"server": "/bin/sh", "args": ["-c", "id"]})),
        )
        .await;
    assert_eq!(typed.status(), 400);
    assert!(
        typed
            .text()
            .await
            .unwrap()
            .contains("is installed on this host")
    );
    let unconnected = lin
        .request(
            Method::POST,
            "/integrations/mcp/demo-mcp",
            Some(&json!({"server": "demo", "env": {"SLACK_BOT_TOKEN": {"connection": "slack"}}})),
        )
        .await;
    assert_eq!(unconnected.status(), 400);
    assert!(
        unconnected
            .text()
            .await
            .unwrap()
            .contains("connect slack first")
    );

    let form =
        json!({"server": "demo", "args": ["--tools-ttl-ms", "1000"], "env": {"GREETING": "hello"}});
    let connected = lin
        .request(Method::POST, "/integrations/mcp/demo-mcp", Some(&form))
        .await;
    assert_eq!(connected.status(), 200);
    let listed = lin.get("/integrations/connected").await;
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["provider"] == "demo-mcp")
        .expect("the MCP server is listed");
    assert_eq!(entry["kind"], "mcp");
    assert_eq!(entry["health"]["state"], "ok");
    assert!(entry["since"].is_string(), "connected since: {entry}");
    assert!(entry["last_error"].is_null(), "{entry}");

    let test = lin
        .json(Method::POST, "/integrations/demo-mcp/test", None)
        .await;
    assert_eq!(test["success"], true, "{test}");
    assert_eq!(test["server"][0], "integrations-mcp-demo");
    assert!(test["response_time_ms"].as_u64().is_some());
    assert!(test["capabilities"]["tools"].is_object(), "{test}");
    assert!(
        test["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "echo")
    );

    let called = lin
        .json(
            Method::POST,
            "/integrations/demo-mcp/call",
            Some(&json!({"tool": "env", "arguments": {"name": "GREETING"}})),
        )
        .await;
    assert_eq!(called["text"], "hello", "{called}");
    assert_eq!(called["is_error"], false);

    // The server crashes on three calls in a row: the pool calls it down;
    // the next call starts it again and it is back up. The connection's
    // own view shows the test, each call and both changes, in order.
    for _ in 0..3 {
        let crashed = lin
            .request(
                Method::POST,
                "/integrations/demo-mcp/call",
                Some(&json!({"tool": "crash", "arguments": {"code": 3}})),
            )
            .await;
        assert_eq!(crashed.status(), 502);
    }
    let health = lin.get("/integrations/demo-mcp/health").await;
    assert_eq!(health["state"]["state"], "down", "{health}");
    let card = lin.get("/integrations/connected").await;
    let card = card
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["provider"] == "demo-mcp")
        .unwrap()
        .clone();
    assert_eq!(card["health"]["state"], "down", "the card shows it");
    let again = lin
        .json(
            Method::POST,
            "/integrations/demo-mcp/call",
            Some(&json!({"tool": "echo", "arguments": {"text": "back"}})),
        )
        .await;
    assert_eq!(again["text"], "back", "{again}");
    let health = lin.get("/integrations/demo-mcp/health").await;
    assert_eq!(health["state"]["state"], "ok", "{health}");
    assert_eq!(health["summary"]["count"], 6, "{health}");
    let history = health["history"].as_array().unwrap();
    let calls: Vec<&str> = history
        .iter()
        .filter(|e| e["from"].is_null())
        .map(|entry| entry["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        calls,
        ["ok", "ok", "failed", "failed", "failed", "ok"],
        "{health}"
    );
    let changes: Vec<(&str, &str)> = history
        .iter()
        .filter(|e| e["from"].is_string())
        .map(|e| (e["from"].as_str().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, [("ok", "down"), ("down", "ok")], "{health}");
    let down = history.iter().find(|e| e["status"] == "down").unwrap();
    assert!(down["detail"].is_string(), "why: {down}");
    let times: Vec<chrono::DateTime<chrono::Utc>> = history
        .iter()
        .map(|e| serde_json::from_value(e["at"].clone()).unwrap())
        .collect();
    assert!(times.is_sorted(), "oldest first: {times:?}");
    let sessions = lin.get("/integrations/mcp/metrics").await;
    assert_eq!(sessions["sessions"], 1);

    let gone = lin
        .json(Method::DELETE, "/integrations/demo-mcp", None)
        .await;
    assert_eq!(gone["mcp_server_removed"], true);
    let sessions = lin.get("/integrations/mcp/metrics").await;
    assert_eq!(sessions["sessions"], 0, "the session is gone");
    let listed = lin.get("/integrations/connected").await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["provider"] != "demo-mcp")
    );
    let after = lin
        .request(
            Method::POST,
            "/integrations/demo-mcp/call",
            Some(&json!({"tool": "echo", "arguments": {"text": "x"}})),
        )
        .await;
    assert_eq!(after.status(), 502, "a removed server cannot be called");
}

/// Issue 22, in part: a vendor API whose auth method is a token (Notion's
/// integration token) connects from the page's form: a refused token is
/// not kept; then a page goes under a parent picked from its destinations
/// (Notion's markdown API, version 2026-03-11) and shows in the export log.
#[tokio::test]
async fn notion_connects_with_a_token_and_takes_a_page_picked_from_its_destinations() {
    let app = host_app();
    let http = reqwest::Client::new();
    let kim = Tenant {
        http: &http,
        base: &app.base,
        id: "kim",
    };
    let catalog = kim.get("/integrations/available?q=notion").await;
    assert_eq!(catalog[0]["token_form"], true);

    let refused = kim
        .request(
            Method::POST,
            "/integrations/notion/token",
            Some(&json!({"token": "secret_wrong"})),
        )
        .await;
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.unwrap();
    assert!(text.contains("refused the token"), "{text}");
    assert!(!text.contains("secret_wrong"), "the token is not echoed");
    let connected = kim.get("/integrations/connected").await;
    assert!(
        connected.as_array().unwrap().is_empty(),
        "not kept: {connected}"
    );

    let ok = kim
        .json(
            Method::POST,
            "/integrations/notion/token",
            Some(&json!({"token": "secret_host_app_notion"})),
        )
        .await;
    assert_eq!(ok["connected"], "notion", "{ok}");
    let destinations = kim.get("/integrations/notion/destinations").await;
    let reports = destinations["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Reports")
        .expect("the parent page is listed");
    let body = json!({
        "provider": "notion", "destination": reports["id"], "title": "Weekly",
        "markdown": "# Weekly\n\nShipped **the export bar**.",
    });
    let record = kim
        .json(Method::POST, "/integrations/export", Some(&body))
        .await;
    assert_eq!(record["status"], "delivered", "{record}");
    assert!(
        record["external_url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.notion.so/")
    );
    let log = kim.get("/integrations/exports").await;
    assert_eq!(log[0]["provider"], "notion");
}

/// Issue 22: the remote MCP server the host lists connects from the form
/// by its URL, through its own authorization server and the pool's OAuth
/// flow (a URL the host does not list is refused: the host would fetch it);
/// it is tested and called like the demo server, and disconnecting removes
/// the tokens the pool sealed and closes the session.
#[tokio::test]
async fn a_remote_mcp_server_connects_through_its_authorization_server() {
    let app = host_app();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let kim = Tenant {
        http: &http,
        base: &app.base,
        id: "kim",
    };
    let listed = kim.get("/integrations/available?kind=mcp&q=notes").await;
    assert_eq!(listed[0]["slug"], "notes-mcp", "{listed}");
    assert_eq!(listed[0]["auth_methods"][0], "oauth2", "{listed}");
    let url = listed[0]["config_schema"]["properties"]["url"]["enum"][0]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, body) in [
        (
            "notes-mcp",
            json!({"url": "http://169.254.169.254/latest/meta-data"}),
        ),
        ("other", json!({"url": url})),
        ("notes-mcp", json!({"url": url, "server": "demo"})),
    ] {
        let refused = kim
            .request(
                Method::POST,
                &format!("/integrations/mcp/{name}"),
                Some(&body),
            )
            .await;
        assert_eq!(refused.status(), 400, "{name} {body}");
    }

    let asked = kim
        .json(
            Method::POST,
            "/integrations/mcp/notes-mcp",
            Some(&json!({"url": url})),
        )
        .await;
    let approve = asked["authorize"].as_str().expect("sent to authorize");
    let issuer = url.trim_end_matches("/mcp");
    assert!(
        approve.starts_with(&format!("{issuer}/authorize?")),
        "{approve}"
    );
    let pending = kim.get("/integrations/connected").await;
    assert_eq!(pending, json!([]), "not connected before the user approves");
    // The user's browser at the authorization server, which approves at
    // once and sends it back to the host's callback.
    let callback = http.get(approve).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let ours = format!("{}/integrations/notes-mcp/oauth/callback?", app.base);
    assert!(callback.starts_with(&ours), "{callback}");
    let back = http
        .get(&callback)
        .header("x-tenant", "kim")
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], "/?connected=notes-mcp");
    for tenant in ["kim", "mallory"] {
        let replayed = http
            .get(&callback)
            .header("x-tenant", tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(replayed.status(), 400, "a used callback, for {tenant}");
    }

    let listed = kim.get("/integrations/connected").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "one card: {listed}");
    assert_eq!(listed[0]["provider"], "notes-mcp");
    assert_eq!(listed[0]["kind"], "mcp");
    assert_eq!(listed[0]["health"]["state"], "ok");
    let test = kim
        .json(Method::POST, "/integrations/notes-mcp/test", None)
        .await;
    assert_eq!(test["success"], true, "{test}");
    assert!(test["capabilities"]["tools"].is_object(), "{test}");
    let tool = test["tools"][0].as_str().unwrap().to_owned();
    assert!(tool.contains("latest"), "{test}");
    let called = kim
        .json(
            Method::POST,
            "/integrations/notes-mcp/call",
            Some(&json!({"tool": tool})),
        )
        .await;
    assert_eq!(called["text"], "Buy milk", "{called}");
    let theirs = Tenant {
        id: "mallory",
        ..kim
    }
    .request(
        Method::POST,
        "/integrations/notes-mcp/call",
        Some(&json!({"tool": tool})),
    )
    .await;
    assert_eq!(
        theirs.status(),
        502,
        "another tenant has no session with it"
    );

    let gone = kim
        .json(Method::DELETE, "/integrations/notes-mcp", None)
        .await;
    assert_eq!(gone["removed"], true, "the sealed tokens: {gone}");
    assert_eq!(gone["mcp_server_removed"], true, "{gone}");
    let sessions = kim.get("/integrations/mcp/metrics").await;
    assert_eq!(sessions["sessions"], 0, "the session is gone");
    assert_eq!(kim.get("/integrations/connected").await, json!([]));
    let again = kim
        .json(
            Method::POST,
            "/integrations/mcp/notes-mcp",
            Some(&json!({"url": url})),
        )
        .await;
    assert!(
        again["authorize"].is_string(),
        "the pool forgot the tokens, in memory too: {again}"
    );
}

/// The app's API as one tenant calls it (the `x-tenant` header).
#[derive(Clone, Copy)]
struct Tenant<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    id: &'a str,
}

impl Tenant<'_> {
    async fn send(&self, method: Method, path: &str) -> reqwest::Response {
        self.request(method, path, None).await
    }

    async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> reqwest::Response {
        let changes = method != Method::GET;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-tenant", self.id);
        match body {
            Some(body) => request = request.json(body),
            None if changes => {
                request = request.header("content-type", "application/json");
            }
            None => {}
        }
        request.send().await.unwrap()
    }

    /// What `/events` sends this tenant in `seconds` (heartbeats come every
    /// 500 ms).
    async fn events_for(&self, seconds: u64) -> String {
        let mut stream = self.send(Method::GET, "/events").await;
        let mut text = String::new();
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(until, stream.chunk()).await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        text
    }

    async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        self.request(method, path, body).await.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        self.json(Method::GET, path, None).await
    }
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// The page in a real browser: `testing/browser/connect.mjs` (playwright-core
/// from `testing/npm`) loads it, clicks Connect, follows the OAuth flow and
/// waits for the connection and its health to show.
#[test]
fn the_page_connects_the_fake_provider_in_headless_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let driver = root.join("testing/npm/node_modules/playwright-core");
    let (Some(chromium), true) = (chromium(), driver.exists()) else {
        assert!(
            !integrations_fakes::in_ci(),
            "CI needs Chromium (Debian's chromium) and playwright-core (npm ci --prefix testing/npm)"
        );
        eprintln!("skipped: no Chromium or playwright-core here");
        return;
    };
    let app = host_app();
    let output = Command::new("node")
        .arg(root.join("testing/browser/connect.mjs"))
        .arg(&app.base)
        .env("CHROMIUM", chromium)
        .env("EXPECT_NOTE", NOTE)
        .env("NOTION_TOKEN", "secret_host_app_notion")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success(),
        "the browser script failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("search \"demo mcp\": Demo MCP server"),
        "{stdout}"
    );
    assert!(stdout.contains("category productivity: "), "{stdout}");
    assert!(stdout.contains("connected: slack"), "{stdout}");
    assert!(stdout.contains("health: 100% ok"), "{stdout}");
    assert!(stdout.contains("slack log: tested, connected"), "{stdout}");
    assert!(
        stdout.contains("slack health history: ") && stdout.contains(" ok in "),
        "{stdout}"
    );
    assert!(stdout.contains("notification shown as text"), "{stdout}");
    assert!(
        stdout.contains("export log: slack → C0GENERAL: delivered open https://"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("notion export: notion → parent-page: delivered open https://www.notion.so/"),
        "{stdout}"
    );
    assert!(stdout.contains("mcp connected: server ok"), "{stdout}");
    assert!(
        stdout.contains("mcp tools: ") && stdout.contains("echo"),
        "{stdout}"
    );
    assert!(
        stdout.contains("called env: hello from the page"),
        "{stdout}"
    );
    assert!(
        stdout.contains("mcp sessions after disconnect: 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("remote mcp tools: notes"),
        "the remote server, connected through its authorization server: {stdout}"
    );
}
