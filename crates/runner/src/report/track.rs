//! `track`'s summary: a student's checkpoints over training against one teacher, and where the
//! student starts drifting from the teacher (its divergence rising) without gaining quality.

use serde::Serialize;

use super::compare::{Figures, TeacherSummary};
use super::gate::GateResult;
use super::{Report, SummarySpec, SCHEMA_VERSION};
use crate::engine::DatasetInfo;

/// Quality gains below this (absolute) count as stalling.
pub const STALL: f64 = 0.002;
/// Divergence increases above this fraction count as rising.
pub const RISE: f64 = 0.01;

/// One checkpoint's figures.
#[derive(Debug, Clone, Serialize)]
pub struct TrackPoint {
    /// Training step: `global_step` of trainer_state.json, else the last number in the folder name.
    pub step: u64,
    /// The checkpoint folder.
    pub path: String,
    /// The family's student figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Verdict.
    pub verdict: distill_eval_metrics::Verdict,
}

/// A step where the divergence rises while quality stalls.
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
#[derive(Debug, Serialize)]
pub struct Track {
    /// Version of this layout.
    pub schema_version: u32,
    /// The teacher.
    pub teacher: TeacherSummary,
    /// Checkpoints by step.
    pub points: Vec<TrackPoint>,
    /// Where the divergence starts rising while quality stalls.
    pub flags: Vec<TrackFlag>,
    /// The step with the best quality (lowest divergence among equals).
    pub best_step: u64,
    /// The data.
    pub dataset: DatasetInfo,
    /// The quality gates' outcome on the latest checkpoint, when gates were set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateResult>,
    /// What the family's summaries show.
    #[serde(skip)]
    pub spec: &'static SummarySpec,
    /// Each checkpoint's full report, by step.
    #[serde(skip)]
    pub reports: Vec<Report>,
}

/// Flags each step where the divergence rises by more than [`RISE`] while quality gains less
/// than [`STALL`].
pub fn flags(points: &[TrackPoint], spec: &SummarySpec) -> Vec<TrackFlag> {
    let (quality, divergence) = spec.names;
    points
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (&w[0], &w[1]);
            let (qa, qb) = (a.figures.value(spec.quality), b.figures.value(spec.quality));
            let (da, db) = (
                a.figures.value(spec.divergence),
                b.figures.value(spec.divergence),
            );
            let rising = db > da * (1.0 + RISE);
            let stalling = qb - qa < STALL;
            (rising && stalling).then(|| TrackFlag {
                step: b.step,
                previous_step: a.step,
                message: format!(
                    "from step {} to {}, {divergence} rises ({da:.4} -> {db:.4}) while \
                     {quality} stalls ({qa:.4} -> {qb:.4}): the student drifts from the teacher \
                     without gaining; consider the checkpoint at step {} or stopping earlier",
                    a.step, b.step, a.step
                ),
            })
        })
        .collect()
}

impl Track {
    /// The trend of `(step, folder, report)` checkpoints sorted by step (at least one);
    /// `teacher_file` names a teacher read from saved outputs. The gates judge the latest
    /// checkpoint: the one a pipeline would ship.
    pub fn new(
        checkpoints: Vec<(u64, String, Report)>,
        teacher_file: Option<&str>,
        dataset: DatasetInfo,
    ) -> Self {
        let spec = checkpoints[0].2.findings.summary();
        let points: Vec<TrackPoint> = checkpoints
            .iter()
            .map(|(step, path, r)| TrackPoint {
                step: *step,
                path: path.clone(),
                figures: Figures::read(spec.figures, |k| r.findings.figure(k)),
                verdict: r.verdict(),
            })
            .collect();
        let best_step = points
            .iter()
            .max_by(|a, b| {
                let q = |p: &TrackPoint| p.figures.value(spec.quality);
                let d = |p: &TrackPoint| p.figures.value(spec.divergence);
                q(a).total_cmp(&q(b)).then(d(b).total_cmp(&d(a)))
            })
            .map_or(0, |p| p.step);
        let teacher = TeacherSummary::new(&checkpoints[0].2, teacher_file);
        let gate = checkpoints.last().and_then(|(step, _, r)| {
            r.gate.as_ref().map(|g| {
                GateResult::new(
                    g.failures
                        .iter()
                        .map(|f| format!("step {step}: {f}"))
                        .collect(),
                )
            })
        });
        Track {
            schema_version: SCHEMA_VERSION,
            teacher,
            flags: flags(&points, spec),
            best_step,
            points,
            dataset,
            gate,
            spec,
            reports: checkpoints.into_iter().map(|(_, _, r)| r).collect(),
        }
    }
}
