//! Unit tests of the config reader.
use super::*;

const TOML: &str = r#"
    [server]
    port = 8080

    [integrations]
    enabled = ["clock", "slack"]

    [integrations.clock]
    tick_interval = "250ms"
    zone = "UTC"

    [integrations.slack]
    token = "env:SLACK_TOKEN"
    auth = { header = "Bearer ${SLACK_TOKEN}" }
    channels = ["general", "${EXTRA_CHANNEL:-random}"]

    [integrations.disabled]
    token = "env:NOT_SET_ANYWHERE"

    [agents.mcp.files]
    command = "npx"
    args = ["-y", "server-files", "--token", "${FILES_TOKEN}"]
    env = { API_KEY = "env:FILES_TOKEN" }
    cwd = "/tmp"

    [agents.mcp.remote]
    url = "https://mcp.example.com/mcp"
    headers = { Authorization = "Bearer ${REMOTE}" }
"#;

fn env() -> Env {
    Env::from_vars([
        ("SLACK_TOKEN", "xoxb-secret"),
        ("FILES_TOKEN", "ft-secret"),
        ("REMOTE", "rt-secret"),
    ])
}

#[test]
fn loads_sections_and_servers() {
    let config = Config::from_toml_str_with_env(TOML, &env()).unwrap();
    assert_eq!(
        config.enabled(),
        &[
            IntegrationId::new("clock").unwrap(),
            IntegrationId::new("slack").unwrap()
        ]
    );
    let clock = config.integration("clock").unwrap();
    assert_eq!(clock.tick_interval(), Some(Duration::from_millis(250)));
    assert_eq!(clock.get::<String>("zone").unwrap().as_deref(), Some("UTC"));
    assert!(clock.get::<String>("tick_interval").unwrap().is_none());

    let slack = config.integration("slack").unwrap();
    assert_eq!(
        slack.secret("token").unwrap().expose_secret(),
        "xoxb-secret"
    );
    assert_eq!(
        slack.secret("auth.header").unwrap().expose_secret(),
        "Bearer xoxb-secret"
    );
    assert_eq!(
        slack.get::<Vec<String>>("channels").unwrap().unwrap(),
        ["general", "random"]
    );
    assert!(config.integration("disabled").is_none());

    let McpServerEntry::Stdio(files) = &config.mcp_servers()["files"] else {
        panic!()
    };
    assert_eq!(files.command.expose(), "npx");
    assert_eq!(files.args[3].expose(), "ft-secret");
    assert!(files.args[3].is_secret() && !files.args[0].is_secret());
    assert_eq!(files.env["API_KEY"].expose(), "ft-secret");
    assert_eq!(files.cwd.as_deref(), Some(Path::new("/tmp")));
    let McpServerEntry::Http(remote) = &config.mcp_servers()["remote"] else {
        panic!()
    };
    assert_eq!(remote.headers["Authorization"].expose(), "Bearer rt-secret");
}

#[test]
fn debug_shows_no_secret() {
    let config = Config::from_toml_str_with_env(TOML, &env()).unwrap();
    let debug = format!("{config:?}");
    for secret in ["xoxb-secret", "ft-secret", "rt-secret"] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("env:SLACK_TOKEN"));
}

#[test]
fn missing_variable_fails_the_load_with_key_and_variable() {
    let env = Env::from_vars([("SLACK_TOKEN", "x"), ("FILES_TOKEN", "y")]);
    let err = Config::from_toml_str_with_env(TOML, &env).unwrap_err();
    assert!(
        matches!(&err, Error::Config(ConfigError::MissingEnvVar { key, var }) if key == "agents.mcp.remote.headers.Authorization" && var == "REMOTE"),
        "{err:?}"
    );
    let err = Config::from_toml_str_with_env(
        TOML,
        &Env::from_vars([("FILES_TOKEN", "y"), ("REMOTE", "z")]),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Config(ConfigError::MissingEnvVar { key, var }) if key == "integrations.slack.auth.header" && var == "SLACK_TOKEN"),
        "{err:?}"
    );
}

#[test]
fn parse_errors_never_show_secrets() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        token: u32,
    }
    let config = Config::from_toml_str_with_env(TOML, &env()).unwrap();
    let err = config
        .integration("slack")
        .unwrap()
        .parse::<Wrong>()
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("config key `integrations.slack`"),
        "{message}"
    );
    assert!(!message.contains("xoxb-secret"), "{message}");
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        (
            "[integrations]\nenabled = \"clock\"",
            "integrations.enabled",
        ),
        (
            "[integrations]\nenabled = [\"a.b\"]",
            "integrations.enabled[0]",
        ),
        (
            "[integrations]\nenabled = [\"a\", \"a\"]",
            "integrations.enabled",
        ),
        (
            "[integrations]\nenabled = [\"a\"]\n[integrations.a]\ntick_interval = \"soon\"",
            "integrations.a.tick_interval",
        ),
        (
            "[integrations]\nenabled = [\"a\"]\n[integrations.a]\ntick_interval = 0",
            "integrations.a.tick_interval",
        ),
        (
            "[integrations]\nenabled = [\"a\"]\n[integrations.a]\ntick_interval = true",
            "integrations.a.tick_interval",
        ),
        ("integrations = 3", "integrations"),
        (
            "[agents.mcp.x]\ncommand = \"a\"\nurl = \"b\"",
            "agents.mcp.x",
        ),
        (
            "[agents.mcp.\"my server\"]\ncommand = \"a\"",
            "agents.mcp.my server",
        ),
        ("[agents.mcp.x]\nargs = []", "agents.mcp.x"),
        (
            "[agents.mcp.x]\ntype = \"websocket\"\nurl = \"http://h\"",
            "agents.mcp.x.type",
        ),
        (
            "[agents.mcp.x]\ncommand = \"a\"\nargs = [1]",
            "agents.mcp.x.args[0]",
        ),
        (
            "[agents.mcp.x]\ncommand = \"a\"\nhedaers = {}",
            "agents.mcp.x.hedaers",
        ),
        (
            "[agents.mcp.x]\nurl = \"http://h\"\nenv = {}",
            "agents.mcp.x.env",
        ),
        (
            "[agents.mcp.x]\ncommand = \"a\"\nheaders = {}",
            "agents.mcp.x.headers",
        ),
        (
            "[agents.mcp.x]\ncommand = \"a\"\nprotocol = \"2025-11-25\"",
            "agents.mcp.x.protocol",
        ),
        (
            "[agents.mcp.x]\nurl = \"http://h\"\nprotocol = 2026",
            "agents.mcp.x.protocol",
        ),
        (
            "[agents.mcp.x]\ncommand = \"a\"\ntools = [\"get_*\"]",
            "agents.mcp.x.tools",
        ),
        (
            "[agents.mcp.x]\ncommand = \"a\"\ntools = { allow = [\"get *\"] }",
            "agents.mcp.x.tools.allow",
        ),
        (
            "[agents.mcp.x]\ncommand = \"a\"\ntools = { block = [] }",
            "agents.mcp.x.tools.block",
        ),
    ];
    for (text, expected_key) in cases {
        let err =
            Config::from_toml_str_with_env(text, &Env::from_vars::<[(&str, &str); 0], _, _>([]))
                .unwrap_err();
        assert!(
            matches!(&err, Error::Config(ConfigError::Invalid { key, .. }) if key == expected_key),
            "{text:?}: {err:?}"
        );
    }
    assert!(matches!(
        Config::from_toml_str("[integrations"),
        Err(Error::Config(ConfigError::Syntax { line: 1, .. }))
    ));
}

#[test]
fn an_entry_names_its_protocol_revision_or_leaves_it_to_the_pool() {
    use crate::config::{McpProtocol, McpServerEntry};
    let config = Config::from_toml_str(
        "[agents.mcp.a]\ncommand = \"a\"\nprotocol = \"legacy\"\n\
         [agents.mcp.b]\nurl = \"http://h/mcp\"\nprotocol = \"2026-07-28\"\n\
         [agents.mcp.c]\ncommand = \"c\"\n",
    )
    .unwrap();
    let servers = config.mcp_servers();
    assert_eq!(servers["a"].protocol(), Some(McpProtocol::Legacy));
    assert_eq!(servers["b"].protocol(), Some(McpProtocol::Modern));
    assert_eq!(servers["c"].protocol(), None);
    let json = serde_json::json!({"url": "http://h/mcp", "protocol": "auto"});
    let entry = McpServerEntry::from_json("mcpServers.d", &json, &Env::none()).unwrap();
    assert_eq!(entry.protocol(), Some(McpProtocol::Auto));
    let sse = serde_json::json!({"type": "sse", "url": "http://h/sse"});
    let McpServerEntry::Http(sse) =
        McpServerEntry::from_json("mcpServers.e", &sse, &Env::none()).unwrap()
    else {
        panic!("an HTTP entry")
    };
    assert_eq!(sse.transport, crate::config::HttpTransport::Sse);
    let err = "2025".parse::<McpProtocol>().unwrap_err().to_string();
    assert!(
        err.contains("\"auto\", \"legacy\" or \"2026-07-28\""),
        "{err}"
    );
}

#[test]
fn an_entry_says_which_tools_may_be_listed_and_called() {
    use crate::config::{McpServerEntry, ToolPolicy};
    let config = Config::from_toml_str(
        "[agents.mcp.a]\ncommand = \"a\"\ntools = { allow = [\"get_*\"], deny = [\"get_secret\"] }\n\
         [agents.mcp.b]\nurl = \"http://h/mcp\"\n",
    )
    .unwrap();
    let servers = config.mcp_servers();
    assert_eq!(
        *servers["a"].tools(),
        ToolPolicy::new(["get_*"], ["get_secret"]).unwrap()
    );
    assert!(servers["a"].tools().allows("get_issue"));
    assert!(!servers["a"].tools().allows("get_secret"));
    assert!(servers["b"].tools().is_unrestricted());
    let json = serde_json::json!({"url": "http://h/mcp", "tools": {"deny": ["delete_*"]}});
    let entry = McpServerEntry::from_json("mcpServers.d", &json, &Env::none()).unwrap();
    assert!(!entry.tools().allows("delete_repo"));
}

/// Item 15 of the review: a syntax error used to carry the whole text
/// (Debug) and quote the offending line (Display), secrets included.
#[test]
fn syntax_errors_point_at_the_place_and_never_echo_the_text() {
    const SECRET: &str = "xoxb-SECRET-4242";
    let cases = [
        // (text, line, key)
        (
            format!("[integrations.slack]\ntoken = \"{SECRET}\n"),
            2,
            Some("integrations.slack.token"),
        ),
        (
            format!("[integrations.slack]\ntoken = {SECRET}\n"),
            2,
            Some("integrations.slack.token"),
        ),
        (
            format!("[agents.mcp.x]\ncommand = \"a\"\nenv = {{ K = \"{SECRET}\" \n"),
            3,
            Some("agents.mcp.x.env"),
        ),
        (
            format!("[a]\nk = \"{SECRET}\"\nk = \"{SECRET}\"\n"),
            3,
            Some("a.k"),
        ),
        (format!("token = \"{SECRET}\" trailing\n"), 1, Some("token")),
        // A pasted token with its key forgotten.
        (
            format!("[integrations.slack]\n{SECRET}\n"),
            2,
            Some("integrations.slack"),
        ),
        (
            format!("[integrations]\nenabled = [\"{SECRET}\",, ]\n"),
            2,
            Some("integrations.enabled"),
        ),
    ];
    for (text, line, key) in cases {
        let err = Config::from_toml_str(&text).unwrap_err();
        let Error::Config(ConfigError::Syntax {
            line: at,
            key: near,
            ..
        }) = &err
        else {
            panic!("{text:?}: expected a syntax error, got {err:?}");
        };
        assert_eq!(*at, line, "{text:?}: {err}");
        if key.is_some() {
            assert_eq!(near.as_deref(), key, "{text:?}: {err}");
        }
        let boxed: crate::BoxError = Box::new(err);
        let mut shown = vec![
            format!("{boxed}"),
            format!("{boxed:?}"),
            format!("{boxed:#?}"),
            crate::error::error_chain(&*boxed),
        ];
        let mut source = boxed.source();
        while let Some(cause) = source {
            shown.push(format!("{cause} {cause:?}"));
            source = cause.source();
        }
        for text in shown {
            assert!(!text.contains("SECRET"), "a secret in {text:?}");
        }
    }
}

#[test]
fn intervals_accept_strings_and_numbers() {
    let parse = |v: Value| parse_interval("k", &v).unwrap();
    assert_eq!(
        parse(Value::String("1m 30s".into())),
        Duration::from_secs(90)
    );
    assert_eq!(parse(Value::Integer(2)), Duration::from_secs(2));
    assert_eq!(parse(Value::Float(0.5)), Duration::from_millis(500));
}
