#!/usr/bin/env bash
# Installs everything the workspace needs on a fresh machine with Node 20 and npm:
# pnpm 10 (pinned), the workspace from the lockfile, and nats-server (Debian's package) for the NATS tests.
# With CI set, also chromium (Debian's package) for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

PNPM_VERSION=10.34.9
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null
fi

if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing nats-server from Debian's package"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
  else
    echo "setup: nats-server not found and apt-get unavailable; the NATS tests will fail" >&2
  fi
fi

# The browser tests (the map pages) drive Debian's chromium through playwright-core; no browser is downloaded.
# Only CI installs it: `pnpm start` never needs a browser, and outside CI those tests skip, saying why.
if [ -n "${CI:-}" ] && ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium from Debian's package (CI: browser tests)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: CI without apt-get: install chromium yourself, or the browser tests fail" >&2
  fi
fi

echo "setup: installing the workspace"
pnpm install --frozen-lockfile
