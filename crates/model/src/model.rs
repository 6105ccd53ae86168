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
    /// `--gguf-file NAME`: a folder or hub repo that holds a file of this name is loaded from
    /// that GGUF file (sources without it load as transformers checkpoints).
    pub gguf_file: Option<String>,
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
    /// Folder the files came from (the file itself for a GGUF model).
    pub path: PathBuf,
    /// Size on disk and bits per weight of a GGUF model; `None` for safetensors checkpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gguf: Option<crate::GgufInfo>,
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
    /// The ids that end a generation (causal LMs; empty otherwise or when none is set).
    pub(crate) eos: Vec<u32>,
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

    /// How the tokenizer decodes one token id on its own (special tokens kept; a byte-level
    /// piece of a multi-byte character shows as U+FFFD), for showing tokens in reports.
    pub fn token_text(&self, id: u32) -> String {
        self.encoder.token_text(id)
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

#[cfg(test)]
mod tests {
    use crate::arch::lm_testing::{conformance_dir, fixture_dir};
    use crate::arch::testing::{load_local, model_dir};
    use crate::{DTypeSpec, Error, Task};

    #[test]
    fn a_causal_lm_describes_itself() {
        let model = load_local(&conformance_dir("llama_small"), DTypeSpec::F32);
        assert_eq!(model.task(), Task::CausalLm);
        assert_eq!(model.info.architecture, "LlamaForCausalLM");
        assert_eq!(model.info.problem_type, "causal_lm");
        assert!(model.labels().is_empty());
        assert!(model.ensure_single_label().is_err());
        assert_eq!(model.lm_vocab_size().unwrap(), 300);
        assert_eq!(model.num_labels(), 300);
        assert_eq!(model.tokenizer_vocab_size(), 300);
        assert_eq!(model.lm_max_positions().unwrap(), 128);
        // The padded head of the qwen3 fixture is wider than its tokenizer.
        let padded = load_local(&fixture_dir("qwen3"), DTypeSpec::F32);
        assert_eq!(padded.lm_vocab_size().unwrap(), 142);
        assert_eq!(padded.tokenizer_vocab_size(), 120);
    }

    #[test]
    fn documents_are_whole_with_the_template_and_batches_right_padded() {
        let model = load_local(&conformance_dir("llama_small"), DTypeSpec::F32);
        let long = "the movie was great. ".repeat(60);
        let docs = model.encode_documents(&["x", "", &long]).unwrap();
        // `<s>` (id 1) leads every document, the empty one included.
        assert!(docs.iter().all(|d| d[0] == 1), "{docs:?}");
        assert_eq!(docs[1], [1]);
        // No truncation at the 128-token limit that classifier inputs get.
        assert_eq!(model.info.max_length, 128);
        assert!(docs[2].len() > 128, "{}", docs[2].len());

        let batch = model.batch_ids(&[&[1, 5, 6], &[1]]).unwrap();
        assert_eq!(
            batch.input_ids.to_vec2::<u32>().unwrap(),
            [[1, 5, 6], [1, 0, 0]]
        );
        assert_eq!(
            batch.attention_mask.to_vec2::<u32>().unwrap(),
            [[1, 1, 1], [1, 0, 0]]
        );
        assert_eq!(
            batch.token_type_ids.to_vec2::<u32>().unwrap(),
            [[0, 0, 0], [0, 0, 0]]
        );
        assert!(matches!(model.batch_ids(&[]), Err(Error::EmptyBatch)));
        let hidden = model.lm_hidden(&batch).unwrap();
        assert_eq!(hidden.dims(), [2, 3, 48]);
        assert_eq!(model.lm_logits(&hidden).unwrap().dims(), [2, 3, 300]);
        assert_eq!(model.forward(&batch).unwrap().dims(), [2, 3, 300]);
    }

    #[test]
    fn vocabularies_are_compared_token_by_token() {
        let teacher = load_local(&conformance_dir("teacher_llama"), DTypeSpec::F32);
        let student = load_local(&conformance_dir("qwen2"), DTypeSpec::F32);
        // Same vocabulary; only the saved padding settings of their tokenizer.json differ.
        assert_eq!(teacher.first_vocab_difference(&student), None);
        let fixture = load_local(&fixture_dir("llama"), DTypeSpec::F32);
        let diff = teacher.first_vocab_difference(&fixture).unwrap();
        assert_eq!((diff.this_size, diff.other_size), (300, 120));
        assert_ne!(diff.this, diff.other);
        // Every id below the reported one agrees.
        let diff_back = fixture.first_vocab_difference(&teacher).unwrap();
        assert_eq!(diff_back.id, diff.id);
        assert_eq!(
            (&diff_back.this, &diff_back.other),
            (&diff.other, &diff.this)
        );
        let msg = diff.to_string();
        assert!(msg.contains(&format!("token id {}", diff.id)), "{msg}");
        assert!(msg.contains("300") && msg.contains("120"), "{msg}");
        assert!(diff.id >= 3, "the special tokens agree: {diff:?}");
    }

    #[test]
    fn a_classifier_is_not_a_causal_lm() {
        let model = load_local(&model_dir("bert_small"), DTypeSpec::F32);
        let batch = model.batch_ids(&[&[2, 3]]).unwrap();
        for err in [
            model.lm_hidden(&batch).unwrap_err(),
            model.encode_documents(&["x"]).unwrap_err(),
            model.lm_vocab_size().unwrap_err(),
        ] {
            assert!(matches!(err, Error::NotCausalLm { .. }), "{err}");
            let msg = err.to_string();
            assert!(msg.contains("BertForSequenceClassification"), "{msg}");
            assert!(msg.contains("\nhint: "), "{msg}");
        }
        // The classifier path is unchanged.
        assert_eq!(model.forward(&batch).unwrap().dims(), [1, 3]);
    }
}
