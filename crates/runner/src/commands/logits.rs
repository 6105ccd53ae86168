//! `distill-eval logits`: one model's logits over the data, in input order, written atomically;
//! safetensors files carry the class names, model id and data as metadata.

use std::collections::HashMap;
use std::path::PathBuf;

use candle::Device;
use distill_eval_model::ModelSource;

use crate::engine::{ModelRun, Session, Setup};
use crate::error::{Error, Result};
use crate::family::classification::{model_pass, ModelPass};
use crate::family::lm::document_logits;
use crate::input::dataset::Dataset;
use crate::output::logits::write_logits;

/// What `distill-eval logits` writes.
#[derive(Debug, Clone)]
pub struct LogitsOptions {
    /// The checkpoint.
    pub model: ModelSource,
    /// The data, loading and batching.
    pub setup: Setup,
    /// `.npy` or `.safetensors` output.
    pub out: PathBuf,
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    /// The model's class names in its id order (the columns).
    pub labels: Vec<String>,
    /// Identity and speed of the pass.
    pub run: ModelRun,
    /// Rows and columns written (examples x classes, or tokens x vocabulary).
    pub shape: (usize, usize),
}

/// Runs the model once over the data (any head: raw outputs) and writes its logits; for a
/// causal LM, float32 logits of every position, `(tokens, vocab)`, documents concatenated.
pub fn logits(opts: &LogitsOptions, device: &Device) -> Result<Written> {
    let mut setup = opts.setup.clone();
    let probed = distill_eval_model::probe(
        &opts.model,
        &setup.load.hub,
        setup.load.gguf_file.as_deref(),
    )?;
    let lm = probed.task == distill_eval_model::Task::CausalLm;
    if let Some(data) = setup.data.as_mut() {
        data.options.texts_only = lm;
        data.options.numeric_labels = probed.problem_type == "regression";
    }
    let session = Session::open(setup, device.clone())?;
    let data = session.dataset().ok_or(Error::NoData)?;
    let pass = if lm {
        lm_pass(&opts.model, data, &session)?
    } else {
        model_pass(&opts.model, "model", data, &session, false)?
    };
    let (labels, run) = (pass.labels, pass.run);
    let mut metadata = HashMap::new();
    if !lm {
        metadata.insert(
            "labels".to_owned(),
            serde_json::Value::from(labels.clone()).to_string(),
        );
    }
    metadata.insert("model".to_owned(), run.info.id.clone());
    if let Some(rev) = &run.info.revision {
        metadata.insert("revision".to_owned(), rev.clone());
    }
    metadata.insert("data".to_owned(), data.source.clone());
    write_logits(&opts.out, &pass.logits, &metadata)?;
    let shape = pass.logits.dims2()?;
    Ok(Written { labels, run, shape })
}

/// A causal LM over the documents of `data`: every position's logits.
fn lm_pass(source: &ModelSource, data: &Dataset, session: &Session) -> Result<ModelPass> {
    let start = std::time::Instant::now();
    let model = distill_eval_model::load(source, &session.device, &session.setup.load)?;
    let texts: Vec<&str> = data.rows.iter().map(|r| r.text.as_str()).collect();
    let docs = model.encode_documents(&texts)?;
    let logits = document_logits(&model, &docs, session.setup.pass.batch_size)?;
    let seconds = start.elapsed().as_secs_f64();
    let tokens: usize = docs.iter().map(Vec::len).sum();
    Ok(ModelPass {
        logits,
        labels: Vec::new(),
        run: ModelRun {
            info: model.info.clone(),
            seconds,
            examples_per_second: docs.len() as f64 / seconds.max(1e-9),
            tokens_per_second: Some(tokens as f64 / seconds.max(1e-9)),
        },
    })
}
