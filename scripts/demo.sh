#!/usr/bin/env bash
# Run Concordat on an embedded Temporal dev server and PostgreSQL with a demo portfolio.
# State is kept in .data/, so running it again resumes. Arguments go to `python -m demo`
# (see --help). Set TEMPORAL_ADDRESS and/or DATABASE_URL to use real services instead.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is required" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[embedded]'
exec .venv/bin/python -m demo "$@"
