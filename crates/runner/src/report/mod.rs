//! The report layer: the one [`Report`] value every renderer reads, built whole by
//! [`ReportBuilder`]; what a task family contributes to it ([`Findings`]); the summaries of
//! `compare` and `track`; and the quality gates.
//!
//! A report is the family's findings (flattened into the JSON, so `n_examples`, `teacher`,
//! `student`, `verdict`... are top-level keys) plus what was evaluated: the models, the data, the
//! saved-output files, and the gates' outcome.

pub mod bench;
pub mod compare;
pub mod gate;
pub mod track;

use std::io::{self, Write};

use distill_eval_metrics::Verdict;
use serde::Serialize;

use crate::engine::{DatasetInfo, ModelRun};
use gate::{GateFigure, GateKind, GateResult, Gates};

/// Version of the JSON layout; bumped whenever a key changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// How the human-readable forms are drawn.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// ANSI colours and bold in the terminal form.
    pub color: bool,
}

/// How a figure is printed in tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureFormat {
    /// Four decimals.
    Decimal,
    /// A fraction as a percentage with one decimal.
    Percent,
}

/// One figure a family reports per student (or for the teacher) in summaries.
#[derive(Debug, Clone, Copy)]
pub struct FigureSpec {
    /// JSON key, e.g. `accuracy_retention`.
    pub key: &'static str,
    /// Column header, e.g. `retention`.
    pub column: &'static str,
    /// How tables print it.
    pub format: FigureFormat,
}

/// One series of the `track` trend.
#[derive(Debug, Clone, Copy)]
pub struct TrendSpec {
    /// JSON key of the figure.
    pub key: &'static str,
    /// Short name (sparkline label, chart title), e.g. `KL`.
    pub name: &'static str,
    /// Legend of the chart, e.g. `KL(teacher ‖ student)`.
    pub legend: &'static str,
    /// Line colour in the HTML chart.
    pub color: &'static str,
    /// Plotted against the right-hand axis.
    pub right_axis: bool,
}

/// What a family shows when several students (or checkpoints) are summarised side by side.
#[derive(Debug, Clone, Copy)]
pub struct SummarySpec {
    /// Each student's figures, in JSON order.
    pub figures: &'static [FigureSpec],
    /// Keys of `figures` shown in `compare`'s table, in order.
    pub compare_columns: &'static [&'static str],
    /// Keys of `figures` shown in `track`'s table, in order.
    pub track_columns: &'static [&'static str],
    /// The teacher's figures, in JSON order (the first is shown in headings).
    pub teacher: &'static [FigureSpec],
    /// The figure where higher is better (Pareto frontier, stalling checkpoints).
    pub quality: &'static str,
    /// The figure where lower is better (Pareto frontier, drifting checkpoints).
    pub divergence: &'static str,
    /// The short names of `quality` and `divergence`, e.g. `accuracy` and `KL`.
    pub names: (&'static str, &'static str),
    /// Why the Pareto frontier matters, in words.
    pub pareto_note: &'static str,
    /// The scatter plot's title and axis labels (x: divergence, y: quality).
    pub scatter: (&'static str, &'static str, &'static str),
    /// The `track` series: sparklines and the chart.
    pub trend: &'static [TrendSpec],
}

/// What a task family contributes to a report: its statistics (serialised into the JSON), its
/// verdict, the figures summaries and gates read, and its sections in every human format.
pub trait Findings: erased_serde::Serialize + std::fmt::Debug + Send + Sync {
    /// The verdict.
    fn verdict(&self) -> Verdict;
    /// What summaries of this family show.
    fn summary(&self) -> &'static SummarySpec;
    /// A student figure of [`SummarySpec::figures`] by key (`None`: undefined).
    fn figure(&self, key: &str) -> Option<f64>;
    /// A teacher figure of [`SummarySpec::teacher`] by key.
    fn teacher_figure(&self, key: &str) -> Option<f64>;
    /// The figure a gate judges, when this family has it.
    fn gate_figure(&self, gate: GateKind) -> Option<GateFigure>;
    /// The terminal form of the whole report.
    fn text(&self, report: &Report, out: &mut dyn Write, style: Style) -> io::Result<()>;
    /// The Markdown form.
    fn markdown(&self, report: &Report, out: &mut dyn Write) -> io::Result<()>;
    /// The self-contained HTML form.
    fn html(&self, report: &Report, out: &mut dyn Write) -> io::Result<()>;
}

erased_serde::serialize_trait_object!(Findings);

/// Everything a report shows.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Version of this layout ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Version of the tool that wrote it.
    pub tool_version: String,
    /// The family's statistics, flattened.
    #[serde(flatten)]
    pub findings: Box<dyn Findings>,
    /// The teacher checkpoint and its pass, when a model was run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teacher_model: Option<ModelRun>,
    /// The student checkpoint and its pass, when a model was run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_model: Option<ModelRun>,
    /// The labelled data, when a dataset was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetInfo>,
    /// The saved-output files, when some side was read from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<LogitInputs>,
    /// The quality gates' outcome, when gates were set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateResult>,
}

/// The saved-output files a report was computed from.
#[derive(Debug, Clone, Serialize)]
pub struct LogitInputs {
    /// Teacher logits file.
    pub teacher_logits: String,
    /// Student logits file (empty when the student was a model).
    pub student_logits: String,
    /// Labels file, when the labels came from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
}

/// Builds a [`Report`] in one go.
#[derive(Debug)]
pub struct ReportBuilder {
    report: Report,
}

impl ReportBuilder {
    /// A report of `findings`, nothing yet said about its inputs.
    pub fn new(findings: Box<dyn Findings>) -> Self {
        Self {
            report: Report {
                schema_version: SCHEMA_VERSION,
                tool_version: env!("CARGO_PKG_VERSION").to_owned(),
                findings,
                teacher_model: None,
                student_model: None,
                dataset: None,
                inputs: None,
                gate: None,
            },
        }
    }

    /// The models that were run (either may be absent: saved outputs).
    pub fn models(mut self, teacher: Option<ModelRun>, student: Option<ModelRun>) -> Self {
        self.report.teacher_model = teacher;
        self.report.student_model = student;
        self
    }

    /// The dataset, when one was read.
    pub fn dataset(mut self, dataset: Option<DatasetInfo>) -> Self {
        self.report.dataset = dataset;
        self
    }

    /// The saved-output files, when some side was read from one.
    pub fn inputs(mut self, inputs: Option<LogitInputs>) -> Self {
        self.report.inputs = inputs;
        self
    }

    /// The report, with the gates' outcome when any gate is set.
    pub fn build(mut self, gates: &Gates) -> Report {
        self.report.gate = gates.judge(self.report.findings.as_ref());
        self.report
    }
}

impl Report {
    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.findings.verdict()
    }

    /// Why the gates failed (empty when they passed or none was set).
    pub fn gate_failures(&self) -> &[String] {
        self.gate.as_ref().map_or(&[], |g| g.failures.as_slice())
    }
}
