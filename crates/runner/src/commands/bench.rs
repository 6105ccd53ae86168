//! `distill-eval bench`: forward-pass throughput of one model on its device, by batch size, on
//! synthetic inputs of a fixed token length (so runs are comparable across machines).

use std::time::Instant;

use candle::Device;
use distill_eval_model::{Encoded, LoadOptions, ModelSource, TextInput};

use crate::error::{Error, Result};
use crate::report::bench::{BenchReport, BenchRow};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The checkpoint.
    pub model: ModelSource,
    /// Dtype, hub access and truncation.
    pub load: LoadOptions,
    /// Batch sizes to measure.
    pub batch_sizes: Vec<usize>,
    /// Tokens per example (capped at the model's maximum length).
    pub seq_len: usize,
    /// Untimed forward passes before measuring each batch size.
    pub warmup: usize,
    /// Timed forward passes per batch size.
    pub iters: usize,
}

/// A text long enough to fill any model's context; tokenized and cut to `seq_len`.
const FILLER: &str = "the student model was distilled from a larger teacher and this sentence \
                      is repeated only to give the benchmark a realistic number of tokens ";

/// Loads the model and times its forward pass at each batch size.
pub fn bench(opts: &BenchOptions, device: &Device) -> Result<BenchReport> {
    let model = distill_eval_model::load(&opts.model, device, &opts.load)?;
    let text = FILLER.repeat(64);
    let mut enc = model
        .encode(&[TextInput::single(&text)])?
        .pop()
        .unwrap_or(Encoded {
            ids: Vec::new(),
            type_ids: Vec::new(),
        });
    let seq_len = opts.seq_len.clamp(2, enc.ids.len().max(2));
    if enc.ids.len() > seq_len {
        // Keep the closing special token: cut the middle, not the end.
        let last = enc.ids.len() - 1;
        enc.ids.drain(seq_len - 1..last);
        enc.type_ids.drain(seq_len - 1..last);
    }
    let seq_len = enc.ids.len();
    let mut rows = Vec::with_capacity(opts.batch_sizes.len());
    for &b in &opts.batch_sizes {
        let b = b.max(1);
        let cells = b.saturating_mul(seq_len * seq_len);
        if cells > distill_eval_model::MAX_ATTENTION_CELLS {
            return Err(Error::BatchTooLarge {
                batch_size: b,
                seq_len,
                largest: (distill_eval_model::MAX_ATTENTION_CELLS / (seq_len * seq_len)).max(1),
            });
        }
        let items: Vec<&Encoded> = std::iter::repeat_n(&enc, b).collect();
        let batch = model.batch(&items)?;
        for _ in 0..opts.warmup {
            model.forward(&batch)?;
        }
        device.synchronize()?;
        let mut times = Vec::with_capacity(opts.iters.max(1));
        for _ in 0..opts.iters.max(1) {
            let start = Instant::now();
            let logits = model.forward(&batch)?;
            device.synchronize()?;
            drop(logits);
            times.push(start.elapsed().as_secs_f64());
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        tracing::info!(batch_size = b, ms = mean * 1e3, "bench");
        rows.push(BenchRow {
            batch_size: b,
            ms_per_batch: mean * 1e3,
            ms_min: min * 1e3,
            examples_per_second: b as f64 / mean,
            tokens_per_second: (b * seq_len) as f64 / mean,
        });
    }
    Ok(BenchReport {
        model: model.info.clone(),
        seq_len,
        iters: opts.iters.max(1),
        rows,
    })
}
