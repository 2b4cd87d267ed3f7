#!/usr/bin/env bash
# Install what the tests need into .venv and run the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k sign_off
set -euo pipefail
cd "$(dirname "$0")/.."

# The sign-in tests run the demonstration OpenID provider on Node.js (idp/; install.sh installs its packages).
if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Node.js for the OpenID provider ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

source scripts/install.sh
install test
install_test_tools

# The browser test drives Debian's Chromium (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Chromium for the browser test ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is not installed: the browser test will be skipped (sudo apt-get install chromium)" >&2
  fi
fi

# Lint and types before the tests: any finding fails the run (docs/contributors.md names the rules).
echo "Checking lint (ruff) and types (mypy) ..."
.venv/bin/python -m ruff check --quiet .
.venv/bin/python -m mypy --no-error-summary

exec .venv/bin/python -m pytest "$@"
