#!/usr/bin/env bash
# scripts/audit-graphql-http.sh: the GraphQL-over-HTTP conformance audit of the npm package
# graphql-http (its serverAudits, 61 of them) against a running gateway, with a bearer token
# on every request (the gateway refuses requests without one). Not part of `make test`: it
# needs node and npm, and installs graphql-http into a temporary folder it removes after.
#
#   make run                                   # in another terminal (demo tokens seeded)
#   scripts/audit-graphql-http.sh              # audits http://127.0.0.1:8080/graphql
#
# Settings (environment): AUDIT_URL (default http://127.0.0.1:8080/graphql), AUDIT_TOKEN
# (default mco_demo_customer). Prints every audit and "N passed, N failed, N warned"; exits
# non-zero when anything failed or warned.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
GRAPHQL_HTTP_VERSION=1.23.1
export AUDIT_URL="${AUDIT_URL:-http://127.0.0.1:8080/graphql}"
export AUDIT_TOKEN="${AUDIT_TOKEN:-mco_demo_customer}"

command -v node >/dev/null 2>&1 || { echo "audit: node is not installed" >&2; exit 2; }
command -v npm >/dev/null 2>&1 || { echo "audit: npm is not installed" >&2; exit 2; }

dir="$(mktemp -d "${TMPDIR:-/tmp}/graphql-http-audit.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "graphql-http@$GRAPHQL_HTTP_VERSION" graphql >/dev/null)
# The runner sits next to its node_modules so that its import resolves there.
cp "$REPO/scripts/audit-graphql-http.mjs" "$dir/"
echo "audit: graphql-http@$GRAPHQL_HTTP_VERSION serverAudits against $AUDIT_URL"
node "$dir/audit-graphql-http.mjs"
