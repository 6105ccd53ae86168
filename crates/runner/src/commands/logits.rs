//! `distill-eval logits`: one model's logits over the data, in input order, written atomically;
//! safetensors files carry the class names, model id and data as metadata.

use std::collections::HashMap;
use std::path::PathBuf;

use candle::Device;
use distill_eval_model::ModelSource;

use crate::engine::{ModelRun, Session, Setup};
use crate::error::{Error, Result};
use crate::family::classification::model_pass;
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
}

/// Runs the model once over the data (any head: raw outputs) and writes its logits.
pub fn logits(opts: &LogitsOptions, device: &Device) -> Result<Written> {
    let session = Session::open(opts.setup.clone(), device.clone())?;
    let data = session.dataset().ok_or(Error::NoData)?;
    let pass = model_pass(&opts.model, "model", data, &session, false)?;
    let (labels, run) = (pass.labels, pass.run);
    let mut metadata = HashMap::new();
    metadata.insert(
        "labels".to_owned(),
        serde_json::Value::from(labels.clone()).to_string(),
    );
    metadata.insert("model".to_owned(), run.info.id.clone());
    if let Some(rev) = &run.info.revision {
        metadata.insert("revision".to_owned(), rev.clone());
    }
    metadata.insert("data".to_owned(), data.source.clone());
    write_logits(&opts.out, &pass.logits, &metadata)?;
    Ok(Written { labels, run })
}
