// Drives the host_app page in headless Chromium (Debian's, at $CHROMIUM):
// loads it, clicks Connect on Slack, follows the OAuth flow through the
// local fake provider, waits for Slack to show as connected, runs its
// connection test and waits for its health. Prints what it saw; exits 1 on
// any failure.
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
  await Promise.all([page.waitForURL(/connected=slack/), page.click("#connect-slack")]);
  const connected = page.locator('#connected li[data-provider="slack"]');
  await connected.waitFor();
  console.log("connected: slack");
  await page.click('button[data-test="slack"]');
  await page.locator('#connected li[data-provider="slack"] .health', { hasText: "100% ok" }).waitFor();
  console.log(`health: ${await connected.locator(".health").textContent()}`);
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
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
