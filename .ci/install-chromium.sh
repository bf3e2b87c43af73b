#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (httpapi/web_browser_test.go).
# It never fails the build: when Chromium is already there it does nothing,
# and when it cannot install (not root, no apt-get, no network) it says why
# and exits 0, so the browser tests skip with their own message.
set -u
if [ -n "${PROMO_CHROMIUM:-}" ] && [ -x "${PROMO_CHROMIUM}" ]; then
	echo "install-chromium: using PROMO_CHROMIUM=${PROMO_CHROMIUM}"
	exit 0
fi
for b in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
	if [ -x "$b" ]; then
		echo "install-chromium: $b is present"
		exit 0
	fi
done
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-chromium: no apt-get here; the browser tests will skip (set PROMO_CHROMIUM to a Chromium binary to run them)"
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo="sudo -n"
	else
		echo "install-chromium: not root and no password-less sudo; the browser tests will skip"
		exit 0
	fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: apt-get install chromium (a few minutes on a new machine)"
if ! $sudo apt-get update -qq >/tmp/install-chromium.log 2>&1; then
	echo "install-chromium: apt-get update failed (see /tmp/install-chromium.log); the browser tests will skip"
	tail -n 5 /tmp/install-chromium.log
	exit 0
fi
if ! $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >>/tmp/install-chromium.log 2>&1; then
	echo "install-chromium: apt-get install chromium failed (see /tmp/install-chromium.log); the browser tests will skip"
	tail -n 5 /tmp/install-chromium.log
	exit 0
fi
echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo 'installed')"
exit 0
