//! The input layer: everything read from disk or the hub before a model runs: labelled
//! datasets (`dataset`, including `hf://datasets/...` through the shared cache), saved logits
//! and labels (`saved`, `npy`) and checkpoint folders (`checkpoints`).

pub mod checkpoints;
pub mod dataset;
pub(crate) mod npy;
pub mod records;
pub mod saved;

use std::path::{Path, PathBuf};

use distill_eval_model::hub::{self, RepoKind};
use distill_eval_model::HubOptions;

use crate::error::{Error, Result};
use dataset::{load_file, load_parquet_files, select_split_files, DataOptions, Dataset};

/// Reads a whole text file; invalid UTF-8 is an error naming the first bad line.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(Error::read(path))?;
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..bad].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        Error::NotUtf8 {
            path: path.to_owned(),
            position: crate::location::Position::Line(line),
        }
    })
}

/// The prefix of hub dataset addresses.
pub const HF_DATASETS: &str = "hf://datasets/";

/// A labelled dataset to read: a local file or `hf://datasets/ORG/NAME[@revision]`.
#[derive(Debug, Clone, Default)]
pub struct DataSpec {
    /// File path or hub address.
    pub source: String,
    /// Hub dataset subset (configuration).
    pub subset: Option<String>,
    /// Hub dataset split; `test` when not given.
    pub split: Option<String>,
    /// Field names and row limit.
    pub options: DataOptions,
}

impl DataSpec {
    /// Whether the data comes from the hub.
    pub fn is_hub(&self) -> bool {
        self.source.starts_with(HF_DATASETS)
    }

    /// The local file, when the data is one.
    pub fn local_file(&self) -> Option<PathBuf> {
        (!self.is_hub()).then(|| PathBuf::from(&self.source))
    }
}

/// Reads a dataset from disk or from the hub (through the shared cache).
#[tracing::instrument(skip_all, fields(source = %spec.source))]
pub fn open_dataset(spec: &DataSpec, hub_opts: &HubOptions) -> Result<Dataset> {
    if let Some(rest) = spec.source.strip_prefix(HF_DATASETS) {
        let (repo_id, revision) =
            distill_eval_model::parse_hub_id(rest).map_err(|e| Error::InvalidDataset {
                spec: spec.source.clone(),
                reason: match e {
                    distill_eval_model::Error::InvalidSource { reason, .. } => reason.to_owned(),
                    other => other.to_string(),
                },
            })?;
        let repo = hub::open(&repo_id, revision.as_deref(), RepoKind::Dataset, hub_opts)?;
        let files = repo.list_files()?;
        let split = spec.split.as_deref().unwrap_or("test");
        let chosen = select_split_files(&files, spec.subset.as_deref(), split)?;
        let paths = chosen
            .iter()
            .map(|f| repo.get(f).map_err(Error::from))
            .collect::<Result<Vec<PathBuf>>>()?;
        load_parquet_files(&spec.source, &paths, &spec.options)
    } else {
        load_file(Path::new(&spec.source), &spec.options)
    }
}
