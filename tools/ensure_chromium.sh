#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (never a downloaded one). Install it when we can;
# otherwise say so, and the browser tests skip with the same message.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "note: /usr/bin/chromium is missing and cannot be installed here (needs root and apt);"
  echo "      the browser tests will be skipped. Install Debian's 'chromium' package to run them."
fi
