#!/usr/bin/env bash
# Install seqviz into .venv (Python 3.11, every package pinned by requirements.lock).
#   bash install.sh           the app
#   bash install.sh --tests   also Debian's chromium and an emoji font (the browser tests) and redis-server (the
#                             Redis Queue tests) (needs root)
# TensorFlow 2.15 (pinned: tf2crf needs tensorflow-addons, which needs TF < 2.16) has wheels for
# Python 3.9-3.11 only, so this never uses a plain `python3`, which is 3.13 on Debian 13.
set -euo pipefail
cd "$(dirname "$0")"

if [[ "${1:-}" == "--tests" ]]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-color-emoji redis-server
fi

venv_ok() { [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; }
if ! venv_ok; then
    if ! command -v python3.11 >/dev/null; then
        echo "seqviz needs Python 3.11 (TensorFlow 2.15 has no wheels for newer Pythons), and python3.11 is not" \
             "on this machine. Install it (pyenv, your distribution's python3.11 and python3.11-venv, or" \
             "'uv python install 3.11'), or create the environment with 'uv venv --seed --python 3.11 .venv'," \
             "then run this again." >&2
        exit 1
    fi
    rm -rf .venv
    python3.11 -m venv .venv
fi
.venv/bin/python -m pip install -q -r requirements.txt -c requirements.lock
