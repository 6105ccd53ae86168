//! The load pipeline: source → files → `ProbeConfig` → `arch::lookup` → dtype check →
//! `VarBuilder` → `Architecture::load`, plus the model's own tokenizer (tokenizer.json, or one
//! built from its vocabulary files by `convert.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle::Device;

use crate::arch::{self, LoadContext, Task};
use crate::config::{ProbeConfig, TokenizerConfig};
use crate::convert::TokenizerFiles;
use crate::device::{device_label, dtype_label};
use crate::hub::{self, HubOptions};
use crate::tokenizer::{EncoderSpec, TextEncoder};
use crate::weights::{self, Weights};
use crate::{Error, LoadOptions, Model, ModelInfo, ModelSource, Result};

/// `ModelInfo::problem_type` of a causal LM (transformers has none; its outputs are next-token
/// logits).
const CAUSAL_LM: &str = "causal_lm";

/// Where the files of a model come from.
enum Files {
    Local(PathBuf),
    Hub(hub::HubRepo),
}

impl Files {
    fn open(source: &ModelSource, opts: &HubOptions) -> Result<Self> {
        match source {
            ModelSource::Local(dir) => {
                if !dir.is_dir() {
                    return Err(Error::PathNotFound {
                        path: dir.display().to_string(),
                    });
                }
                Ok(Self::Local(dir.clone()))
            }
            ModelSource::Hub { repo_id, revision } => Ok(Self::Hub(hub::open(
                repo_id,
                revision.as_deref(),
                hub::RepoKind::Model,
                opts,
            )?)),
        }
    }

    /// The local path of `name`, or `None` when the model has no such file.
    fn find(&self, name: &str) -> Result<Option<PathBuf>> {
        match self {
            Self::Local(dir) => {
                let path = dir.join(name);
                Ok(path.is_file().then_some(path))
            }
            Self::Hub(repo) => repo.find(name),
        }
    }

    /// The folder to name in messages and in `ModelInfo::path`.
    fn folder(&self, config: &Path) -> PathBuf {
        match self {
            Self::Local(dir) => dir.clone(),
            Self::Hub(_) => config.parent().map(Path::to_owned).unwrap_or_default(),
        }
    }

    fn revision(&self) -> Option<String> {
        match self {
            Self::Local(_) => None,
            Self::Hub(repo) => repo.revision(),
        }
    }
}

/// The checkpoint's tokenizer: tokenizer.json, else the vocabulary files a slow tokenizer saves
/// (`vocab.txt` for WordPiece, `vocab.json` + `merges.txt` for byte-level BPE).
fn tokenizer_files(
    files: &Files,
    folder: &Path,
    config: &TokenizerConfig,
) -> Result<TokenizerFiles> {
    if let Some(json) = files.find("tokenizer.json")? {
        return Ok(TokenizerFiles::Json(json));
    }
    if let Some(vocab) = files.find("vocab.txt")? {
        return Ok(TokenizerFiles::WordPiece {
            vocab,
            config: config.clone(),
        });
    }
    if let (Some(vocab), Some(merges)) = (files.find("vocab.json")?, files.find("merges.txt")?) {
        return Ok(TokenizerFiles::ByteLevelBpe {
            vocab,
            merges,
            config: config.clone(),
        });
    }
    Err(Error::MissingTokenizer {
        path: folder.to_owned(),
    })
}

/// A source that is a GGUF file (a `.gguf` path, or a folder / repo holding the file
/// `--gguf-file` names), with its hub revision.
fn gguf_path(
    source: &ModelSource,
    files: Option<&Files>,
    name: Option<&str>,
) -> Result<Option<(PathBuf, Option<String>)>> {
    if let ModelSource::Local(path) = source {
        if path.is_file() && crate::gguf::is_gguf(path) {
            return Ok(Some((path.clone(), None)));
        }
    }
    match (files, name) {
        (Some(files), Some(name)) => Ok(files.find(name)?.map(|p| (p, files.revision()))),
        _ => Ok(None),
    }
}

/// What a checkpoint is, from its config.json alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// A classifier (any head) or a causal LM.
    pub task: Task,
    /// transformers' `problem_type`, resolved as [`ModelInfo::problem_type`](crate::ModelInfo)
    /// is (`regression` for a one-output head without one); `causal_lm` for a causal LM.
    pub problem_type: String,
}

/// What `source` is (a classifier, a regression head or a causal LM), from its config.json
/// alone: no tokenizer or weight is read, so a command can pick its task family before loading
/// anything.
///
/// A GGUF source (a `.gguf` path, or `gguf_file` in a folder or repo) is a causal LM.
pub fn probe(source: &ModelSource, hub: &HubOptions, gguf_file: Option<&str>) -> Result<Probed> {
    let lm = || Probed {
        task: Task::CausalLm,
        problem_type: CAUSAL_LM.to_owned(),
    };
    if gguf_path(source, None, None)?.is_some() {
        return Ok(lm());
    }
    let files = Files::open(source, hub)?;
    if gguf_path(source, Some(&files), gguf_file)?.is_some() {
        return Ok(lm());
    }
    let Some(config_path) = files.find("config.json")? else {
        let path = match &files {
            Files::Local(dir) => dir.clone(),
            Files::Hub(repo) => PathBuf::from(repo.repo_id()),
        };
        return Err(Error::MissingConfig { path });
    };
    let probe = ProbeConfig::read(&config_path)?;
    let task = arch::lookup(&probe)?.task();
    let problem_type = match task {
        Task::SequenceClassification => probe.problem_type(probe.labels()?.len()),
        Task::CausalLm => CAUSAL_LM.to_owned(),
    };
    Ok(Probed { task, problem_type })
}

/// Resolves the files, probes config.json, dispatches on the architecture, builds the model on
/// `device` in the requested dtype and loads the model's own tokenizer.
#[tracing::instrument(skip_all, fields(model = %source))]
pub fn load(source: &ModelSource, device: &Device, opts: &LoadOptions) -> Result<Model> {
    if let Some((path, _)) = gguf_path(source, None, None)? {
        return crate::gguf::load(&path, source.to_string(), None, device, opts);
    }
    let files = Files::open(source, &opts.hub)?;
    if let Some((path, revision)) = gguf_path(source, Some(&files), opts.gguf_file.as_deref())? {
        return crate::gguf::load(&path, source.to_string(), revision, device, opts);
    }
    let config_path = match files.find("config.json")? {
        Some(path) => path,
        None if opts.gguf_file.is_some() => {
            return Err(Error::GgufFileNotFound {
                source_spec: source.to_string(),
                name: opts.gguf_file.clone().unwrap_or_default(),
            })
        }
        None => {
            let path = match &files {
                Files::Local(dir) => dir.clone(),
                Files::Hub(repo) => PathBuf::from(repo.repo_id()),
            };
            return Err(Error::MissingConfig { path });
        }
    };
    let folder = files.folder(&config_path);
    let probe = ProbeConfig::read(&config_path)?;
    let arch = arch::lookup(&probe)?;
    let model_type = arch.model_type();

    let dtype = opts.dtype.resolve(device, arch.dtypes());
    if !arch.dtypes().contains(&dtype) {
        return Err(Error::UnsupportedDType {
            model_type,
            requested: dtype,
            supported: arch.dtypes(),
        });
    }

    // Cheap checks first: a missing or mismatched tokenizer fails before any weight is mapped.
    let tokenizer_config = match files.find("tokenizer_config.json")? {
        Some(path) => TokenizerConfig::read(&path)?,
        None => TokenizerConfig::default(),
    };
    let tokenizer_files = tokenizer_files(&files, &folder, &tokenizer_config)?;
    let encoder = TextEncoder::load(&EncoderSpec {
        tokenizer: &tokenizer_files,
        requested: opts.max_length,
        tokenizer_limit: tokenizer_config.max_length(),
        model_limit: arch.max_positions(&probe),
        type_vocab_size: arch.type_vocab_size(&probe),
        vocab_size: probe.vocab_size,
        config_pad_id: probe.pad_token_id,
        documents: arch.task() == Task::CausalLm,
    })?;

    let task = arch.task();
    // A causal LM has no labels; its outputs are next-token logits.
    let labels = match task {
        Task::SequenceClassification => probe.labels()?,
        Task::CausalLm => Vec::new(),
    };
    let weight_files = weights::discover(&folder, &|name| files.find(name))?;
    let weights = Arc::new(Weights::open(&weight_files)?);
    let vb = weights.var_builder(dtype, device);
    let num_labels = (task == Task::SequenceClassification).then_some(labels.len());
    let inner = arch
        .load(LoadContext {
            config: &probe,
            vb,
            num_labels,
        })
        .map_err(|e| match e {
            Error::Candle(source) => Error::WeightsMismatch {
                path: folder.clone(),
                model_type,
                source,
            },
            other => other,
        })?;
    let unused = weights.unused();
    if !unused.is_empty() {
        tracing::debug!(count = unused.len(), first = %unused[0], "checkpoint tensors not used by the model");
    }

    let info = ModelInfo {
        id: source.to_string(),
        revision: files.revision(),
        architecture: probe
            .architecture()
            .map_or_else(|| arch.hf_classes()[0].to_owned(), str::to_owned),
        model_type: model_type.to_owned(),
        parameters: weights.loaded_parameters(),
        device: device_label(device),
        dtype: dtype_label(dtype),
        problem_type: match task {
            Task::SequenceClassification => probe.problem_type(labels.len()),
            Task::CausalLm => CAUSAL_LM.to_owned(),
        },
        max_length: encoder.max_length(),
        path: folder,
        gguf: None,
    };
    tracing::info!(
        model = %info.id,
        architecture = %info.architecture,
        parameters = info.parameters,
        device = %info.device,
        dtype = %info.dtype,
        max_length = info.max_length,
        "model loaded"
    );
    let eos = match task {
        Task::CausalLm => {
            let tokenizer_eos = tokenizer_config
                .eos_token
                .as_ref()
                .map(|v| tokenizer_config.token(&Some(v.clone()), ""))
                .and_then(|t| encoder.token_id(&t));
            crate::generate::eos_ids(
                files.find("generation_config.json")?.as_deref(),
                (&config_path, &probe.raw),
                tokenizer_eos,
                encoder.vocab_size().max(probe.vocab_size.unwrap_or(0)),
            )?
        }
        Task::SequenceClassification => Vec::new(),
    };
    Ok(Model {
        info,
        labels,
        task,
        encoder,
        inner,
        device: device.clone(),
        eos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::testing::{logits, model_dir, Tolerance};
    use crate::hub::tests::{fake_cache, SHA};
    use crate::TextInput;
    use std::time::{Duration, Instant};

    fn offline(cache: &Path) -> LoadOptions {
        LoadOptions {
            hub: HubOptions {
                offline: true,
                cache_dir: Some(cache.to_owned()),
                progress: false,
            },
            ..Default::default()
        }
    }

    /// A writable copy of models/<name>.
    fn copy_model(name: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(model_dir(name)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
        dir
    }

    fn load_dir(dir: &Path) -> Result<Model> {
        load(
            &ModelSource::Local(dir.to_owned()),
            &Device::Cpu,
            &LoadOptions::default(),
        )
    }

    fn assert_hint(err: &Error, names: &str) {
        let msg = err.to_string();
        assert!(msg.contains(names), "message should name {names}: {msg}");
        assert!(
            msg.contains("\nhint: "),
            "message should carry a hint: {msg}"
        );
    }

    #[test]
    fn info_describes_a_local_model() {
        let model = load_dir(&model_dir("bert_small")).unwrap();
        let info = &model.info;
        assert_eq!(info.architecture, "BertForSequenceClassification");
        assert_eq!(info.model_type, "bert");
        // Every tensor of the checkpoint (counted from its safetensors header).
        assert_eq!(info.parameters, 40_099);
        assert_eq!(info.device, "cpu");
        assert_eq!(info.dtype, "f32");
        assert_eq!(info.max_length, 128);
        assert_eq!(info.revision, None);
        assert_eq!(model.labels(), ["neg", "neu", "pos"]);
        assert_eq!(model.num_labels(), 3);
        assert_eq!(model.task(), Task::SequenceClassification);
        assert!(model.device().is_cpu());
        let json = serde_json::to_value(info).unwrap();
        assert_eq!(json["model_type"], "bert");
    }

    #[test]
    fn max_length_option_caps_truncation() {
        let opts = LoadOptions {
            max_length: Some(8),
            ..Default::default()
        };
        let source = ModelSource::Local(model_dir("bert_small"));
        let model = load(&source, &Device::Cpu, &opts).unwrap();
        assert_eq!(model.info.max_length, 8);
        let long = "good ".repeat(50);
        let enc = model.encode(&[TextInput::single(&long)]).unwrap();
        assert_eq!(enc[0].len(), 8);
    }

    #[test]
    fn huge_texts_are_cut_to_what_the_window_can_use() {
        let model = load_dir(&model_dir("bert_small")).unwrap();
        // A 10 MB text tokenizes to the same window as its first few kilobytes.
        let huge = "a fine movie, ".repeat(750_000);
        let head: String = huge.chars().take(4096).collect();
        let enc = model
            .encode(&[TextInput::single(&huge), TextInput::single(&head)])
            .unwrap();
        assert_eq!(enc[0].ids, enc[1].ids);
        assert_eq!(enc[0].len(), model.info.max_length);
    }

    #[test]
    fn hub_cache_loads_offline_by_id_sha_and_branch() {
        let cache = fake_cache(&model_dir("bert_small"));
        let local = load_dir(&model_dir("bert_small")).unwrap();
        let texts: Vec<String> = ["a fine movie", "", "dull"].map(String::from).to_vec();
        let want = logits(&local, &texts, 2);
        for spec in [
            "org/tiny".to_owned(),
            format!("org/tiny@{SHA}"),
            "org/tiny@main".to_owned(),
        ] {
            let source: ModelSource = spec.parse().unwrap();
            let model = load(&source, &Device::Cpu, &offline(cache.path())).unwrap();
            assert_eq!(model.info.id, spec);
            assert_eq!(model.info.revision.as_deref(), Some(SHA));
            assert!(
                model.info.path.ends_with(SHA),
                "{}",
                model.info.path.display()
            );
            Tolerance::F32.assert_close(&logits(&model, &texts, 2), &want, &spec);
        }
    }

    #[test]
    fn uncached_hub_model_offline_is_not_cached_quickly() {
        let cache = fake_cache(&model_dir("bert_small"));
        let start = Instant::now();
        let source: ModelSource = "org/missing@v1".parse().unwrap();
        let err = load(&source, &Device::Cpu, &offline(cache.path())).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(matches!(err, Error::NotCached { .. }), "{err}");
        assert_hint(&err, "org/missing@v1");
    }

    #[test]
    fn folder_without_config() {
        let dir = copy_model("bert_small");
        std::fs::remove_file(dir.path().join("config.json")).unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::MissingConfig { .. }), "{err}");
        assert_hint(&err, "config.json");
    }

    #[test]
    fn unknown_architecture_and_model_type() {
        let dir = copy_model("bert_small");
        let config = dir.path().join("config.json");
        let raw = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            raw.replace("BertForSequenceClassification", "BertForMaskedLM"),
        )
        .unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedArchitecture { .. }),
            "{err}"
        );
        assert_hint(&err, "BertForMaskedLM");
        assert_hint(&err, "config.json");

        let mut json: serde_json::Value = serde_json::from_str(&raw).unwrap();
        json.as_object_mut().unwrap().remove("architectures");
        json["model_type"] = "mamba".into();
        std::fs::write(&config, json.to_string()).unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedArchitecture { .. }),
            "{err}"
        );
        assert_hint(&err, "mamba");
    }

    #[test]
    fn corrupt_and_truncated_safetensors() {
        let dir = copy_model("bert_small");
        let weights = dir.path().join("model.safetensors");
        let bytes = std::fs::read(&weights).unwrap();
        std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::CorruptWeights { .. }), "{err}");
        assert_hint(&err, "model.safetensors");

        std::fs::write(&weights, b"garbage").unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::CorruptWeights { .. }), "{err}");
    }

    #[test]
    fn weights_that_do_not_fit_the_config() {
        let dir = copy_model("bert_small");
        let config = dir.path().join("config.json");
        let raw = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            raw.replace("\"hidden_size\": 32", "\"hidden_size\": 64"),
        )
        .unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::WeightsMismatch { .. }), "{err}");
        assert_hint(&err, "bert");
    }

    #[test]
    fn tokenizer_vocab_larger_than_the_model() {
        let dir = copy_model("bert_small");
        let config = dir.path().join("config.json");
        let raw = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            raw.replace("\"vocab_size\": 291", "\"vocab_size\": 200"),
        )
        .unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::VocabMismatch { .. }), "{err}");
        assert_hint(&err, "tokenizer.json");
        assert_hint(&err, "291");
        assert_hint(&err, "200");
    }

    #[test]
    fn missing_tokenizer_json() {
        let dir = copy_model("bert_small");
        std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::MissingTokenizer { .. }), "{err}");
        assert_hint(&err, "tokenizer.json");
    }

    #[test]
    fn pytorch_bin_only() {
        let dir = copy_model("bert_small");
        std::fs::rename(
            dir.path().join("model.safetensors"),
            dir.path().join("pytorch_model.bin"),
        )
        .unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::PickleOnly { .. }), "{err}");
        assert_hint(&err, "pytorch_model.bin");
    }

    #[test]
    fn missing_local_folder() {
        let source = ModelSource::Local(PathBuf::from("/definitely/not/here"));
        let err = load(&source, &Device::Cpu, &LoadOptions::default()).unwrap_err();
        assert!(matches!(err, Error::PathNotFound { .. }), "{err}");
    }

    #[test]
    fn shards_outside_the_folder_are_refused() {
        let dir = copy_model("bert_small");
        std::fs::rename(
            dir.path().join("model.safetensors"),
            dir.path().join("model-00001-of-00001.safetensors"),
        )
        .unwrap();
        for shard in ["../../../etc/passwd", "/etc/passwd"] {
            let index = serde_json::json!({"weight_map": {"classifier.weight": shard}});
            std::fs::write(
                dir.path().join("model.safetensors.index.json"),
                index.to_string(),
            )
            .unwrap();
            let err = load_dir(dir.path()).unwrap_err();
            assert!(matches!(err, Error::ShardOutsideFolder { .. }), "{err}");
            assert_hint(&err, shard);
        }
    }

    #[test]
    fn a_ref_pointing_outside_the_cache_is_not_followed() {
        let cache = fake_cache(&model_dir("bert_small"));
        let refs = cache.path().join("models--org--tiny").join("refs");
        std::fs::write(refs.join("evil"), "../../../../etc").unwrap();
        for spec in ["org/tiny@evil", "org/tiny@../../x"] {
            let source: ModelSource = match spec.parse() {
                Ok(s) => s,
                Err(_) => continue,
            };
            let err = load(&source, &Device::Cpu, &offline(cache.path())).unwrap_err();
            assert!(matches!(err, Error::NotCached { .. }), "{spec}: {err}");
        }
    }

    #[test]
    fn a_model_path_that_is_a_file_says_so() {
        let file = model_dir("bert_small").join("config.json");
        let err = file
            .display()
            .to_string()
            .parse::<ModelSource>()
            .unwrap_err();
        assert!(matches!(err, Error::NotAFolder { .. }), "{err}");
        assert_hint(&err, "is a file");
    }
}
