// Collects tools.json: run in a directory where the packages of README.md
// and @modelcontextprotocol/sdk are installed (npm install --ignore-scripts ...).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { readFileSync, writeFileSync } from "node:fs";

const dummy = {
  GITHUB_PERSONAL_ACCESS_TOKEN: "x", GITLAB_PERSONAL_ACCESS_TOKEN: "x", GITLAB_API_URL: "http://127.0.0.1:9/api/v4",
  SLACK_BOT_TOKEN: "xoxb-x", SLACK_TEAM_ID: "T0", GOOGLE_MAPS_API_KEY: "x", BRAVE_API_KEY: "x",
  FIRECRAWL_API_KEY: "fc-x", EXA_API_KEY: "x", TAVILY_API_KEY: "tvly-x", HEROKU_API_KEY: "x",
  SUPABASE_ACCESS_TOKEN: "sbp_x", NOTION_TOKEN: "ntn_x", OPENAPI_MCP_HEADERS: "{}",
  MDB_MCP_CONNECTION_STRING: "mongodb://127.0.0.1:9", KUBECONFIG: "./kubeconfig", SENTRY_ACCESS_TOKEN: "x", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x", AWS_REGION: "us-east-1", EVERART_API_KEY: "x", STRIPE_SECRET_KEY: "sk_test_x",
};
const servers = [
  ["filesystem", "@modelcontextprotocol/server-filesystem", "mcp-server-filesystem", ["/tmp"]],
  ["memory", "@modelcontextprotocol/server-memory", "mcp-server-memory", []],
  ["everything", "@modelcontextprotocol/server-everything", "mcp-server-everything", []],
  ["github", "@modelcontextprotocol/server-github", "mcp-server-github", []],
  ["gitlab", "@modelcontextprotocol/server-gitlab", "mcp-server-gitlab", []],
  ["slack", "@modelcontextprotocol/server-slack", "mcp-server-slack", []],
  ["google-maps", "@modelcontextprotocol/server-google-maps", "mcp-server-google-maps", []],
  ["brave-search", "@modelcontextprotocol/server-brave-search", "mcp-server-brave-search", []],
  ["sequential-thinking", "@modelcontextprotocol/server-sequential-thinking", "mcp-server-sequential-thinking", []],
  ["redis", "@modelcontextprotocol/server-redis", "mcp-server-redis", ["redis://127.0.0.1:9"]],
  ["postgres", "@modelcontextprotocol/server-postgres", "mcp-server-postgres", ["postgresql://127.0.0.1:9/x"]],
  ["playwright", "@playwright/mcp", "playwright-mcp", []],
  ["chrome-devtools", "chrome-devtools-mcp", "chrome-devtools-mcp", []],
  ["notion", "@notionhq/notion-mcp-server", "notion-mcp-server", []],
  ["kubernetes", "mcp-server-kubernetes", "mcp-server-kubernetes", []],
  ["supabase", "@supabase/mcp-server-supabase", "mcp-server-supabase", []],
  ["firecrawl", "firecrawl-mcp", "firecrawl-mcp", []],
  ["context7", "@upstash/context7-mcp", "context7-mcp", []],
  ["mongodb", "mongodb-mcp-server", "mongodb-mcp-server", []],
  ["heroku", "@heroku/mcp-server", "heroku-mcp-server", []],
  ["exa", "exa-mcp-server", "exa-mcp-server", []],
  ["tavily", "tavily-mcp", "tavily-mcp", []],
  ["desktop-commander", "@wonderwhy-er/desktop-commander", "desktop-commander", []],
  ["puppeteer", "@modelcontextprotocol/server-puppeteer", "mcp-server-puppeteer", []],
  ["aws-kb-retrieval", "@modelcontextprotocol/server-aws-kb-retrieval", "mcp-server-aws-kb-retrieval", []],
  ["everart", "@modelcontextprotocol/server-everart", "mcp-server-everart", []],
  ["playwright-ea", "@executeautomation/playwright-mcp-server", "playwright-mcp-server", []],
  ["azure-devops", "@azure-devops/mcp", "mcp-server-azuredevops", ["contoso"]],
  ["sentry", "@sentry/mcp-server", "sentry-mcp", ["--access-token=x"]],
];
const out = [];
for (const [name, pkg, bin, args] of servers) {
  const version = JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, "utf8")).version;
  const transport = new StdioClientTransport({ command: `node_modules/.bin/${bin}`, args, env: { ...process.env, ...dummy }, stderr: "ignore" });
  const client = new Client({ name: "collect", version: "1" });
  try {
    await Promise.race([
      (async () => {
        await client.connect(transport);
        let tools = [], cursor;
        do { const page = await client.listTools(cursor ? { cursor } : {}); tools.push(...page.tools); cursor = page.nextCursor; } while (cursor);
        out.push({ server: name, package: pkg, version, tools: tools.map(t => ({ name: t.name, title: t.title, description: t.description, inputSchema: { properties: Object.fromEntries(Object.entries(t.inputSchema?.properties ?? {}).map(([k, v]) => [k, v?.description ? { description: v.description } : {}])) } })) });
        console.error(`${name}: ${tools.length}`);
      })(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 30000)),
    ]);
  } catch (e) { console.error(`${name}: FAILED ${e.message}`); }
  try { await client.close(); } catch {}
}
writeFileSync("tools.json", JSON.stringify(out, null, 1));
console.error("total", out.reduce((n, s) => n + s.tools.length, 0));
process.exit(0);
