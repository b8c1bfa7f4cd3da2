// Takes the README's picture of the host_app page in headless Chromium
// (Debian's, at $CHROMIUM): connects Slack through the OAuth flow, connects
// and tests the demo MCP server and calls one of its tools, then saves a
// screenshot. Run by scripts/screenshot.sh.
//
//   node testing/browser/screenshot.mjs http://127.0.0.1:PORT docs/host_app.png
import { createRequire } from "node:module";

const require = createRequire(new URL("../npm/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [base, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  page.setDefaultTimeout(20000);
  await page.goto(base);
  await page.waitForSelector("#connect-slack");
  await Promise.all([page.waitForURL(/connected=slack/), page.click("#connect-slack")]);
  await page.click('button[data-test="slack"]');
  await page.locator('#connected li[data-provider="slack"] .health', { hasText: "100% ok" }).waitFor();
  await page.click('button[data-mcp-form="demo-mcp"]');
  await page.fill('#mcp-form textarea[name="env"]', "SLACK_BOT_TOKEN=@slack");
  await page.click('#mcp-form button[type="submit"]');
  await page.click('button[data-test="demo-mcp"]');
  await page.locator('#connected li[data-provider="demo-mcp"] .tools').waitFor();
  await page.selectOption('select[data-tool="demo-mcp"]', "echo");
  await page.fill('input[data-args="demo-mcp"]', '{"text": "hello from the page"}');
  await page.click('button[data-call="demo-mcp"]');
  await page.locator(".result", { hasText: "hello from the page" }).waitFor();
  await page.click('button[data-log="demo-mcp"]');
  await page.locator(".history li", { hasText: " ok in " }).first().waitFor();
  await page.fill("#export-title", "Release notes");
  await page.fill("#export-markdown", "# v0.2\n\nShipped **markdown blocks** for Slack and Notion's markdown API.");
  await page.evaluate(() => showDestinations());
  await page.locator("#export-destination option", { hasText: "#general" }).waitFor({ state: "attached" });
  await page.selectOption("#export-destination", { label: "#general" });
  await page.click("#export-send");
  await page.locator("#exports li", { hasText: "delivered" }).first().waitFor();
  await page.fill("#search", "");
  await page.screenshot({ path: out, fullPage: true });
  console.log(`saved ${out}`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
