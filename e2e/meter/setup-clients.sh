#!/usr/bin/env bash
# Installs the real LLM clients that the meter's e2e tests drive, at the versions pinned in
# e2e/meter/clients/: Claude Code and Codex CLI with `npm ci` from package-lock.json, and the
# official Python SDKs (anthropic, openai) from requirements.txt in a virtualenv.
# Idempotent: each tree keeps a stamp of the pin file it came from and is reinstalled only
# when that file changed. Prints the install directory last.
#
# Location: $AGENTBUDGET_METER_CLIENTS, default ~/.cache/agentbudget/meter-clients, so the
# clients survive fresh clones of the repository.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
pins="$here/clients"
dir="${AGENTBUDGET_METER_CLIENTS:-${HOME}/.cache/agentbudget/meter-clients}"
mkdir -p "$dir"

stamp=$({ node --version; cat "$pins/package.json" "$pins/package-lock.json"; } | sha256sum | cut -d' ' -f1)
if [[ ! -x "$dir/node/node_modules/.bin/claude" || ! -x "$dir/node/node_modules/.bin/codex" ||
      "$(cat "$dir/node/.pinned" 2>/dev/null)" != "$stamp" ]]; then
  echo "setup-clients: installing the npm clients pinned in $pins into $dir/node" >&2
  rm -rf "$dir/node"
  mkdir -p "$dir/node"
  cp "$pins/package.json" "$pins/package-lock.json" "$dir/node/"
  npm ci --prefix "$dir/node" --no-audit --no-fund --loglevel=error >&2
  echo "$stamp" > "$dir/node/.pinned"
fi

"$root/scripts/pinned-venv" "$dir/venv" "$pins/requirements.txt"

echo "${dir}"
