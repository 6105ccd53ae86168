//! The one `Report` value every renderer reads: the evaluation plus what was evaluated.
//!
//! Renderers (text, Markdown, JSON, HTML) only format this value; they never recompute a statistic.

use distill_eval_metrics::{Evaluation, Thresholds};
use distill_eval_model::ModelInfo;
use serde::Serialize;

/// Version of the JSON layout; bumped whenever a key changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Examples listed in each "where the student diverges" table.
pub const EXAMPLES_SHOWN: usize = 12;

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of this layout ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Version of the tool that wrote it.
    pub tool_version: String,
    /// The statistics; flattened so that `n_examples`, `teacher`, `student`, `verdict`... are
    /// top-level keys.
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// Class names in the order of the teacher's label ids (`"0"`, `"1"`... when unknown).
    pub class_names: Vec<String>,
    /// The thresholds the verdict was decided with.
    pub thresholds: Thresholds,
    /// The teacher checkpoint and its pass, when a model was run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teacher_model: Option<ModelRun>,
    /// The student checkpoint and its pass, when a model was run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_model: Option<ModelRun>,
    /// The labelled data, when a dataset was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetInfo>,
    /// The saved-logit files, when scoring files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<LogitInputs>,
    /// The quality gates' outcome, when gates were set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<crate::gate::GateResult>,
    /// Bootstrap intervals of the headline figures, when computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<distill_eval_metrics::Bootstrap>,
    /// Temperature scaling of both models, with `--calibrate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::evaluate::Calibrated>,
    /// Where the student diverges: the examples with the largest KL and the only-student-wrong
    /// ones, with their texts and both models' answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergent_examples: Option<crate::details::Divergence>,
    /// Confidence and KL histograms, for the HTML report.
    #[serde(skip)]
    pub histograms: Option<crate::details::Histograms>,
    /// Per-example texts, in input order, for the reports that show examples.
    #[serde(skip)]
    pub texts: Option<Vec<ExampleText>>,
}

/// A model's identity and the cost of its pass over the data.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRun {
    /// Where the model came from and how it was built.
    #[serde(flatten)]
    pub info: ModelInfo,
    /// Wall-clock seconds of the pass (tokenization, batching and forward).
    pub seconds: f64,
    /// Examples per second of the pass.
    pub examples_per_second: f64,
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

/// The saved-logit files scored by `distill-eval score`.
#[derive(Debug, Clone, Serialize)]
pub struct LogitInputs {
    /// Teacher logits file.
    pub teacher_logits: String,
    /// Student logits file.
    pub student_logits: String,
    /// Labels file, when the labels came from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
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

impl Report {
    /// A report over an evaluation, with nothing yet said about its inputs.
    pub fn new(evaluation: Evaluation, class_names: Vec<String>, thresholds: Thresholds) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            evaluation,
            class_names,
            thresholds,
            teacher_model: None,
            student_model: None,
            dataset: None,
            inputs: None,
            texts: None,
            gate: None,
            divergent_examples: None,
            histograms: None,
            bootstrap: None,
            calibration: None,
        }
    }

    /// Computes what the HTML report shows beyond the statistics (call once the texts, if any,
    /// are attached): the `k` most divergent examples and the histograms.
    pub fn attach_details(&mut self, k: usize) {
        self.divergent_examples = Some(crate::details::divergence(
            &self.evaluation,
            &self.class_names,
            self.texts.as_deref(),
            k,
        ));
        self.histograms = Some(crate::details::histograms(&self.evaluation));
    }

    /// Name of class `id`, falling back to the id itself.
    pub fn class_name(&self, id: usize) -> String {
        self.class_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}
