#!/usr/bin/env bash
# Installs the real LLM clients that the meter's e2e tests drive: Claude Code and Codex CLI
# (npm) and the official Python SDKs (anthropic, openai) in a virtualenv. Idempotent: a
# second run with everything present does nothing. Prints the install directory last.
#
# Location: $AGENTBUDGET_METER_CLIENTS, default ~/.cache/agentbudget/meter-clients, so the
# clients survive fresh clones of the repository.
set -euo pipefail

dir="${AGENTBUDGET_METER_CLIENTS:-${HOME}/.cache/agentbudget/meter-clients}"
mkdir -p "${dir}/node"

if [[ ! -x "${dir}/node/node_modules/.bin/claude" || ! -x "${dir}/node/node_modules/.bin/codex" ]]; then
  npm install --prefix "${dir}/node" --no-audit --no-fund --loglevel=error \
    @anthropic-ai/claude-code @openai/codex >&2
fi

if [[ ! -x "${dir}/venv/bin/python" ]]; then
  python3 -m venv "${dir}/venv"
fi
if ! "${dir}/venv/bin/python" -c 'import anthropic, openai' 2>/dev/null; then
  "${dir}/venv/bin/pip" install --quiet anthropic openai >&2
fi

echo "${dir}"
