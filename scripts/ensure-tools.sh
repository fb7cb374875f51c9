#!/usr/bin/env bash
# Installs what the test suite needs beyond Go, once: kcat (Debian) to read topics as an
# independent Kafka client, chromium (Debian) for the console's browser test, and ajv (npm, pinned by tools/ajv/package-lock.json) to check
# the schemas independently of the Go validator.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "ensure-tools: $*" >&2; }

need_apt=()
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)
# Debian's Chromium for the console's browser test (pipeline/console, driven by chromedp).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing ${need_apt[*]}: install them (apt-get install -y ${need_apt[*]})"; exit 1
  fi
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need_apt[@]}" >&2
fi

if [ -f "$top/tools/ajv/package-lock.json" ]; then
  stamp="$top/tools/ajv/node_modules/.passerelle-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$top/tools/ajv/package-lock.json"; then
    log "installing ajv (npm ci)"
    npm ci --prefix "$top/tools/ajv" --no-audit --no-fund --loglevel=error >&2
    cp "$top/tools/ajv/package-lock.json" "$stamp"
  fi
fi
