#!/usr/bin/env bash
# Install what the tests need into .venv and run the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k sign_off
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is required" >&2; exit 1; }
[ -x .venv/bin/python ] || { echo "Creating the virtual environment .venv ..."; python3 -m venv .venv; }
# pip's own lines, one per package fetched, so the first install (about a minute) shows its progress; its
# errors still show, but not its warnings that a configured package location is ignored (one per package).
echo "Installing Concordat and its dependencies into .venv ..."
.venv/bin/python -m pip install --disable-pip-version-check -e '.[test]' \
  2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) | sed -u -n 's/^\(Collecting\|Successfully installed\) /  \1 /p'

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
