# Everyday commands. Each recipe is one line; any logic lives in Rust.

# Run the report on the bundled teacher and student
demo:
    cargo run --release -- report

# Run every test (the command CI runs)
test:
    cargo test --workspace --all-targets

# Tests with the CUDA backend (needs a CUDA toolkit)
test-cuda:
    cargo test --workspace --features cuda

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

# Regenerate the committed test fixtures
fixtures:
    cargo test --workspace -- --ignored regenerate

# Criterion benchmarks
bench:
    cargo bench --bench bench_main

# Render the demo's HTML report to a PNG with headless Chromium
screenshot:
    cargo run --release -- screenshot --out docs/report.png

# What CI runs
ci: lint test
