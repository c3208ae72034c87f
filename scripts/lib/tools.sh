# Shared by the scripts: install the pinned Python and Node tools, and wait for local servers.
# Expects $repo_root to be set by the sourcing script.

venv="$repo_root/.venv"

tools_fail() {
  echo "tools: $*" >&2
  exit 1
}

# Create .venv and install requirements-dev.txt, again whenever that file changes.
ensure_python_tools() {
  local stamp="$venv/.requirements-dev.sha256"
  local wanted
  wanted="$(sha256sum "$repo_root/requirements-dev.txt" | cut -d' ' -f1)"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    return
  fi
  echo "tools: installing requirements-dev.txt into .venv" >&2
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv" || tools_fail "python3 -m venv $venv failed; install python3 with the venv module"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo_root/requirements-dev.txt" \
    || tools_fail "pip install -r requirements-dev.txt failed"
  echo "$wanted" >"$stamp"
}

# Install the Node tools pinned in package-lock.json when node_modules is missing.
ensure_node_tools() {
  if [[ -x "$repo_root/node_modules/.bin/asl-validator" ]]; then
    return
  fi
  command -v npm >/dev/null || tools_fail "npm not found; install Node.js 20 or newer"
  echo "tools: installing package-lock.json into node_modules" >&2
  (cd "$repo_root" && npm ci --silent --no-audit --no-fund) || tools_fail "npm ci failed"
}

# Wait up to $2 seconds for $1 to return a success status.
wait_for_url() {
  local url="$1" seconds="$2" waited=0
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    sleep 0.5
    waited=$((waited + 1))
    if ((waited > seconds * 2)); then
      return 1
    fi
  done
}
