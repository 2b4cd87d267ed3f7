# Sourced by demo.sh and test.sh: `install EXTRA` puts Concordat with its EXTRA dependencies into .venv.
# pip's own lines, one per package fetched, show the first install's progress (about a minute); its errors still
# show, but not its warnings that a configured package location is ignored (one per package on some machines).
install() {
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is required" >&2; exit 1; }
  [ -x .venv/bin/python ] || { echo "Creating the virtual environment .venv ..."; python3 -m venv .venv; }
  echo "Installing Concordat and its dependencies into .venv ..."
  .venv/bin/python -m pip install --disable-pip-version-check -e ".[$1]" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) | sed -u -n 's/^\(Collecting\|Successfully installed\) /  \1 /p'
}

# `install_test_tools` puts the browser tests' tools (package.json: axe-core) into node_modules, where npm is installed.
install_test_tools() {
  if command -v npm >/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null || { echo "npm ci failed" >&2; exit 1; }
  fi
}
