#!/usr/bin/env bash
# Regenerates docs/host_app.png, the README's picture of the host_app page:
# runs the example with --serve, drives the page in headless Chromium
# (Debian's chromium and `npm ci --prefix testing/npm`), saves the shot.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p integrations-examples --example host_app
log=$(mktemp)
RUST_LOG=warn target/debug/examples/host_app --serve >"$log" &
app=$!
trap 'kill $app 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
    grep -q "listening on" "$log" && break
    sleep 0.1
done
base=$(sed -n 's/.*listening on //p' "$log" | head -1)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium} node testing/browser/screenshot.mjs "$base" docs/host_app.png
