#!/usr/bin/env bash
# Two test tools come from Debian, never downloaded: Chromium, which the browser tests
# drive, and exiv2, which reads back the XMP sidecars written here as other photo tools
# would. Install them when we can; otherwise say so, and the tests that need them skip
# with the same message.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v exiv2 >/dev/null || missing+=(exiv2)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian's ${missing[*]} for the tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "note: ${missing[*]} missing and cannot be installed here (needs root and apt);"
  echo "      the tests that need them will be skipped. Install Debian's packages to run them."
fi
