//! One pass of one model over the data: tokenize once, batch by token length (little padding),
//! forward on the model's device, and restore the input order, all without copying logits to
//! the host.

use std::sync::Arc;
use std::time::Instant;

use candle::{DType, Tensor};
use distill_eval_model::{Encoded, Model, TextInput};
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{Error, Result};
use crate::input::dataset::Row;

/// How a pass is run.
#[derive(Debug, Clone)]
pub struct PassOptions {
    /// Examples per forward call.
    pub batch_size: usize,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Told how far each pass has got, bar or no bar (the Python package's `progress=`).
    pub hook: Option<ProgressHook>,
}

impl Default for PassOptions {
    fn default() -> Self {
        Self {
            batch_size: 64,
            progress: false,
            hook: None,
        }
    }
}

/// How far a pass has got, as a [`ProgressHook`] is told.
#[derive(Debug, Clone, Copy)]
pub struct PassProgress<'a> {
    /// Units done so far.
    pub done: usize,
    /// Units of the whole pass.
    pub total: usize,
    /// What runs: the model's role (`teacher`, `student`, `step 500`), or `teacher+student`
    /// (`teacher+students`) for causal LMs, which run in lockstep.
    pub model: &'a str,
    /// What is counted: `examples`, or `tokens` for causal LMs.
    pub unit: &'static str,
}

/// What a [`ProgressHook`] returns: an error stops the pass ([`Error::ProgressStopped`]).
pub type HookResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A function told how far each pass has got: once with `done = 0` before the first batch, then
/// after each batch. It lets a caller that is not a terminal (the Python package) follow the
/// run, and stop it by returning an error.
#[derive(Clone)]
pub struct ProgressHook(Arc<dyn Fn(&PassProgress<'_>) -> HookResult + Send + Sync>);

impl ProgressHook {
    /// Wraps `f`.
    pub fn new(f: impl Fn(&PassProgress<'_>) -> HookResult + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

/// A pass's progress: the terminal bar and the hook, moved together.
pub(crate) struct Meter<'a> {
    bar: ProgressBar,
    hook: Option<&'a ProgressHook>,
    done: usize,
    total: usize,
    model: String,
    unit: &'static str,
}

impl<'a> Meter<'a> {
    /// Starts counting `total` `unit`s of `model`, telling the hook `done = 0`.
    pub(crate) fn start(
        bar: ProgressBar,
        hook: Option<&'a ProgressHook>,
        total: usize,
        model: &str,
        unit: &'static str,
    ) -> Result<Self> {
        let meter = Self {
            bar,
            hook,
            done: 0,
            total,
            model: model.to_owned(),
            unit,
        };
        meter.tell()?;
        Ok(meter)
    }

    /// Counts `n` more units done.
    pub(crate) fn inc(&mut self, n: usize) -> Result<()> {
        self.bar.inc(n as u64);
        self.done += n;
        self.tell()
    }

    fn tell(&self) -> Result<()> {
        let Some(hook) = self.hook else {
            return Ok(());
        };
        (hook.0)(&PassProgress {
            done: self.done,
            total: self.total,
            model: &self.model,
            unit: self.unit,
        })
        .map_err(|source| {
            self.bar.abandon();
            Error::ProgressStopped {
                model: self.model.clone(),
                source,
            }
        })
    }

    /// Clears the bar.
    pub(crate) fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// The logits of one pass.
#[derive(Debug)]
pub struct PassOutput {
    /// `(n, num_labels)` float32 logits in the input order and the model's own label order, on
    /// the model's device.
    pub logits: Tensor,
    /// Wall-clock seconds of the pass, tokenization included.
    pub seconds: f64,
}

impl PassOutput {
    /// Examples per second.
    pub fn examples_per_second(&self) -> f64 {
        let n = self.logits.dims().first().copied().unwrap_or(0);
        n as f64 / self.seconds.max(1e-9)
    }

    /// `model`'s identity and the cost of this pass.
    pub fn run(&self, model: &Model) -> super::ModelRun {
        super::ModelRun {
            info: model.info.clone(),
            seconds: self.seconds,
            examples_per_second: self.examples_per_second(),
            tokens_per_second: None,
        }
    }
}

/// Runs `model` once over `rows`; `role` names the model on the progress bar.
#[tracing::instrument(skip_all, fields(model = %model.info.id))]
pub fn run_model(
    model: &Model,
    rows: &[Row],
    role: &str,
    opts: &PassOptions,
) -> Result<PassOutput> {
    if rows.is_empty() {
        return Err(Error::NoExamples {
            source_name: model.info.id.clone(),
        });
    }
    let start = Instant::now();
    let inputs: Vec<TextInput<'_>> = rows
        .iter()
        .map(|r| TextInput {
            text: &r.text,
            pair: r.pair.as_deref(),
        })
        .collect();
    let encoded = model.encode(&inputs)?;
    tracing::debug!(seconds = start.elapsed().as_secs_f64(), "tokenized");
    let order = length_order(&encoded);
    let bar = progress_bar(rows.len(), role, &model.info.id, opts.progress);
    let mut meter = Meter::start(bar, opts.hook.as_ref(), rows.len(), role, "examples")?;
    let lens: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();
    let groups = batches(&order, &lens, opts.batch_size.max(1));
    let mut chunks = Vec::with_capacity(groups.len());
    for idx in groups.iter().map(|r| &order[r.clone()]) {
        let items: Vec<&Encoded> = idx.iter().map(|&i| &encoded[i]).collect();
        let batch = model.batch(&items)?;
        let logits = model.forward(&batch)?.to_dtype(DType::F32)?; // (b, C)
        chunks.push(logits);
        meter.inc(idx.len())?;
    }
    let sorted = Tensor::cat(&chunks, 0)?; // (n, C) in length order
                                           // Row `order[j]` of the input is row `j` of `sorted`: gather with the inverse permutation.
    let mut inverse = vec![0u32; order.len()];
    for (j, &i) in order.iter().enumerate() {
        inverse[i] = j as u32;
    }
    let inverse = Tensor::from_vec(inverse, order.len(), sorted.device())?;
    let logits = sorted.index_select(&inverse, 0)?; // (n, C) in input order
    model.device().synchronize()?;
    let seconds = start.elapsed().as_secs_f64();
    meter.finish();
    tracing::info!(
        model = %model.info.id,
        seconds,
        examples_per_second = rows.len() as f64 / seconds.max(1e-9),
        "pass finished"
    );
    Ok(PassOutput { logits, seconds })
}

/// Indices of `encoded` sorted by token count (stable, so equal lengths keep input order).
fn length_order(encoded: &[Encoded]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.sort_by_key(|&i| encoded[i].ids.len());
    order
}

/// Splits length-sorted `order` into batches of at most `batch_size` examples, starting a new
/// batch early when padding to the newest (longest) example would make more than half of the
/// batch's tokens padding: one long outlier then runs alone instead of padding 63 short texts
/// to its length. A batch also stays within
/// [`MAX_ATTENTION_CELLS`](distill_eval_model::MAX_ATTENTION_CELLS) (examples x tokens²), so
/// memory is bounded whatever `--batch-size` says.
pub(crate) fn batches(
    order: &[usize],
    lens: &[usize],
    batch_size: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut tokens) = (0, 0usize);
    for (pos, &i) in order.iter().enumerate() {
        let (count, len) = (pos - start, lens[i].max(1));
        let wasteful = count > 0 && (count + 1) * len > 2 * (tokens + len);
        let too_big = count > 0
            && (count + 1).saturating_mul(len.saturating_mul(len))
                > distill_eval_model::MAX_ATTENTION_CELLS;
        if count == batch_size || wasteful || too_big {
            out.push(start..pos);
            (start, tokens) = (pos, 0);
        }
        tokens += len;
    }
    if start < order.len() {
        out.push(start..order.len());
    }
    out
}

fn progress_bar(len: usize, role: &str, id: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{prefix:>8} {bar:30} {pos}/{len} examples · {per_sec} · eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len as u64)
        .with_style(style)
        .with_prefix(role.to_owned())
        .with_message(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_full_unless_padding_would_dominate() {
        // Uniform lengths: full batches.
        let lens = vec![10; 10];
        let order: Vec<usize> = (0..10).collect();
        assert_eq!(batches(&order, &lens, 4), vec![0..4, 4..8, 8..10]);
        // Seven short texts and one very long one: the long one runs alone.
        let lens = vec![10, 11, 11, 12, 12, 13, 14, 128];
        let order: Vec<usize> = (0..8).collect();
        assert_eq!(batches(&order, &lens, 64), vec![0..7, 7..8]);
        // Moderate growth stays in one batch.
        let lens = vec![10, 12, 14, 16, 18, 20];
        assert_eq!(batches(&(0..6).collect::<Vec<_>>(), &lens, 64), vec![0..6]);
        assert!(batches(&[], &[], 8).is_empty());
        // Long texts: a batch never exceeds the attention budget, whatever the batch size.
        let len = 4096;
        let per_batch = distill_eval_model::MAX_ATTENTION_CELLS / (len * len);
        let lens = vec![len; 3 * per_batch + 1];
        let order: Vec<usize> = (0..lens.len()).collect();
        let got = batches(&order, &lens, 65_536);
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|r| r.len() <= per_batch && !r.is_empty()));
    }

    #[test]
    fn meter_tells_the_hook_and_stops_on_its_error() {
        use std::sync::Mutex;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let hook = ProgressHook::new(move |p| {
            log.lock()
                .unwrap()
                .push((p.done, p.total, p.model.to_owned(), p.unit));
            if p.done >= 7 {
                return Err("enough".into());
            }
            Ok(())
        });
        let mut meter = Meter::start(
            ProgressBar::hidden(),
            Some(&hook),
            10,
            "teacher",
            "examples",
        )
        .unwrap();
        meter.inc(4).unwrap();
        let err = meter.inc(3).unwrap_err();
        let row = |d| (d, 10, "teacher".to_owned(), "examples");
        assert_eq!(*seen.lock().unwrap(), vec![row(0), row(4), row(7)]);
        assert!(matches!(err, Error::ProgressStopped { ref model, .. } if model == "teacher"));
        let text = err.to_string();
        assert!(
            text.contains("enough") && text.contains("\nhint: "),
            "{text}"
        );
        // No hook: counting never fails.
        let mut quiet =
            Meter::start(ProgressBar::hidden(), None, 3, "student", "examples").unwrap();
        quiet.inc(3).unwrap();
        quiet.finish();
    }

    #[test]
    fn length_order_is_stable() {
        let enc = |n: usize| Encoded {
            ids: vec![0; n],
            type_ids: vec![0; n],
        };
        let encoded = vec![enc(5), enc(2), enc(5), enc(1)];
        assert_eq!(length_order(&encoded), vec![3, 1, 0, 2]);
    }
}
