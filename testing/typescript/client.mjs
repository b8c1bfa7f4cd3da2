// The official TypeScript SDK v2 client (@modelcontextprotocol/client,
// pinned in testing/npm) against an MCP server over streamable HTTP, as a
// user of it would: `node client.mjs URL MODE` with MODE `auto` (probe with
// server/discover, fall back to initialize) or `legacy`. It answers a form
// elicitation by accepting `{"answer": "from-ts"}`. Prints one JSON line:
// the negotiated version and what each request gave, or the error.
import { createRequire } from 'node:module';

// Resolved from testing/npm, where `npm ci` installed it.
const require = createRequire(new URL('../npm/package.json', import.meta.url));
const { Client, StreamableHTTPClientTransport } = require('@modelcontextprotocol/client');

const [url, mode] = process.argv.slice(2);
const client = new Client(
  { name: 'ts-sdk-v2', version: '2.4.0' },
  { versionNegotiation: { mode }, capabilities: { elicitation: { form: {} } } },
);
client.setRequestHandler('elicitation/create', async () => ({
  action: 'accept',
  content: { answer: 'from-ts' },
}));
const seen = {};
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  seen.version = client.getNegotiatedProtocolVersion();
  seen.tools = (await client.listTools()).tools.map((tool) => tool.name).sort();
  const said = await client.callTool({ name: 'say', arguments: { text: 'hi' } });
  seen.say = said.content[0].text;
  const asked = await client.callTool({ name: 'ask', arguments: {} });
  seen.ask = asked.content[0].text;
} catch (error) {
  seen.error = String(error?.message ?? error);
}
console.log(JSON.stringify(seen));
await client.close().catch(() => {});
