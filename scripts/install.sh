# Sourced by demo.sh and test.sh: `install EXTRA` puts Concordat with its EXTRA dependencies into .venv and, where
# Node.js is installed, the demonstration OpenID provider's packages into idp/node_modules (npm ci: exactly the
# versions idp/package-lock.json pins).
# pip's own lines, one per package fetched, show the first install's progress (about a minute); its errors still
# show, but not its warnings that a configured package location is ignored (one per package on some machines).
install() {
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is required" >&2; exit 1; }
  [ -x .venv/bin/python ] || { echo "Creating the virtual environment .venv ..."; python3 -m venv .venv; }
  echo "Installing Concordat and its dependencies into .venv ..."
  .venv/bin/python -m pip install --disable-pip-version-check -e ".[$1]" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) | sed -u -n 's/^\(Collecting\|Successfully installed\) /  \1 /p'
  if command -v npm >/dev/null; then
    echo "Installing the demonstration OpenID provider's packages into idp/node_modules ..."
    npm ci --prefix idp --no-audit --no-fund --loglevel=error >/dev/null
  else
    echo "Node.js is not installed: the demo's OpenID provider and the sign-in tests need it (apt-get install nodejs npm)" >&2
  fi
}

# `install_test_tools` puts the browser tests' tools (package.json: axe-core) into node_modules, where npm is installed.
install_test_tools() {
  if command -v npm >/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null || { echo "npm ci failed" >&2; exit 1; }
  fi
}
