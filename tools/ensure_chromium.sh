#!/usr/bin/env bash
# Installs Debian's chromium for the real-browser test when it is missing and we may (root + apt-get).
# Never downloads a browser any other way (no `playwright install`).
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian chromium for the browser test (apt-get)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || {
    echo "could not install chromium with apt-get"; exit 1; }
else
  echo "chromium is not installed and cannot be installed here (needs root + apt-get): the browser test will be skipped"
  echo "(under CI=true it fails instead). Install it with: sudo apt-get install chromium"
fi
