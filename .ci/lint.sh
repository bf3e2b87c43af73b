#!/usr/bin/env bash
# make lint: gofmt, go vet and staticcheck over the whole module.
#
# staticcheck comes from the module proxy at a pinned version (one that
# knows this Go) and is installed into bin/. Where it cannot be had (no
# network, no proxy) lint says so and keeps gofmt and vet.
#
# .ci/lint-known.txt lists findings in code this check may not change yet
# (another owner's package): each is tolerated by file and message, not
# by line, so a new finding anywhere, or a known one in another file,
# still fails. Remove a line once its finding is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
STATICCHECK_VERSION=${STATICCHECK_VERSION:-v0.8.2}
known=.ci/lint-known.txt
status=0

# unknown reads findings as "TOOL: FILE: MESSAGE" lines and prints those
# .ci/lint-known.txt does not list.
unknown() {
	grep -vxF -f <(grep -v -e '^#' -e '^$' "$known") || true
}

fmt=$(gofmt -l . | sed 's/^/gofmt: /;s/$/: not gofmt-formatted/' | unknown)
if [ -n "$fmt" ]; then
	echo "$fmt"
	status=1
fi

$GO vet ./... || status=1

sc=bin/staticcheck
if ! { [ -x "$sc" ] && "$sc" -version 2>/dev/null | grep -qF "(${STATICCHECK_VERSION})"; }; then
	if ! GOBIN="$PWD/bin" $GO install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" 2>/tmp/promo-staticcheck-install.$$; then
		echo "lint: staticcheck ${STATICCHECK_VERSION} could not be installed from the module proxy; gofmt and vet only:"
		sed 's/^/  /' /tmp/promo-staticcheck-install.$$
		rm -f /tmp/promo-staticcheck-install.$$
		exit $status
	fi
	rm -f /tmp/promo-staticcheck-install.$$
fi
# staticcheck prints FILE:LINE:COL: MESSAGE; known findings drop LINE:COL.
found=$("$sc" ./... 2>&1 | sed -E 's/^([^:]+):[0-9]+:[0-9]+: /staticcheck: \1: /' | unknown) || true
if [ -n "$found" ]; then
	echo "$found"
	status=1
fi
exit $status
