#!/usr/bin/env bash
# Every library crate builds without a warning (clippy's included) on its
# default features, without them, and on each feature alone: what a user who
# enables one feature gets. An explicit list (cargo hack --each-feature would
# do the same), kept beside the crates' [features] tables.
set -euo pipefail
cd "$(dirname "$0")/.."
check() {
    echo "-- clippy $*"
    cargo clippy --locked --quiet "$@" -- -D warnings
}
check -p integrations-core
check -p integrations-core --no-default-features
check -p integrations-core --no-default-features --features postgres
check -p integrations-mcp
check -p integrations-mcp --features http
check -p integrations-vendor
check -p integrations-export
check -p integrations-export --no-default-features
check -p integrations-export --no-default-features --features postgres
check -p integrations-export --no-default-features --features mcp
check -p integrations-export --no-default-features --features email

# Crates a user adds without a database compile none (nor SQLite's C code).
for crate in integrations-vendor integrations-mcp "integrations-export --no-default-features"; do
    if cargo tree --locked -e normal -p $crate | grep -E "sqlx|libsqlite3-sys"; then
        echo "$crate pulls in a database driver" >&2
        exit 1
    fi
done
# The newcomer's first command compiles integrations-core and nothing else.
extra=$(comm -23 \
    <(cargo tree --locked -e normal --prefix none -p integrations-example-quickstart | sed 's/ v[0-9].*//' | sort -u) \
    <(cargo tree --locked -e normal --prefix none -p integrations-core --no-default-features | sed 's/ v[0-9].*//' | sort -u))
if [ "$extra" != "integrations-example-quickstart" ]; then
    echo "the quickstart's package depends on more than integrations-core: $extra" >&2
    exit 1
fi
echo "features: every crate and feature set builds without a warning"
