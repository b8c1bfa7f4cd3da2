#!/usr/bin/env bash
# Packages and verifies every publishable crate, in dependency order, as
# `cargo publish` would (each crate builds from its .crate file, against
# the others' packages): core, then mcp and vendor, then export.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo package --locked \
    -p integrations-core -p integrations-mcp -p integrations-vendor -p integrations-export "$@"
