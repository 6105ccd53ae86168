//! `distill-eval score`: the report over outputs saved by any framework.

use std::path::PathBuf;

use candle::Device;

use crate::engine::{Session, Setup, StudentSource, StudentSpec, TeacherSource};
use crate::error::Result;
use crate::family::{self, Task, TaskOptions};
use crate::report::gate::Gates;
use crate::report::Report;

/// What to score. The families read their files from the same three places: classification
/// and regression a teacher file, a student file and a labels (targets) file; ranking and
/// generation one records file in all three; detection the teacher's and the student's COCO
/// results and the COCO ground truth as the labels.
#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// Teacher logits: `.npy`, `.safetensors` (optionally `FILE:name`) or JSONL.
    pub teacher_logits: String,
    /// Student logits, in the same formats and the same class order.
    pub student_logits: String,
    /// Metrics, bootstrap and calibration (`setup.labels` is the labels file).
    pub setup: Setup,
    /// The quality gates.
    pub gates: Gates,
    /// The family the outputs are scored by.
    pub task: Task,
    /// The family's own fields and settings.
    pub options: TaskOptions,
}

/// Reads the files, evaluates on `device` and returns the report.
#[tracing::instrument(skip_all)]
pub fn score(opts: &ScoreOptions, device: &Device) -> Result<Report> {
    let session = Session::open(opts.setup.clone(), device.clone())?;
    let teacher = TeacherSource::Logits {
        spec: opts.teacher_logits.clone(),
        labels: None,
    };
    let student = StudentSpec {
        source: StudentSource::Logits(opts.student_logits.clone()),
        role: "student".to_owned(),
    };
    let mut reports = family::evaluate(
        opts.task,
        &session,
        &teacher,
        &[student],
        &opts.gates,
        &opts.options,
    )?;
    Ok(reports.remove(0))
}

/// The labels file of a score run (kept in the setup, where the session reads it).
pub fn labels_setup(mut setup: Setup, labels: PathBuf) -> Setup {
    setup.data = None;
    setup.labels = Some(labels);
    setup
}
