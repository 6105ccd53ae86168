//! The engine layer: one pass per model over the data (`pass`), label alignment (`align`), and
//! the [`Session`] every evaluation command runs: the data opened once, the teacher side
//! computed once, then each student evaluated against it by a task [`Family`].

pub mod align;
pub mod pass;
mod session;

use distill_eval_model::ModelInfo;
use serde::Serialize;

pub use session::{
    Chunking, Examples, Extras, Family, LmOptions, Session, Setup, StudentSource, StudentSpec,
    TeacherSource,
};

use crate::input::dataset::Dataset;
use crate::input::DataSpec;

/// A model's identity and the cost of its pass over the data.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRun {
    /// Where the model came from and how it was built.
    #[serde(flatten)]
    pub info: ModelInfo,
    /// Wall-clock seconds of the pass (tokenization, batching and forward).
    pub seconds: f64,
    /// Examples (documents, for a causal LM) per second of the pass.
    pub examples_per_second: f64,
    /// Tokens read per second, for a causal LM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_second: Option<f64>,
}

/// The labelled data a report was computed on.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    /// The file or `hf://datasets/...` address.
    pub source: String,
    /// The hub subset, when one was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    /// The hub split, when one was read (`null` for a file).
    pub split: Option<String>,
    /// Rows evaluated.
    pub rows: usize,
    /// Field holding the text.
    pub text_field: String,
    /// Field holding the second text of a pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_pair_field: Option<String>,
    /// Field holding the label.
    pub label_field: String,
}

impl DatasetInfo {
    /// Describes `data`, read as `spec` says.
    pub fn new(spec: &DataSpec, data: &Dataset) -> Self {
        let hub = spec.is_hub();
        DatasetInfo {
            source: data.source.clone(),
            subset: spec.subset.clone().filter(|_| hub),
            split: hub.then(|| spec.split.clone().unwrap_or_else(|| "test".to_owned())),
            rows: data.rows.len(),
            text_field: data.fields.text.clone(),
            text_pair_field: data.fields.text_pair.clone(),
            label_field: data.fields.label.clone(),
        }
    }
}

/// The input of one example, as shown next to its predictions.
#[derive(Debug, Clone, Serialize)]
pub struct ExampleText {
    /// The text.
    pub text: String,
    /// The second text of a pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
}

impl ExampleText {
    /// The texts of every row of `data`, in input order.
    pub fn all(data: &Dataset) -> Vec<Self> {
        data.rows
            .iter()
            .map(|r| ExampleText {
                text: r.text.clone(),
                pair: r.pair.clone(),
            })
            .collect()
    }
}
