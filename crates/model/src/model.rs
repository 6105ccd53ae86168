//! The loaded model: its identity for reports ([`ModelInfo`]), its labels, its tokenizer and the
//! forward pass, whatever the architecture behind it; for causal LMs, whole-document
//! tokenization, id batches, hidden states and logits apart, and the vocabulary comparison a
//! teacher/student pair must pass.

use std::path::PathBuf;

use candle::{Device, Tensor};

use crate::arch::{CausalLm, Loaded, Task};
use crate::config;
use crate::tokenizer::{TextEncoder, VocabDifference};
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
    /// `multi_label_classification` or `regression`); `causal_lm` for a causal LM.
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
    /// id2label in id order (0..n); "LABEL_i" when absent; empty for a causal LM.
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

    /// Number of output classes (the logit width for a causal LM).
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
            Loaded::CausalLm(m) => m.logits(&m.hidden(batch)?),
        })?;
        Ok(out)
    }

    /// The causal LM behind this model, or [`Error::NotCausalLm`].
    pub fn causal_lm(&self) -> Result<&dyn CausalLm> {
        match &self.inner {
            Loaded::CausalLm(m) => Ok(m.as_ref()),
            Loaded::Classifier(_) => Err(Error::NotCausalLm {
                path: self.info.path.clone(),
                architecture: self.info.architecture.clone(),
            }),
        }
    }

    /// The logit width of a causal LM: its LM head's rows, including padding rows beyond the
    /// tokenizer's vocabulary ([`Self::tokenizer_vocab_size`]).
    pub fn lm_vocab_size(&self) -> Result<usize> {
        Ok(self.causal_lm()?.vocab_size())
    }

    /// config.json `max_position_embeddings` of a causal LM.
    pub fn lm_max_positions(&self) -> Result<usize> {
        Ok(self.causal_lm()?.max_positions())
    }

    /// Each document tokenized alone with the tokenizer's template (special tokens added, e.g.
    /// a leading BOS), no truncation and no padding. Parallel over the documents (rayon).
    pub fn encode_documents(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        self.causal_lm()?;
        self.encoder
            .encode_documents(texts)
            .ok_or_else(|| Error::NotCausalLm {
                path: self.info.path.clone(),
                architecture: self.info.architecture.clone(),
            })?
    }

    /// Right-pads id rows (e.g. windows of [`Self::encode_documents`]) to the longest with the
    /// tokenizer's pad id (0 when it has none); tensors on the model's device.
    pub fn batch_ids(&self, rows: &[&[u32]]) -> Result<Batch> {
        self.encoder.batch_ids(rows, &self.device)
    }

    /// (b, t, hidden): a causal LM's final-normed hidden states, model dtype, model device.
    pub fn lm_hidden(&self, batch: &Batch) -> Result<Tensor> {
        let lm = self.causal_lm()?;
        Ok(self.device.with_context(|| lm.hidden(batch))?)
    }

    /// (..., hidden) → (..., vocab): the LM head and final soft-capping over any chunk of
    /// [`Self::lm_hidden`]'s positions, model dtype, model device.
    pub fn lm_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let lm = self.causal_lm()?;
        Ok(self.device.with_context(|| lm.logits(hidden))?)
    }

    /// The tokenizer's vocabulary size, added tokens included (may be below
    /// [`Self::lm_vocab_size`]).
    pub fn tokenizer_vocab_size(&self) -> usize {
        self.encoder.vocab_size()
    }

    /// The first token id at which this model's tokenizer and `other`'s disagree (a different
    /// token, or an id only one has), with both tokens and both sizes; `None` when the two
    /// vocabularies are identical, as a teacher and a student compared token by token must be.
    pub fn first_vocab_difference(&self, other: &Model) -> Option<VocabDifference> {
        self.encoder.first_vocab_difference(&other.encoder)
    }
}
