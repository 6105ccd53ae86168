//! `distill-eval track`: a student's checkpoints over training, against one teacher pass, and
//! where the student starts drifting from the teacher without gaining accuracy.

use std::path::{Path, PathBuf};

use candle::Device;
use distill_eval_metrics::Verdict;
use distill_eval_model::ModelSource;
use serde::Serialize;

use crate::compare::TeacherSummary;
use crate::error::{Error, Result};
use crate::report::{DatasetInfo, Report, SCHEMA_VERSION};
use crate::run::{
    dataset_info, model_logits, open_dataset, student_report, teacher_for, Setup, TeacherSource,
};

/// Accuracy gains below this (absolute) count as stalling.
pub const STALL: f64 = 0.002;
/// KL increases above this fraction count as rising.
pub const RISE: f64 = 0.01;

/// What `track` needs.
#[derive(Debug, Clone)]
pub struct TrackOptions {
    /// The teacher checkpoint or its saved logits.
    pub teacher: TeacherSource,
    /// Checkpoint folders or patterns such as `out/checkpoint-*`.
    pub checkpoints: Vec<String>,
    /// Data, loading and metrics.
    pub setup: Setup,
}

/// One checkpoint's figures.
#[derive(Debug, Clone, Serialize)]
pub struct TrackPoint {
    /// Training step: `global_step` of trainer_state.json, else the last number in the folder name.
    pub step: u64,
    /// The checkpoint folder.
    pub path: String,
    /// Accuracy.
    pub accuracy: f64,
    /// Accuracy / teacher accuracy.
    pub accuracy_retention: Option<f64>,
    /// Mean KL(teacher || student).
    pub kl_divergence: f64,
    /// Student ECE.
    pub ece: f64,
    /// Top-1 agreement.
    pub agreement: f64,
    /// Verdict.
    pub verdict: Verdict,
}

/// A step where KL rises while accuracy stalls.
#[derive(Debug, Clone, Serialize)]
pub struct TrackFlag {
    /// The step where it was seen.
    pub step: u64,
    /// The step before it.
    pub previous_step: u64,
    /// What happened, in words.
    pub message: String,
}

/// The checkpoints' trend.
#[derive(Debug, Clone, Serialize)]
pub struct Track {
    /// Version of this layout.
    pub schema_version: u32,
    /// The teacher.
    pub teacher: TeacherSummary,
    /// Checkpoints by step.
    pub points: Vec<TrackPoint>,
    /// Where KL starts rising while accuracy stalls.
    pub flags: Vec<TrackFlag>,
    /// The step with the best accuracy (lowest KL among equals).
    pub best_step: u64,
    /// The data.
    pub dataset: DatasetInfo,
    /// The quality gates' outcome on the latest checkpoint, when gates were set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<crate::gate::GateResult>,
    /// Each checkpoint's full report, by step.
    #[serde(skip)]
    pub reports: Vec<Report>,
}

/// The training step of a checkpoint folder.
pub fn checkpoint_step(dir: &Path) -> Option<u64> {
    if let Ok(text) = std::fs::read_to_string(dir.join("trainer_state.json")) {
        if let Some(step) = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("global_step").and_then(serde_json::Value::as_u64))
        {
            return Some(step);
        }
    }
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let digits: String = name
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// Checkpoint folders from folders and patterns, with their steps, sorted by step.
pub fn find_checkpoints(specs: &[String]) -> Result<Vec<(u64, PathBuf)>> {
    let dirs = crate::compare::expand_students(specs)?;
    let mut out = Vec::with_capacity(dirs.len());
    for d in dirs {
        let path = PathBuf::from(&d);
        let step = checkpoint_step(&path).ok_or_else(|| Error::NoStep { path: path.clone() })?;
        out.push((step, path));
    }
    out.sort();
    Ok(out)
}

/// Flags each step where KL rises by more than [`RISE`] while accuracy gains less than [`STALL`].
pub fn flags(points: &[TrackPoint]) -> Vec<TrackFlag> {
    points
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (&w[0], &w[1]);
            let rising = b.kl_divergence > a.kl_divergence * (1.0 + RISE);
            let stalling = b.accuracy - a.accuracy < STALL;
            (rising && stalling).then(|| TrackFlag {
                step: b.step,
                previous_step: a.step,
                message: format!(
                    "from step {} to {}, KL rises ({:.4} -> {:.4}) while accuracy stalls \
                     ({:.4} -> {:.4}): the student drifts from the teacher without gaining; \
                     consider the checkpoint at step {} or stopping earlier",
                    a.step,
                    b.step,
                    a.kl_divergence,
                    b.kl_divergence,
                    a.accuracy,
                    b.accuracy,
                    a.step
                ),
            })
        })
        .collect()
}

/// Evaluates every checkpoint against one teacher pass.
pub fn track(opts: &TrackOptions, device: &Device) -> Result<Track> {
    let checkpoints = find_checkpoints(&opts.checkpoints)?;
    if checkpoints.is_empty() {
        return Err(Error::NoStudents);
    }
    let setup = &opts.setup;
    let data = open_dataset(&setup.data, &setup.load.hub)?;
    let sources: Vec<ModelSource> = checkpoints
        .iter()
        .map(|(_, path)| ModelSource::Local(path.clone()))
        .collect();
    let (teacher, mut ran) = teacher_for(&opts.teacher, &sources[0], &data, device, setup)?;
    let mut reports = Vec::with_capacity(checkpoints.len());
    let mut points = Vec::with_capacity(checkpoints.len());
    for ((step, path), src) in checkpoints.iter().zip(&sources) {
        let role = format!("step {step}");
        let student = match ran.take() {
            Some(s) => s,
            None => model_logits(src, &role, &data, device, &setup.load, &setup.pass)?,
        };
        let mut report = student_report(&teacher, &student, &data, &setup.metrics, &setup.extras)?;
        report.dataset = Some(dataset_info(&setup.data, &data));
        let e = &report.evaluation;
        points.push(TrackPoint {
            step: *step,
            path: path.display().to_string(),
            accuracy: e.student.accuracy,
            accuracy_retention: e.accuracy_retention,
            kl_divergence: e.kl_divergence,
            ece: e.student.ece,
            agreement: e.agreement,
            verdict: e.verdict,
        });
        reports.push(report);
    }
    let best_step = points
        .iter()
        .max_by(|a, b| {
            a.accuracy
                .total_cmp(&b.accuracy)
                .then(b.kl_divergence.total_cmp(&a.kl_divergence))
        })
        .map_or(0, |p| p.step);
    Ok(Track {
        schema_version: SCHEMA_VERSION,
        teacher: TeacherSummary::new(&teacher, &reports[0].evaluation),
        flags: flags(&points),
        best_step,
        points,
        dataset: dataset_info(&setup.data, &data),
        reports,
        gate: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: u64, accuracy: f64, kl: f64) -> TrackPoint {
        TrackPoint {
            step,
            path: String::new(),
            accuracy,
            accuracy_retention: Some(accuracy),
            kl_divergence: kl,
            ece: 0.0,
            agreement: 1.0,
            verdict: Verdict::Good,
        }
    }

    #[test]
    fn flags_kl_rising_while_accuracy_stalls() {
        let pts = [
            point(100, 0.80, 0.30),
            point(200, 0.88, 0.20),  // improving
            point(300, 0.881, 0.22), // KL +10 %, accuracy +0.001: flag
            point(400, 0.90, 0.25),  // KL rises but accuracy gains: no flag
            point(500, 0.89, 0.25),  // accuracy drops, KL flat: no flag
        ];
        let f = flags(&pts);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].previous_step, f[0].step), (200, 300));
        assert!(f[0].message.contains("step 200"), "{}", f[0].message);
    }

    #[test]
    fn steps_come_from_trainer_state_or_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("checkpoint-1500");
        std::fs::create_dir(&a).unwrap();
        assert_eq!(checkpoint_step(&a), Some(1500));
        std::fs::write(a.join("trainer_state.json"), r#"{"global_step": 1499}"#).unwrap();
        assert_eq!(checkpoint_step(&a), Some(1499));
        let b = dir.path().join("epoch3-final");
        std::fs::create_dir(&b).unwrap();
        assert_eq!(checkpoint_step(&b), Some(3));
        let c = dir.path().join("final");
        std::fs::create_dir(&c).unwrap();
        assert_eq!(checkpoint_step(&c), None);
    }
}
