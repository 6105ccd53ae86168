//! The one loop every evaluation command runs: open the examples once, compute the teacher's
//! side once, evaluate each student against it. What a "side" is, and how a student is judged,
//! is the business of a task [`Family`] (classification, causal LM, ...).

use std::path::PathBuf;

use candle::Device;
use distill_eval_metrics::MetricsConfig;
use distill_eval_model::{LoadOptions, ModelSource};

use super::pass::PassOptions;
use super::DatasetInfo;
use crate::error::{Error, Result};
use crate::input::dataset::Dataset;
use crate::input::{open_dataset, DataSpec};

/// Where the teacher's outputs come from.
#[derive(Debug, Clone)]
pub enum TeacherSource {
    /// Run this checkpoint.
    Model(ModelSource),
    /// Read outputs saved earlier (e.g. by `distill-eval logits`), in the data's row order.
    Logits {
        /// The file (`FILE` or `FILE:tensor` for safetensors).
        spec: String,
        /// The class names of the columns; when `None`, the names the file carries
        /// (safetensors written by `distill-eval logits`), else the student's order.
        labels: Option<Vec<String>>,
    },
}

impl TeacherSource {
    /// The saved-outputs file, when the teacher is read from one.
    pub fn file(&self) -> Option<&str> {
        match self {
            Self::Logits { spec, .. } => Some(spec),
            Self::Model(_) => None,
        }
    }
}

/// Where a student's outputs come from.
#[derive(Debug, Clone)]
pub enum StudentSource {
    /// Run this checkpoint.
    Model(ModelSource),
    /// Read outputs saved earlier, in the same class order as the teacher's.
    Logits(String),
}

/// One student to evaluate.
#[derive(Debug, Clone)]
pub struct StudentSpec {
    /// Its checkpoint or saved outputs.
    pub source: StudentSource,
    /// Its name on the progress bar (`student`, `step 500`).
    pub role: String,
}

impl StudentSpec {
    /// A checkpoint shown as `role`.
    pub fn model(source: ModelSource, role: impl Into<String>) -> Self {
        Self {
            source: StudentSource::Model(source),
            role: role.into(),
        }
    }
}

/// The optional analyses on top of the statistics.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Bootstrap resamples: `None` for the default (1000 below 100,000 examples, else none),
    /// `Some(0)` for none.
    pub resamples: Option<usize>,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Fit a temperature for each model (two-fold) and report calibration before and after.
    pub calibrate: bool,
}

/// How causal LMs are scored.
#[derive(Debug, Clone)]
pub struct LmOptions {
    /// Window length in tokens (default: the teacher's maximum positions, capped at 2048).
    pub context: Option<usize>,
    /// Tokens a window advances (default: half the window).
    pub stride: Option<usize>,
    /// The k of the top-k overlap.
    pub top_k: usize,
    /// Multiple-choice questions (JSONL of `question`, `choices`, `answer`).
    pub choices: Option<PathBuf>,
    /// How documents are cut into scored windows.
    pub chunking: Chunking,
}

/// How a causal LM's documents are cut into what one forward pass sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Chunking {
    /// Issue 7's windows: each document alone, overlapping windows, every token scored once.
    #[default]
    Windows,
    /// llama.cpp's `llama-perplexity`: the documents' tokens as one stream, cut into chunks of
    /// `--context` tokens (the first replaced by BOS when the tokenizer adds one), only the
    /// second half of each chunk scored; the tail shorter than a chunk is dropped.
    LlamaCpp,
}

impl std::str::FromStr for Chunking {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "windows" => Ok(Self::Windows),
            "llama-cpp" => Ok(Self::LlamaCpp),
            other => Err(format!(
                "unknown chunking {other}: use windows or llama-cpp"
            )),
        }
    }
}

impl std::fmt::Display for Chunking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Windows => "windows",
            Self::LlamaCpp => "llama-cpp",
        })
    }
}

impl Default for LmOptions {
    fn default() -> Self {
        Self {
            context: None,
            stride: None,
            top_k: 5,
            choices: None,
            chunking: Chunking::Windows,
        }
    }
}

/// What every evaluation command shares: the examples, how models load and run, and what to
/// compute.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The labelled data (`None` when scoring saved outputs against a labels file).
    pub data: Option<DataSpec>,
    /// The labels file, when scoring saved outputs.
    pub labels: Option<PathBuf>,
    /// Dtype, hub access and truncation.
    pub load: LoadOptions,
    /// Batch size and progress.
    pub pass: PassOptions,
    /// Temperature, bins and thresholds.
    pub metrics: MetricsConfig,
    /// Bootstrap and calibration.
    pub extras: Extras,
    /// Windows, top-k and multiple choice for causal LMs.
    pub lm: LmOptions,
}

/// The examples of a session: a dataset models run over, or a labels file for saved outputs.
#[derive(Debug)]
pub enum Examples {
    /// A labelled dataset, as read.
    Dataset {
        /// How it was asked for.
        spec: DataSpec,
        /// The rows.
        data: Box<Dataset>,
    },
    /// Gold labels for saved outputs.
    LabelFile(PathBuf),
}

/// A task family: how its models' outputs are produced over the examples and how a student is
/// judged against the teacher. Implemented by each sibling module of `crate::family`.
pub trait Family {
    /// The teacher's side, computed once and shared by every student.
    type Teacher;
    /// One evaluated student.
    type Student;

    /// Computes the teacher's side. A family may need to run `first` (the first student) before
    /// it (a logits file whose classes default to that student's label order); it then returns
    /// that student's evaluation as well, so that no model runs twice.
    fn teacher(
        &self,
        session: &Session,
        teacher: &TeacherSource,
        first: &StudentSpec,
    ) -> Result<(Self::Teacher, Option<Self::Student>)>;

    /// Evaluates one student against the teacher's side.
    fn student(
        &self,
        session: &Session,
        teacher: &Self::Teacher,
        student: &StudentSpec,
    ) -> Result<Self::Student>;

    /// The teacher side once, then every student against it, in order. A family whose
    /// teacher outputs are too large to keep (a causal LM's logits) runs the teacher and all
    /// students in lockstep instead.
    fn evaluate_all(
        &self,
        session: &Session,
        teacher: &TeacherSource,
        students: &[StudentSpec],
    ) -> Result<(Self::Teacher, Vec<Self::Student>)> {
        let first = students.first().ok_or(Error::NoStudents)?;
        let (side, mut ran) = self.teacher(session, teacher, first)?;
        let mut out = Vec::with_capacity(students.len());
        for spec in students {
            out.push(match ran.take() {
                Some(done) => done,
                None => self.student(session, &side, spec)?,
            });
        }
        Ok((side, out))
    }
}

/// The examples, the device and the options of one command.
#[derive(Debug)]
pub struct Session {
    /// What is evaluated.
    pub examples: Examples,
    /// Where models run and outputs live.
    pub device: Device,
    /// The options.
    pub setup: Setup,
}

impl Session {
    /// Opens the examples (reads the dataset, or checks the labels file is given).
    pub fn open(setup: Setup, device: Device) -> Result<Self> {
        let examples = match (&setup.data, &setup.labels) {
            (Some(spec), _) => Examples::Dataset {
                data: Box::new(open_dataset(spec, &setup.load.hub)?),
                spec: spec.clone(),
            },
            (None, Some(path)) => Examples::LabelFile(path.clone()),
            (None, None) => return Err(Error::NoStudents),
        };
        Ok(Self {
            examples,
            device,
            setup,
        })
    }

    /// The dataset, when the examples are one.
    pub fn dataset(&self) -> Option<&Dataset> {
        match &self.examples {
            Examples::Dataset { data, .. } => Some(data),
            Examples::LabelFile(_) => None,
        }
    }

    /// What the report says about the data.
    pub fn dataset_info(&self) -> Option<DatasetInfo> {
        match &self.examples {
            Examples::Dataset { spec, data } => Some(DatasetInfo::new(spec, data)),
            Examples::LabelFile(_) => None,
        }
    }

    /// Runs the teacher side once and evaluates every student against it, in order.
    pub fn evaluate<F: Family>(
        &self,
        family: &F,
        teacher: &TeacherSource,
        students: &[StudentSpec],
    ) -> Result<(F::Teacher, Vec<F::Student>)> {
        family.evaluate_all(self, teacher, students)
    }
}
