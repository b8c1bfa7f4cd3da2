// Drives the host_app page in headless Chromium (Debian's, at $CHROMIUM):
// loads it, clicks Connect on Slack, follows the OAuth flow through the
// local fake provider, waits for Slack to show as connected, runs its
// connection test and waits for its health. Then connects the demo MCP
// server from the form (one variable a reference to the Slack
// connection), tests it, calls a tool, disconnects it and reads the
// pool's session count. Prints what it saw; exits 1 on any failure.
//
//   node testing/browser/connect.mjs http://127.0.0.1:PORT
import { createRequire } from "node:module";

const require = createRequire(new URL("../npm/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const base = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  await page.goto(base);
  await page.waitForSelector("#connect-slack");
  console.log("loaded: the catalog lists Slack");
  await page.fill("#search", "demo mcp");
  await page.locator("#available li", { hasText: "Demo MCP server" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#available li").length === 1);
  console.log(`search "demo mcp": ${await page.locator("#available li").textContent()}`);
  await page.fill("#search", "");
  await page.locator("#category option", { hasText: "productivity" }).waitFor({ state: "attached" });
  await page.selectOption("#category", "productivity");
  await page.waitForFunction(() => [...document.querySelectorAll("#available li .kind")]
    .every(kind => kind.textContent.endsWith("· productivity")));
  const kinds = await page.locator("#available li .kind").allTextContents();
  if (!(await page.locator("#available li", { hasText: "Notes (remote MCP server)" }).count())) {
    throw new Error(`category filter: ${kinds}`);
  }
  console.log(`category productivity: ${kinds.length} entries`);
  await page.selectOption("#category", "");
  await page.waitForSelector("#connect-slack");
  await Promise.all([page.waitForURL(/connected=slack/), page.click("#connect-slack")]);
  const connected = page.locator('#connected li[data-provider="slack"]');
  await connected.waitFor();
  console.log("connected: slack");
  await page.click('button[data-test="slack"]');
  await page.locator('#connected li[data-provider="slack"] .health', { hasText: "100% ok" }).waitFor();
  console.log(`health: ${await connected.locator(".health").textContent()}`);
  await page.click('button[data-log="slack"]');
  await connected.locator(".log li", { hasText: "tested" }).waitFor();
  const events = await connected.locator(".log li").allTextContents();
  await connected.locator(".history li", { hasText: " ok in " }).first().waitFor();
  console.log(`slack health history: ${await connected.locator(".history li").first().textContent()}`);
  console.log(`slack log: ${events.map(line => line.split(" ")[1]).join(", ")}`);
  await page.locator("#notifications li").first().waitFor();
  const shown = await page.locator("#notifications li").first().textContent();
  console.log(`notification: ${shown}`);
  if (process.env.EXPECT_NOTE) {
    const note = page.locator("#notifications li", { hasText: process.env.EXPECT_NOTE }).first();
    await note.waitFor();
    await page.waitForTimeout(300);
    const ran = await page.evaluate(() => window.__xss);
    if (ran !== undefined) throw new Error("a notification's markup ran as a script");
    console.log(`notification shown as text: ${await note.textContent()}`);
  }
  // The export bar: a document to a Slack channel picked from the list,
  // then the export log.
  await page.fill("#export-title", "From the page");
  await page.fill("#export-markdown", "Shipped **from the page**, with a [link](https://example.com).");
  await page.selectOption("#export-provider", "slack");
  await page.evaluate(() => showDestinations());
  await page.locator("#export-destination option", { hasText: "#general" }).waitFor({ state: "attached" });
  await page.selectOption("#export-destination", { label: "#general" });
  await page.click("#export-send");
  const exported = page.locator("#exports li", { hasText: "delivered" }).first();
  await exported.waitFor();
  const href = await exported.locator("a").getAttribute("href");
  console.log(`export log: ${await exported.textContent()} ${href}`);

  // Notion, connected with its integration token; a page exported under
  // a parent picked from its destinations.
  await page.fill('input[data-token="notion"]', process.env.NOTION_TOKEN ?? "");
  await page.click('button[data-token-connect="notion"]');
  await page.locator('#connected li[data-provider="notion"]').waitFor();
  await page.selectOption("#export-provider", "notion");
  await page.evaluate(() => showDestinations());
  await page.locator("#export-destination option", { hasText: "Reports" }).waitFor({ state: "attached" });
  await page.selectOption("#export-destination", { label: "Reports" });
  await page.click("#export-send");
  const page_exported = page.locator("#exports li", { hasText: "notion" }).first();
  await page_exported.locator(".status", { hasText: "delivered" }).waitFor();
  console.log(`notion export: ${await page_exported.textContent()} ${await page_exported.locator("a").getAttribute("href")}`);

  // The demo MCP server, from the catalog's MCP filter and the form.
  await page.selectOption("#kind", "mcp");
  await page.click('button[data-mcp-form="demo-mcp"]');
  await page.fill('#mcp-form textarea[name="env"]', "GREETING=hello from the page\nSLACK_BOT_TOKEN=@slack");
  await page.click('#mcp-form button[type="submit"]');
  const server = page.locator('#connected li[data-provider="demo-mcp"]');
  await server.waitFor();
  console.log(`mcp connected: ${await server.locator(".health").textContent()}`);
  await page.click('button[data-test="demo-mcp"]');
  await server.locator(".tools").waitFor();
  console.log(`mcp ${await server.locator(".tools").textContent()}`);
  await page.selectOption('select[data-tool="demo-mcp"]', "env");
  await page.fill('input[data-args="demo-mcp"]', '{"name": "GREETING"}');
  await page.click('button[data-call="demo-mcp"]');
  const result = server.locator(".result", { hasText: "hello from the page" });
  await result.waitFor();
  console.log(`called ${await result.textContent()}`);
  await page.click('button[data-disconnect="demo-mcp"]');
  await server.waitFor({ state: "detached" });

  // The remote MCP server: the user approves at its authorization server
  // and comes back connected; then it goes again.
  await Promise.all([page.waitForURL(/connected=notes-mcp/), page.click("#connect-notes-mcp")]);
  const remote = page.locator('#connected li[data-provider="notes-mcp"]');
  await remote.waitFor();
  await page.click('button[data-test="notes-mcp"]');
  await remote.locator(".tools").waitFor();
  console.log(`remote mcp ${await remote.locator(".tools").textContent()}`);
  await page.click('button[data-disconnect="notes-mcp"]');
  await remote.waitFor({ state: "detached" });
  const sessions = await page.evaluate(() =>
    fetch("/integrations/mcp/metrics", { headers: { "x-tenant": "demo" } }).then(r => r.json()));
  console.log(`mcp sessions after disconnect: ${sessions.sessions}`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
