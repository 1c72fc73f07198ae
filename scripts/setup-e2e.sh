#!/usr/bin/env bash
# Prepares what the end-to-end suite needs, on a fresh Debian machine or an already prepared one
# (every step is skipped when its result is already there). Everything goes to the git-ignored .e2e/.
#   1. Debian packages: chromium (driven by playwright-core), ripgrep (stands in for @vscode/ripgrep's
#      downloaded binary), libkrb5-dev (headers for a native module of VS Code).
#   2. code-server 4.100.3 from the npm registry, made runnable offline (see docs/install.md): its
#      native modules are rebuilt here and @vscode/ripgrep's download is replaced by Debian's rg.
# `npm test` runs this only where it can (scripts/setup.mjs: Linux, as root or with nothing to apt-get).
set -euo pipefail
CS_VERSION=4.100.3
root=$(cd "$(dirname "$0")/.." && pwd)
e2e="$root/.e2e"
cs="$e2e/code-server"
mkdir -p "$e2e"
log() { echo "[setup-e2e] $*"; }
marker="$cs/.installed-$CS_VERSION"
chromium_bin="${CHROMIUM_PATH:-${CHROMIUM:-/usr/bin/chromium}}"
if [ -f "$marker" ] && [ -x "$chromium_bin" ]; then
  log "code-server $CS_VERSION already installed in $cs, Chromium at $chromium_bin"
  exit 0
fi

# 1. Debian packages
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
command -v make >/dev/null 2>&1 || need+=(make)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# 2. code-server
if [ -f "$marker" ]; then
  log "code-server $CS_VERSION already installed in $cs"
  exit 0
fi
log "installing code-server $CS_VERSION into $cs (about two minutes)"
# A clean npm config: neither the project's .npmrc nor the npm_config_* variables that `npm test` passes down
# (the project's ignore-scripts=true would leave code-server's native modules unbuilt) apply here.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -i '^npm_config_' || true)
export npm_config_yes=true
rm -rf "$cs"; mkdir -p "$cs"
cd "$cs"
echo '{"name":"e2e-code-server","private":true}' > package.json
npm install --no-audit --no-fund --loglevel=error --ignore-scripts "code-server@$CS_VERSION"
vs="$cs/node_modules/code-server/lib/vscode"
cd "$vs"
npm install --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm rebuild --loglevel=error
ln -sfn node_modules node_modules.asar
cd "$vs/extensions"
npm install --no-audit --no-fund --loglevel=error --omit=dev
cd "$cs"
npm rebuild --loglevel=error argon2
node "$cs/node_modules/code-server/out/node/entry.js" --version >/dev/null
touch "$marker"
log "code-server ready"
