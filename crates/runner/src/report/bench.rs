//! What `distill-eval bench` measured: forward-pass throughput of one model by batch size.

use distill_eval_model::ModelInfo;
use serde::Serialize;

/// One batch size's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Examples per forward pass.
    pub batch_size: usize,
    /// Mean milliseconds per forward pass (device synchronised).
    pub ms_per_batch: f64,
    /// Fastest pass, milliseconds.
    pub ms_min: f64,
    /// Examples per second at the mean.
    pub examples_per_second: f64,
    /// Tokens per second at the mean.
    pub tokens_per_second: f64,
}

/// The benchmark's result.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The model measured.
    pub model: ModelInfo,
    /// Tokens per example actually used.
    pub seq_len: usize,
    /// Timed passes per batch size.
    pub iters: usize,
    /// One row per batch size.
    pub rows: Vec<BenchRow>,
}
