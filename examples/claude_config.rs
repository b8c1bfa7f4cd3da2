//! Claude config: MCP servers from a host's TOML, with secrets taken from
//! the environment, written as the `mcpServers` JSON that `claude
//! --mcp-config` (and Claude Desktop, Cursor, VS Code) read; and the same
//! JSON read back.
//!
//! The file is created with 0600 permissions and removed when dropped; the
//! printed copy hides secret values.
//!
//! ```sh
//! cargo run --example claude_config
//! ```
//!
//! `RUST_LOG` sets what it logs to stderr (default `info`).

use integrations_core::Config;
use integrations_core::config::Env;
use integrations_core::id::ServerName;
use integrations_mcp::{Bridge, ClaudeConfigFile, servers_from_json};

type Error = Box<dyn std::error::Error + Send + Sync>;

const HOST_TOML: &str = r#"
[agents.mcp.github]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-github"]
env = { GITHUB_PERSONAL_ACCESS_TOKEN = "env:GITHUB_TOKEN" }

[agents.mcp.docs]
url = "https://mcp.example.com/mcp"
headers = { Authorization = "Bearer ${DOCS_TOKEN}" }
"#;

#[tokio::main]
async fn main() -> Result<(), Error> {
    integrations_examples::init_tracing();
    // The host's environment; a real host passes `Env::process()`.
    let env = Env::from_vars([
        ("GITHUB_TOKEN", "ghp_example_secret"),
        ("DOCS_TOKEN", "docs_example_secret"),
    ]);
    let config = Config::from_toml_str_with_env(HOST_TOML, &env)?;
    let mut servers = config.mcp_servers().clone();
    // The host's own integrations, served over MCP by the host itself.
    servers.insert(
        ServerName::new("host")?,
        Bridge::stdio_entry("/usr/local/bin/my-host", &["--mcp-bridge"]),
    );
    println!(
        "{} servers from the TOML and the bridge: {:?}",
        servers.len(),
        servers.keys().collect::<Vec<_>>()
    );

    let file = ClaudeConfigFile::write(&servers).await?;
    println!("claude --mcp-config {}", file.path().display());
    println!("{}", file.redacted());
    let written = std::fs::read_to_string(file.path())?;
    let secret_on_disk = written.contains("ghp_example_secret");
    println!("the file itself holds the real values for claude: {secret_on_disk}");

    // The same JSON, read back as another tool's config would be.
    let again = servers_from_json(&written, &env)?;
    println!(
        "read back: {} servers, the same names: {}",
        again.len(),
        again.keys().eq(servers.keys())
    );
    if missing_variable().is_err() {
        println!("a missing variable is an error at load time, never an empty string");
    }
    Ok(())
}

fn missing_variable() -> Result<Config, integrations_core::Error> {
    Config::from_toml_str_with_env(HOST_TOML, &Env::from_vars(Vec::<(String, String)>::new()))
}
