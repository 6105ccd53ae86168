//! The loaded model: its identity for reports ([`ModelInfo`]), its labels, its tokenizer and the
//! forward pass, whatever the architecture behind it.

use std::path::PathBuf;

use candle::{Device, Tensor};

use crate::arch::{Loaded, Task};
use crate::config;
use crate::tokenizer::TextEncoder;
use crate::{Batch, DTypeSpec, Encoded, Error, HubOptions, Result, TextInput};

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Weight and activation dtype.
    pub dtype: DTypeSpec,
    /// Hub access.
    pub hub: HubOptions,
    /// Upper bound on the truncation length (the tokenizer's and the model's limits still apply).
    pub max_length: Option<usize>,
}

/// What was loaded, for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    /// The user's spelling (path or repo id).
    pub id: String,
    /// Resolved commit sha for hub models, `None` for local folders.
    pub revision: Option<String>,
    /// HF class, e.g. "DistilBertForSequenceClassification".
    pub architecture: String,
    /// HF model_type, e.g. "distilbert".
    pub model_type: String,
    /// Total element count of the weights loaded.
    pub parameters: usize,
    /// "cpu", "cuda:0", "metal:0".
    pub device: String,
    /// "f32", "f16", "bf16".
    pub dtype: String,
    /// transformers' `problem_type`, resolved (`single_label_classification`,
    /// `multi_label_classification` or `regression`).
    pub problem_type: String,
    /// Effective truncation length.
    pub max_length: usize,
    /// Folder the files came from.
    pub path: PathBuf,
}

/// A loaded model with its tokenizer and labels.
pub struct Model {
    /// What was loaded.
    pub info: ModelInfo,
    pub(crate) labels: Vec<String>,
    pub(crate) task: Task,
    pub(crate) encoder: TextEncoder,
    pub(crate) inner: Loaded,
    pub(crate) device: Device,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("info", &self.info)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// id2label in id order (0..n); "LABEL_i" when absent.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Fails unless the head is a single-label classifier, the only kind whose outputs are
    /// class logits for a softmax (a regression or multi-label head's outputs are not).
    pub fn ensure_single_label(&self) -> Result<()> {
        if self.info.problem_type == config::SINGLE_LABEL {
            return Ok(());
        }
        Err(Error::NotSingleLabel {
            path: self.info.path.join("config.json"),
            problem_type: self.info.problem_type.clone(),
            num_labels: self.labels.len(),
        })
    }

    /// Number of output classes.
    pub fn num_labels(&self) -> usize {
        match &self.inner {
            Loaded::Classifier(c) => c.num_labels(),
            Loaded::CausalLm(m) => m.vocab_size(),
        }
    }

    /// What the outputs are.
    pub fn task(&self) -> Task {
        self.task
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Tokenizes with this model's tokenizer: special tokens added, truncation at
    /// `info.max_length` (LongestFirst for pairs), no padding. Parallel over the inputs (rayon).
    pub fn encode(&self, inputs: &[TextInput<'_>]) -> Result<Vec<Encoded>> {
        self.encoder.encode(inputs)
    }

    /// Right-pads to the longest item with the tokenizer's pad id; tensors on the model's device.
    pub fn batch(&self, items: &[&Encoded]) -> Result<Batch> {
        self.encoder.batch(items, &self.device)
    }

    /// (b, num_labels) logits, in the model dtype on the model device ((b, t, vocab) for a
    /// causal LM).
    pub fn forward(&self, batch: &Batch) -> Result<Tensor> {
        let out = self.device.with_context(|| match &self.inner {
            Loaded::Classifier(c) => c.forward(batch),
            Loaded::CausalLm(m) => m.forward(batch),
        })?;
        Ok(out)
    }
}
