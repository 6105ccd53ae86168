//! End-to-end tests of the `distill-eval` binary: one integration test binary (uv, ripgrep).

mod analysis;
mod bad_input;
mod common;
mod decide;
mod generation;
mod gguf;
mod html;
mod kld;
mod lm;
mod regression;
mod report;
mod rerank;
mod saved;
mod score;
mod snapshots;
mod tasks;
