//! The crate's one error type. Messages are lowercase, name the values involved, and put the
//! remedy on its own `hint:` line.
use std::path::PathBuf;

use candle::DType;

/// A boxed source error from a library whose error type we do not re-export (tokenizers, hf-hub).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong while resolving, loading or running a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle::Error),

    /// A GGUF file's header or tensor data could not be read.
    #[error("cannot read GGUF file {}: {source}\nhint: the file is corrupt or truncated (or not a GGUF file); download or convert it again", path.display())]
    CorruptGguf {
        /// The file.
        path: PathBuf,
        /// What candle's reader reported.
        #[source]
        source: candle::Error,
    },

    /// A GGUF file holds a tensor type candle cannot read.
    #[error("GGUF file {} holds a tensor type distill-eval cannot read: {source}\nhint: supported tensor types are {}; requantize the model to one of them (llama-quantize)", path.display(), crate::gguf::TENSOR_TYPES)]
    GgufTensorType {
        /// The file.
        path: PathBuf,
        /// What candle's reader reported.
        #[source]
        source: candle::Error,
    },

    /// A tensor of a GGUF file is missing, misshapen or outside the file.
    #[error("GGUF file {}: tensor {name} {reason}\nhint: the file is damaged or its metadata does not describe its tensors; download or convert it again", path.display())]
    GgufTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A metadata entry of a GGUF file is missing or has the wrong type.
    #[error("GGUF file {}: metadata {key} {reason}\nhint: convert the model with a current llama.cpp `convert_hf_to_gguf.py`", path.display())]
    GgufMetadata {
        /// The file.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A GGUF file's `general.architecture` is not one distill-eval reads.
    #[error("GGUF file {} has architecture {found}, which distill-eval does not read\nhint: supported GGUF architectures are {}", path.display(), supported.join(", "))]
    UnsupportedGgufArchitecture {
        /// The file.
        path: PathBuf,
        /// `general.architecture`.
        found: String,
        /// What is read.
        supported: Vec<&'static str>,
    },

    /// The `tokenizer.ggml.*` metadata of a GGUF file does not give a tokenizer.
    #[error("GGUF file {}: {reason}\nhint: {hint}", path.display())]
    GgufTokenizer {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// The remedy.
        hint: &'static str,
    },

    /// `--gguf-file NAME` names a file that the model's folder or repo does not hold.
    #[error("{source_spec} holds neither {name} nor a config.json\nhint: --gguf-file names a .gguf file inside the folder or hub repo (e.g. model.Q4_K_M.gguf); or pass the .gguf file's path itself")]
    GgufFileNotFound {
        /// The model as the user wrote it.
        source_spec: String,
        /// The file name asked for.
        name: String,
    },

    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A device string did not parse.
    #[error("invalid device `{spec}`\nhint: use auto, cpu, cuda, cuda:N, metal or metal:N")]
    InvalidDevice {
        /// What the user wrote.
        spec: String,
    },

    /// A dtype string did not parse.
    #[error("invalid dtype `{spec}`\nhint: use auto, f32, f16 or bf16")]
    InvalidDType {
        /// What the user wrote.
        spec: String,
    },

    /// A GPU was requested on a build without its cargo feature.
    #[error("device {device} was requested but this build has no `{feature}` support\nhint: rebuild with `cargo build --release --features {feature}`, or pass --device cpu")]
    FeatureMissing {
        /// The requested device, e.g. `cuda:0`.
        device: String,
        /// The cargo feature that enables it.
        feature: &'static str,
    },

    /// A GPU was requested, the feature is there, but the device could not be opened.
    #[error("device {device} could not be opened: {source}\nhint: check the driver and the device index (built with the `{feature}` feature), or pass --device cpu")]
    DeviceUnavailable {
        /// The requested device, e.g. `cuda:1`.
        device: String,
        /// The cargo feature the build has.
        feature: &'static str,
        /// What candle reported.
        #[source]
        source: candle::Error,
    },

    /// A model string looks like a path but nothing is there.
    #[error("model path {path} does not exist\nhint: pass an existing folder, or a hub repo id such as `org/name` or `org/name@revision`")]
    PathNotFound {
        /// What the user wrote.
        path: String,
    },

    /// A shard of a sharded checkpoint names a path outside the model folder.
    #[error("{}: the shard {shard:?} is not a file inside the model folder\nhint: shard names in model.safetensors.index.json must be plain file names such as model-00001-of-00002.safetensors", .index.display())]
    ShardOutsideFolder {
        /// The index file.
        index: PathBuf,
        /// The shard name it gives.
        shard: String,
    },

    /// A model path names a file, not a checkpoint folder.
    #[error("model path {} is a file, not a model folder\nhint: pass the folder that holds config.json and the weights (e.g. {})", .path.display(), .path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")).display())]
    NotAFolder {
        /// What the user wrote.
        path: PathBuf,
    },

    /// A model string is neither an existing folder nor a valid hub repo id.
    #[error("`{spec}` is not a valid model source: {reason}\nhint: pass an existing folder, or a hub repo id such as `org/name` or `org/name@revision`")]
    InvalidSource {
        /// What the user wrote.
        spec: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A hub repo (or one of its files) is not in the local cache and the network is off.
    #[error("{repo}@{revision} is not in the hub cache {}{}\nhint: run `huggingface-cli download {repo}{revision_flag}` while online, or unset HF_HUB_OFFLINE and drop --offline to download it", cache.display(), file.as_ref().map(|f| format!(" (missing file {f})")).unwrap_or_default())]
    NotCached {
        /// Repo id.
        repo: String,
        /// Requested revision (`main` when none was given).
        revision: String,
        /// ` --revision X` when a revision was given, else empty.
        revision_flag: String,
        /// The cache folder that was searched.
        cache: PathBuf,
        /// The missing file, when the repo itself is cached.
        file: Option<String>,
    },

    /// The hub could not be reached or refused the request.
    #[error("cannot fetch {what} from the hub repo {repo}@{revision} (cache {}): {source}\nhint: check the network and the repo id; for gated or private repos set HF_TOKEN; to use the cache only, set HF_HUB_OFFLINE=1 after `huggingface-cli download {repo}`", cache.display())]
    Hub {
        /// Repo id.
        repo: String,
        /// Requested revision (`main` when none was given).
        revision: String,
        /// What was being fetched (a file name or `the file list`).
        what: String,
        /// The cache folder in use.
        cache: PathBuf,
        /// What the client reported.
        #[source]
        source: BoxError,
    },

    /// The model folder has no config.json.
    #[error("no config.json in {}\nhint: pass the folder written by `save_pretrained` (config.json, model.safetensors, tokenizer.json)", path.display())]
    MissingConfig {
        /// The model folder.
        path: PathBuf,
    },

    /// A JSON file did not parse.
    #[error("cannot parse {}: {source}\nhint: the file must be valid JSON as written by transformers' `save_pretrained`", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },

    /// config.json parsed, but not as the architecture's config.
    #[error("config {} is not a valid {model_type} config: {source}\nhint: the config.json must come from transformers for this architecture", path.display())]
    ArchConfig {
        /// The config file.
        path: PathBuf,
        /// The architecture that tried to read it.
        model_type: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },

    /// The config names an architecture with no implementation here.
    #[error("unsupported architecture {found} (in {})\nhint: supported classes are {}", path.display(), supported.join(", "))]
    UnsupportedArchitecture {
        /// The class or model_type found in config.json.
        found: String,
        /// config.json.
        path: PathBuf,
        /// Every supported HF class.
        supported: Vec<&'static str>,
    },

    /// The architecture is known but this configuration of it is not implemented.
    #[error("unsupported {model_type} configuration in {}: {reason}\nhint: {hint}", path.display())]
    UnsupportedConfig {
        /// config.json.
        path: PathBuf,
        /// The architecture.
        model_type: &'static str,
        /// What is not supported.
        reason: String,
        /// What to do about it.
        hint: &'static str,
    },

    /// The head is not a single-label classifier (regression or multi-label).
    #[error("{} describes a {problem_type} head with {num_labels} output(s), not single-label classification: its outputs are not class logits to compare with a softmax\nhint: evaluate single-label sequence classifiers; `distill-eval logits` still writes this model's raw outputs", path.display())]
    NotSingleLabel {
        /// config.json.
        path: PathBuf,
        /// The resolved problem type.
        problem_type: String,
        /// Outputs of the head.
        num_labels: usize,
    },

    /// The requested dtype is not one the architecture is correct in.
    #[error("{model_type} does not support dtype {requested:?}, only {supported:?}\nhint: pass --dtype f32")]
    UnsupportedDType {
        /// The architecture.
        model_type: &'static str,
        /// The requested dtype.
        requested: DType,
        /// The dtypes it supports.
        supported: &'static [DType],
    },

    /// id2label does not cover 0..n.
    #[error("id2label in {} is not a dense 0..n mapping: {reason}\nhint: fix id2label in config.json so that its keys are 0, 1, ..., n-1", path.display())]
    InvalidLabels {
        /// config.json.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// No weights in a format we load.
    #[error("no model.safetensors or model.safetensors.index.json in {}\nhint: save the model with `save_pretrained(..., safe_serialization=True)`", path.display())]
    MissingWeights {
        /// The model folder.
        path: PathBuf,
    },

    /// Only a pickle checkpoint is there; we never load those.
    #[error("{} holds only a PyTorch pickle checkpoint ({file}), which is not loaded for safety\nhint: convert it to safetensors: `python -c \"from transformers import AutoModelForSequenceClassification as M; M.from_pretrained('{}').save_pretrained('OUT', safe_serialization=True)\"`", path.display(), path.display())]
    PickleOnly {
        /// The model folder.
        path: PathBuf,
        /// The pickle file name.
        file: String,
    },

    /// A shard listed in the safetensors index is missing.
    #[error("shard {shard} listed in {} is missing\nhint: download every shard named in weight_map", index.display())]
    MissingShard {
        /// The index file.
        index: PathBuf,
        /// The missing shard.
        shard: String,
    },

    /// A safetensors file is corrupt or truncated.
    #[error("cannot read weights {}: {source}\nhint: the file is corrupt or truncated; download or save it again", path.display())]
    CorruptWeights {
        /// The safetensors file.
        path: PathBuf,
        /// What the reader reported.
        #[source]
        source: candle::Error,
    },

    /// The weights do not fit the architecture (a missing tensor or a shape mismatch).
    #[error("weights in {} do not match {model_type}: {source}\nhint: check that config.json and model.safetensors come from the same checkpoint", path.display())]
    WeightsMismatch {
        /// The model folder.
        path: PathBuf,
        /// The architecture.
        model_type: &'static str,
        /// What candle reported.
        #[source]
        source: candle::Error,
    },

    /// Neither tokenizer.json nor vocabulary files to build one from.
    #[error("no tokenizer.json (nor vocab.txt, nor vocab.json with merges.txt) in {}\nhint: save the tokenizer next to the model (`tokenizer.save_pretrained(folder)` with a fast tokenizer)", path.display())]
    MissingTokenizer {
        /// The model folder.
        path: PathBuf,
    },

    /// tokenizer.json did not load, or truncation could not be set.
    #[error("cannot load tokenizer {}: {source}\nhint: tokenizer.json must be written by a fast (Rust) tokenizer", path.display())]
    Tokenizer {
        /// tokenizer.json.
        path: PathBuf,
        /// What the tokenizers crate reported.
        #[source]
        source: BoxError,
    },

    /// The tokenizer can emit ids the embedding table does not have.
    #[error("tokenizer {} has {tokenizer_vocab} tokens but the model's vocab_size is {model_vocab}\nhint: the tokenizer does not belong to this model; use the tokenizer.json saved with it", path.display())]
    VocabMismatch {
        /// tokenizer.json.
        path: PathBuf,
        /// `get_vocab_size(true)` of the tokenizer.
        tokenizer_vocab: usize,
        /// `vocab_size` of config.json.
        model_vocab: usize,
    },

    /// Encoding a batch of texts failed.
    #[error("cannot tokenize the batch: {source}")]
    Encode {
        /// What the tokenizers crate reported.
        #[source]
        source: BoxError,
    },

    /// The tokenizer gave a token type id the model has no row for (e.g. a text pair for a
    /// model with `type_vocab_size` 1).
    #[error("example {} gets token type id {type_id} from the tokenizer, but the model's type_vocab_size is {type_vocab_size}\nhint: this model takes {} (drop the second text, e.g. the text-pair field), or use a tokenizer whose template gives type ids below {type_vocab_size}", .index + 1, if *.type_vocab_size == 1 { "single texts" } else { "fewer segments" })]
    TypeIdOutOfRange {
        /// 0-based position of the example among those encoded (data order).
        index: usize,
        /// The offending type id.
        type_id: u32,
        /// Rows of the model's token type table.
        type_vocab_size: usize,
    },

    /// `batch` was called with no items.
    #[error("cannot build a batch of 0 items")]
    EmptyBatch,

    /// A causal-LM method was called on a model of another task.
    #[error("{architecture} in {} is not a causal language model\nhint: token-level figures need *ForCausalLM checkpoints (e.g. LlamaForCausalLM, Qwen2ForCausalLM)", path.display())]
    NotCausalLm {
        /// The model folder.
        path: PathBuf,
        /// Its HF class.
        architecture: String,
    },

    /// An `eos_token_id` that is not a token id (or list of them).
    #[error("{}: eos_token_id {value} is not a token id or a list of token ids\nhint: set eos_token_id to an integer (or a list of integers) below the vocabulary size, or remove it", path.display())]
    BadEos {
        /// generation_config.json or config.json.
        path: PathBuf,
        /// The value found, as JSON.
        value: String,
    },

    /// A prompt with no token to continue from.
    #[error("prompt {} has no tokens\nhint: every prompt needs at least one token; this tokenizer adds no special token to an empty text", .index + 1)]
    EmptyPrompt {
        /// 0-based index among the prompts given.
        index: usize,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an io error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// Wraps a JSON error with the file it concerns.
    pub(crate) fn json(path: impl Into<PathBuf>) -> impl FnOnce(serde_json::Error) -> Self {
        let path = path.into();
        move |source| Self::Json { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_carry_a_hint() {
        let errors = [
            Error::MissingConfig { path: "m".into() },
            Error::PickleOnly {
                path: "m".into(),
                file: "pytorch_model.bin".into(),
            },
            Error::VocabMismatch {
                path: "t".into(),
                tokenizer_vocab: 300,
                model_vocab: 291,
            },
        ];
        for e in errors {
            let msg = e.to_string();
            let first = msg.chars().next().unwrap_or('X');
            assert!(!first.is_uppercase(), "{msg}");
            assert!(msg.contains("\nhint: "), "{msg}");
        }
        let msg = Error::VocabMismatch {
            path: "t".into(),
            tokenizer_vocab: 300,
            model_vocab: 291,
        }
        .to_string();
        assert!(msg.contains("300") && msg.contains("291"), "{msg}");
    }
}
