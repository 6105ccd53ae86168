//! The detection family: a COCO ground truth and the teacher's and the student's COCO result
//! lists, scored by `distill_eval_metrics::tasks::detection` (the twelve COCOeval bbox
//! statistics as pycocotools computes them, `mean_best_iou`, per-class AP and the student's
//! `map_retention`).
//!
//! The verdict applies the retention levels of the thresholds to `map_retention` (EXCELLENT
//! above 0.95, GOOD above 0.92, ACCEPTABLE above 0.90, else WEAK). Detections for an image or
//! a category the ground truth does not list, boxes of negative size and non-finite scores are
//! refused naming the file and the detection. Only saved detections are read so far (`score
//! --task detection --ground-truth gt.json --teacher-detections t.json --student-detections
//! s.json`).

use std::path::Path;

use distill_eval_metrics::tasks::detection::{
    bootstrap_map, parse_detections, CocoDetection, CocoGroundTruth, DetectionMetrics,
};
use distill_eval_metrics::tasks::{evaluate_detection, DetectionEvaluation};
use distill_eval_metrics::{Error as MetricsError, RetentionBootstrap, Side, Thresholds, Verdict};
use serde::Serialize;

use super::{saved_file, TaskOptions};
use crate::engine::{Examples, Family, Session, StudentSpec, TeacherSource};
use crate::error::Result;
use crate::input::read_text;
use crate::render::fmt::{f4, int, pct};
use crate::render::sides::{self, Section, SideBySide};
use crate::render::table::{Align, Table};
use crate::report::gate::{GateFigure, GateKind, Gates};
use crate::report::{
    FigureFormat, FigureSpec, Findings, Report, ReportBuilder, SummarySpec,
};
use crate::Error;

/// The detection family, with the gates its reports are judged by.
#[derive(Debug, Clone, Default)]
pub struct Detection {
    gates: Gates,
}

impl Detection {
    /// The family, judging each report by `gates` (it reads no [`TaskOptions`]).
    pub fn new(gates: Gates, _options: &TaskOptions) -> Self {
        Self { gates }
    }
}

/// The ground truth and the teacher's detections, read once.
#[derive(Debug)]
pub struct TeacherSide {
    ground_truth: CocoGroundTruth,
    ground_truth_file: String,
    detections: Vec<CocoDetection>,
    file: String,
}

/// Which input a statistics error is about: the list it names (`teacher detection 3`), else the
/// ground truth.
fn blame<'a>(e: &MetricsError, gt: &'a str, teacher: &'a str, student: &'a str) -> &'a str {
    let what = match e {
        MetricsError::NegativeBoxSize { what, .. }
        | MetricsError::UnknownImage { what, .. }
        | MetricsError::UnknownCategory { what, .. }
        | MetricsError::NotFinite { what, .. } => *what,
        _ => "",
    };
    if what.starts_with("teacher") {
        teacher
    } else if what.starts_with("student") {
        student
    } else {
        gt
    }
}

fn read_detections(file: &str, side: Side) -> Result<Vec<CocoDetection>> {
    let json = read_text(Path::new(file))?;
    parse_detections(&json, side).map_err(|source| Error::InFile {
        file: file.to_owned(),
        source: Box::new(source),
    })
}

impl Family for Detection {
    type Teacher = TeacherSide;
    type Student = Report;

    fn teacher(
        &self,
        session: &Session,
        teacher: &TeacherSource,
        _first: &StudentSpec,
    ) -> Result<(TeacherSide, Option<Report>)> {
        let file = teacher
            .file()
            .ok_or(Error::SavedOutputsOnly { task: "detection" })?
            .to_owned();
        let Examples::LabelFile(gt_path) = &session.examples else {
            return Err(Error::SavedOutputsOnly { task: "detection" });
        };
        let ground_truth_file = gt_path.display().to_string();
        let ground_truth = CocoGroundTruth::from_json(&read_text(gt_path)?).map_err(|source| {
            Error::InFile {
                file: ground_truth_file.clone(),
                source: Box::new(source),
            }
        })?;
        let detections = read_detections(&file, Side::Teacher)?;
        Ok((
            TeacherSide {
                ground_truth,
                ground_truth_file,
                detections,
                file,
            },
            None,
        ))
    }

    fn student(
        &self,
        session: &Session,
        teacher: &TeacherSide,
        student: &StudentSpec,
    ) -> Result<Report> {
        let file = saved_file(&student.source, "detection")?;
        let detections = read_detections(file, Side::Student)?;
        let evaluation =
            evaluate_detection(&teacher.ground_truth, &teacher.detections, &detections).map_err(
                |source| Error::InFile {
                    file: blame(&source, &teacher.ground_truth_file, &teacher.file, file)
                        .to_owned(),
                    source: Box::new(source),
                },
            )?;
        let thresholds = session.setup.metrics.thresholds.clone();
        // The detections were checked by the evaluation above.
        let bootstrap =
            super::bootstrap_config(&session.setup.extras, teacher.ground_truth.images.len())
                .map(|cfg| {
                    bootstrap_map(
                        &teacher.ground_truth,
                        &teacher.detections,
                        &detections,
                        &thresholds,
                        &cfg,
                    )
                })
                .transpose()?;
        let findings = DetectionFindings {
            task: "detection",
            files: DetectionFiles {
                ground_truth: teacher.ground_truth_file.clone(),
                teacher_detections: teacher.file.clone(),
                student_detections: file.to_owned(),
            },
            verdict: sides::decide(evaluation.map_retention, &thresholds),
            evaluation,
            thresholds,
            bootstrap,
        };
        Ok(ReportBuilder::new(Box::new(findings)).build(&self.gates))
    }
}

/// The files a detection report was computed from.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionFiles {
    /// The COCO ground truth.
    pub ground_truth: String,
    /// The teacher's COCO results.
    pub teacher_detections: String,
    /// The student's COCO results.
    pub student_detections: String,
}

/// A detection report's statistics and verdict.
#[derive(Debug, Serialize)]
pub struct DetectionFindings {
    /// Always `detection`.
    pub task: &'static str,
    /// The input files.
    pub files: DetectionFiles,
    /// The statistics, flattened (`images`, `teacher`, `student`, `map_retention`, ...).
    #[serde(flatten)]
    pub evaluation: DetectionEvaluation,
    /// The verdict by the retention thresholds applied to `map_retention`.
    pub verdict: Verdict,
    /// The thresholds (only the retention levels apply).
    pub thresholds: Thresholds,
    /// Paired bootstrap intervals over the images, when computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<RetentionBootstrap>,
}

/// Categories listed where the student loses most AP.
const CLASSES_SHOWN: usize = 15;

const FIGURES: &[FigureSpec] = &[
    FigureSpec {
        key: "map",
        column: "mAP",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "map_retention",
        column: "retention",
        format: FigureFormat::Percent,
    },
    FigureSpec {
        key: "map_50",
        column: "AP50",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "mar_100",
        column: "AR@100",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "mean_best_iou",
        column: "mean best IoU",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "map_gap",
        column: "mAP gap",
        format: FigureFormat::Decimal,
    },
];

/// What summaries show of a detection report.
pub static SUMMARY: SummarySpec = SummarySpec {
    figures: FIGURES,
    compare_columns: &["map", "map_retention", "map_50", "mar_100", "mean_best_iou"],
    track_columns: &["map", "map_retention", "mean_best_iou"],
    teacher: &[
        FigureSpec {
            key: "map",
            column: "mAP",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "map_50",
            column: "AP50",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "mean_best_iou",
            column: "mean best IoU",
            format: FigureFormat::Decimal,
        },
    ],
    quality: "map",
    divergence: "map_gap",
    names: ("mAP", "mAP gap"),
    pareto_note: "no other student has at least the same mAP with at most the same gap to the teacher",
    scatter: (
        "mAP against the gap to the teacher",
        "teacher mAP - student mAP (lower is better)",
        "mAP",
    ),
    trend: &[],
};

/// A COCO figure, `n/a` where pycocotools reports -1.
fn opt(x: Option<f64>) -> String {
    f4(x.unwrap_or(f64::NAN))
}

/// The twelve COCOeval statistics and the mean best IoU, as (label, value) of one model.
fn stats(m: &DetectionMetrics) -> [(&'static str, Option<f64>); 13] {
    [
        ("AP@[.50:.95]", m.map),
        ("AP@.50", m.map_50),
        ("AP@.75", m.map_75),
        ("AP small", m.map_small),
        ("AP medium", m.map_medium),
        ("AP large", m.map_large),
        ("AR@1", m.mar_1),
        ("AR@10", m.mar_10),
        ("AR@100", m.mar_100),
        ("AR small", m.mar_small),
        ("AR medium", m.mar_medium),
        ("AR large", m.mar_large),
        ("mean best IoU", m.mean_best_iou),
    ]
}

impl DetectionFindings {
    fn sides(&self, _report: &Report) -> SideBySide {
        let e = &self.evaluation;
        let (t, s) = (&e.teacher, &e.student);
        let mut figures: Vec<(String, String, String)> = stats(t)
            .iter()
            .zip(stats(s))
            .map(|((name, a), (_, b))| ((*name).to_owned(), opt(*a), opt(b)))
            .collect();
        figures.push((
            "detections".to_owned(),
            int(t.detections as u64),
            int(s.detections as u64),
        ));
        // Per-class AP, the largest drops first (classes without ground truth last).
        let mut classes: Vec<usize> = (0..t.per_class.len().min(s.per_class.len())).collect();
        let drop = |i: usize| match (t.per_class[i].ap, s.per_class[i].ap) {
            (Some(a), Some(b)) => a - b,
            _ => f64::NEG_INFINITY,
        };
        classes.sort_by(|&a, &b| drop(b).total_cmp(&drop(a)));
        let mut table = Table::new(
            &["category", "boxes", "teacher AP", "student AP", "retention"],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
        );
        for &i in classes.iter().take(CLASSES_SHOWN) {
            let (a, b) = (&t.per_class[i], &s.per_class[i]);
            let retention = match (a.ap, b.ap) {
                (Some(x), Some(y)) if x > 0.0 => pct(y / x),
                _ => "n/a".to_owned(),
            };
            table.row(vec![
                format!("{} ({})", a.name, a.category_id),
                int(a.ground_truth as u64),
                opt(a.ap),
                opt(b.ap),
                retention,
            ]);
        }
        let title = if classes.len() > CLASSES_SHOWN {
            format!(
                "Per-class AP@[.50:.95], the {CLASSES_SHOWN} largest drops of {} categories",
                classes.len()
            )
        } else {
            "Per-class AP@[.50:.95], the largest drops first".to_owned()
        };
        let mut warnings = Vec::new();
        for (role, m) in [("teacher", t), ("student", s)] {
            if m.detections == 0 {
                warnings.push(format!(
                    "the {role} has no detections: every category with ground truth scores AP 0"
                ));
            }
        }
        SideBySide {
            family: "Detection",
            sources: vec![
                ("Truth", self.files.ground_truth.clone()),
                ("Teacher", self.files.teacher_detections.clone()),
                ("Student", self.files.student_detections.clone()),
            ],
            size: format!(
                "{} images, {} ground-truth boxes, {} categories",
                int(e.images as u64),
                int(e.annotations as u64),
                int(t.per_class.len() as u64)
            ),
            figures,
            retention: (
                "mAP retention".to_owned(),
                e.map_retention.map_or_else(
                    || "undefined (the teacher's mAP is 0 or undefined)".to_owned(),
                    pct,
                ),
            ),
            agreement: Vec::new(),
            warnings,
            sections: vec![Section { title, table }],
            intervals: self
                .bootstrap
                .as_ref()
                .map(|b| sides::intervals(b, "mAP", &|f| f.to_owned())),
            verdict: self.verdict,
            rule: sides::rule("mAP retention", &self.thresholds),
        }
    }
}

impl Findings for DetectionFindings {
    fn verdict(&self) -> Verdict {
        self.verdict
    }

    fn summary(&self) -> &'static SummarySpec {
        &SUMMARY
    }

    fn figure(&self, key: &str) -> Option<f64> {
        let e = &self.evaluation;
        let s = &e.student;
        match key {
            "map" => s.map,
            "map_retention" => e.map_retention,
            "map_50" => s.map_50,
            "mar_100" => s.mar_100,
            "mean_best_iou" => s.mean_best_iou,
            "map_gap" => Some(e.teacher.map? - s.map?),
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn teacher_figure(&self, key: &str) -> Option<f64> {
        let t = &self.evaluation.teacher;
        match key {
            "map" => t.map,
            "map_50" => t.map_50,
            "mean_best_iou" => t.mean_best_iou,
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn gate_figure(&self, gate: GateKind) -> Option<GateFigure> {
        GateFigure::retention_only(
            gate,
            "mAP retention",
            self.evaluation.map_retention,
            "the teacher's mAP is 0 or undefined",
        )
    }

    sides::side_by_side_formats!();
}
