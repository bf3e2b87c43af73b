#!/usr/bin/env bash
# Installs the npm tools that check httpapi/openapi.json independently of
# the Go tests: @stoplight/spectral-cli (lint), @apideck/portman (contract
# and fuzz tests generated from the document) and newman (runs them). The
# versions are pinned in .ci/api-tools/package.json and, with every
# transitive package, in its package-lock.json; `npm ci` installs exactly
# those into .ci/api-tools/node_modules (gitignored). A second run with the
# same lock does nothing.
set -euo pipefail
cd "$(dirname "$0")/api-tools"
if ! command -v npm >/dev/null 2>&1; then
	echo "install-api-tools: npm is not installed; install Node.js 18 or later (apt-get install nodejs npm)" >&2
	exit 1
fi
stamp=node_modules/.promo-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/.bin/portman ]; then
	echo "install-api-tools: spectral, portman and newman are installed (.ci/api-tools/node_modules)"
	exit 0
fi
echo "install-api-tools: npm ci (spectral-cli, portman, newman as pinned in package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
