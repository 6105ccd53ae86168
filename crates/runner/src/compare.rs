//! `distill-eval compare`: one teacher pass, several students, and which of them are worth
//! considering (the Pareto frontier of accuracy against KL).

use std::path::PathBuf;

use candle::Device;
use distill_eval_metrics::{Evaluation, Verdict};
use distill_eval_model::ModelSource;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::report::{DatasetInfo, Report, SCHEMA_VERSION};
use crate::run::{
    dataset_info, model_logits, open_dataset, student_report, teacher_for, Setup, TeacherSide,
    TeacherSource,
};

/// What `compare` needs.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// The teacher checkpoint or its saved logits.
    pub teacher: TeacherSource,
    /// The students, in the order to show them.
    pub students: Vec<ModelSource>,
    /// Data, loading and metrics.
    pub setup: Setup,
}

/// The teacher's side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct TeacherSummary {
    /// Model id or logits file.
    pub id: String,
    /// Accuracy on the data.
    pub accuracy: f64,
    /// Weighted F1.
    pub f1: f64,
    /// Expected calibration error.
    pub ece: f64,
    /// Parameters, when a model was run.
    pub parameters: Option<usize>,
    /// Throughput, when a model was run.
    pub examples_per_second: Option<f64>,
}

impl TeacherSummary {
    /// The teacher's figures from one of its evaluations (they are the same in every one).
    pub fn new(teacher: &TeacherSide, e: &Evaluation) -> Self {
        let run = teacher.run.as_ref();
        TeacherSummary {
            id: run
                .map(|r| r.info.id.clone())
                .or_else(|| teacher.file.clone())
                .unwrap_or_default(),
            accuracy: e.teacher.accuracy,
            f1: e.teacher.f1,
            ece: e.teacher.ece,
            parameters: run.map(|r| r.info.parameters),
            examples_per_second: run.map(|r| r.examples_per_second),
        }
    }
}

/// One student's row.
#[derive(Debug, Clone, Serialize)]
pub struct StudentSummary {
    /// Model id as given.
    pub id: String,
    /// Resolved hub revision.
    pub revision: Option<String>,
    /// HF class.
    pub architecture: String,
    /// Parameters.
    pub parameters: usize,
    /// Throughput of its pass.
    pub examples_per_second: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// Accuracy / teacher accuracy.
    pub accuracy_retention: Option<f64>,
    /// Weighted F1.
    pub f1: f64,
    /// Mean KL(teacher || student).
    pub kl_divergence: f64,
    /// Top-1 agreement with the teacher.
    pub agreement: f64,
    /// The student's ECE.
    pub ece: f64,
    /// Verdict.
    pub verdict: Verdict,
    /// No other student is at least as accurate with at most the same KL (and better in one).
    pub pareto_optimal: bool,
}

/// A comparison of several students against one teacher.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Version of this layout.
    pub schema_version: u32,
    /// Temperature used.
    pub temperature: f64,
    /// The teacher.
    pub teacher: TeacherSummary,
    /// The students, in the order given.
    pub students: Vec<StudentSummary>,
    /// The data.
    pub dataset: DatasetInfo,
    /// The quality gates' outcome over every student, when gates were set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<crate::gate::GateResult>,
    /// Each student's full report (for the HTML report and gates).
    #[serde(skip)]
    pub reports: Vec<Report>,
}

/// For points `(accuracy, kl)`, whether each is on the Pareto frontier (higher accuracy and lower
/// KL are better). Equal points are all kept; NaN KL is never optimal.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(acc, kl)| {
            kl.is_finite()
                && !points
                    .iter()
                    .any(|&(a, k)| k.is_finite() && a >= acc && k <= kl && (a > acc || k < kl))
        })
        .collect()
}

/// Expands `dir/*`-style patterns among `specs` into the matching checkpoint folders (those
/// holding a config.json), sorted; other specs are kept as given.
pub fn expand_students(specs: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for spec in specs {
        if !spec.contains(['*', '?', '[']) {
            out.push(spec.clone());
            continue;
        }
        let paths = glob::glob(spec).map_err(|e| Error::Pattern {
            pattern: spec.clone(),
            reason: e.msg.to_owned(),
        })?;
        let mut found: Vec<PathBuf> = paths
            .filter_map(std::result::Result::ok)
            .filter(|p| p.join("config.json").is_file())
            .collect();
        if found.is_empty() {
            return Err(Error::NoCheckpoints {
                pattern: spec.clone(),
            });
        }
        found.sort();
        out.extend(found.into_iter().map(|p| p.display().to_string()));
    }
    Ok(out)
}

/// Runs the teacher once and each student once, and compares them.
pub fn compare(opts: &CompareOptions, device: &Device) -> Result<Comparison> {
    if opts.students.is_empty() {
        return Err(Error::NoStudents);
    }
    let setup = &opts.setup;
    let data = open_dataset(&setup.data, &setup.load.hub)?;
    let (teacher, mut ran) = teacher_for(&opts.teacher, &opts.students[0], &data, device, setup)?;
    let mut reports = Vec::with_capacity(opts.students.len());
    for src in &opts.students {
        let student = match ran.take() {
            Some(s) => s,
            None => model_logits(src, "student", &data, device, &setup.load, &setup.pass)?,
        };
        let mut report = student_report(&teacher, &student, &data, &setup.metrics, &setup.extras)?;
        report.dataset = Some(dataset_info(&setup.data, &data));
        reports.push(report);
    }
    let points: Vec<(f64, f64)> = reports
        .iter()
        .map(|r| (r.evaluation.student.accuracy, r.evaluation.kl_divergence))
        .collect();
    let front = pareto_front(&points);
    let students = reports
        .iter()
        .zip(front)
        .map(|(r, pareto_optimal)| {
            let e = &r.evaluation;
            let run = r.student_model.as_ref();
            StudentSummary {
                id: run.map(|m| m.info.id.clone()).unwrap_or_default(),
                revision: run.and_then(|m| m.info.revision.clone()),
                architecture: run.map(|m| m.info.architecture.clone()).unwrap_or_default(),
                parameters: run.map_or(0, |m| m.info.parameters),
                examples_per_second: run.map_or(f64::NAN, |m| m.examples_per_second),
                accuracy: e.student.accuracy,
                accuracy_retention: e.accuracy_retention,
                f1: e.student.f1,
                kl_divergence: e.kl_divergence,
                agreement: e.agreement,
                ece: e.student.ece,
                verdict: e.verdict,
                pareto_optimal,
            }
        })
        .collect();
    let teacher_summary = TeacherSummary::new(&teacher, &reports[0].evaluation);
    Ok(Comparison {
        schema_version: SCHEMA_VERSION,
        temperature: setup.metrics.temperature,
        teacher: teacher_summary,
        students,
        dataset: dataset_info(&setup.data, &data),
        reports,
        gate: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_front_by_hand() {
        // a: best accuracy; b: lowest KL; c: dominated by a; d: equal to b (kept);
        // e: worse than b on both; f: undefined KL.
        let pts = [
            (0.95, 0.20),     // a
            (0.90, 0.05),     // b
            (0.94, 0.25),     // c
            (0.90, 0.05),     // d
            (0.89, 0.06),     // e
            (0.99, f64::NAN), // f
        ];
        assert_eq!(
            pareto_front(&pts),
            vec![true, true, false, true, false, false]
        );
        assert_eq!(pareto_front(&[(0.5, 0.5)]), vec![true]);
        assert!(pareto_front(&[]).is_empty());
    }

    #[test]
    fn patterns_expand_to_checkpoint_folders() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b", "a", "not_a_model"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::fs::write(dir.path().join("a/config.json"), "{}").unwrap();
        std::fs::write(dir.path().join("b/config.json"), "{}").unwrap();
        let pattern = format!("{}/*", dir.path().display());
        let got = expand_students(&[pattern, "org/model".into()]).unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[0].ends_with("/a") && got[1].ends_with("/b"));
        assert_eq!(got[2], "org/model");
        let none = format!("{}/zzz*", dir.path().display());
        assert!(expand_students(&[none]).is_err());
    }
}
