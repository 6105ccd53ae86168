//! `distill-eval score`: the report over logits saved by any framework.

use std::path::PathBuf;

use candle::Device;
use distill_eval_metrics::MetricsConfig;

use crate::error::Result;
use crate::evaluate::{evaluate, extras, Extras, Origins};
use crate::io::{read_labels, read_logits};
use crate::report::{LogitInputs, Report, EXAMPLES_SHOWN};

/// What to score.
#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// Teacher logits: `.npy`, `.safetensors` (optionally `FILE:name`) or JSONL.
    pub teacher_logits: String,
    /// Student logits, in the same formats and the same class order.
    pub student_logits: String,
    /// Labels: `.npy` of integers, JSONL or whitespace-separated integers.
    pub labels: PathBuf,
    /// Temperature, bins and verdict thresholds.
    pub metrics: MetricsConfig,
    /// Bootstrap and calibration.
    pub extras: Extras,
}

/// Reads the three files, evaluates on `device` and returns the report.
#[tracing::instrument(skip_all)]
pub fn score(opts: &ScoreOptions, device: &Device) -> Result<Report> {
    let teacher = read_logits(&opts.teacher_logits, device)?;
    let student = read_logits(&opts.student_logits, device)?;
    let labels = read_labels(&opts.labels)?;
    let origins = Origins {
        teacher: opts.teacher_logits.clone(),
        student: opts.student_logits.clone(),
        labels: opts.labels.display().to_string(),
    };
    let evaluation = evaluate(&teacher, &student, &labels, &opts.metrics, &origins)?;
    let (bootstrap, calibration) = extras(
        &teacher,
        &student,
        &labels,
        &evaluation,
        &opts.metrics,
        &opts.extras,
    )?;
    let class_names = (0..evaluation.num_classes).map(|c| c.to_string()).collect();
    let mut report = Report::new(evaluation, class_names, opts.metrics.thresholds.clone());
    report.inputs = Some(LogitInputs {
        teacher_logits: opts.teacher_logits.clone(),
        student_logits: opts.student_logits.clone(),
        labels: Some(opts.labels.display().to_string()),
    });
    report.bootstrap = bootstrap;
    report.calibration = calibration;
    report.attach_details(EXAMPLES_SHOWN);
    Ok(report)
}
