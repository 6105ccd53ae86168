//! The regression family: saved predictions of a teacher and a student (`(n, 1)`) against float
//! targets, scored by `distill_eval_metrics::tasks::regression` (MAE, RMSE, R², Pearson and
//! Spearman of each model, `r2_retention`, teacher-student Pearson, the largest gaps).
//!
//! The verdict applies the classification thresholds' retention levels to `r2_retention`
//! (EXCELLENT above 0.95, GOOD above 0.92, ACCEPTABLE above 0.90, else WEAK); there is no KL
//! term. The predictions come from saved outputs (`score --task regression`) or from regression
//! heads run over a dataset whose labels are the targets (`report`, `compare`, `track`).


use candle::{DType, Device, Tensor};
use distill_eval_metrics::tasks::regression::{bootstrap_r2, RegressionConfig};
use distill_eval_metrics::tasks::{evaluate_regression, RegressionEvaluation};
use distill_eval_metrics::{RetentionBootstrap, Thresholds, Verdict};
use serde::Serialize;

use distill_eval_model::ModelSource;

use crate::engine::{
    Examples, Family, ModelRun, Session, StudentSource, StudentSpec, TeacherSource,
};
use crate::family::classification::model_pass;
use crate::error::Result;
use crate::input::saved;
use crate::render::fmt::{f4, int, pct};
use crate::render::sides::{self, Section, SideBySide};
use crate::render::table::{Align, Table};
use crate::report::gate::{GateFigure, GateKind, Gates};
use crate::report::{
    FigureFormat, FigureSpec, Findings, LogitInputs, Report, ReportBuilder, SummarySpec,
};
use crate::Error;

/// The regression family, with the gates its reports are judged by.
#[derive(Debug, Clone, Default)]
pub struct Regression {
    gates: Gates,
}

impl Regression {
    /// The family, judging each report by `gates` (it reads no [`TaskOptions`]).
    ///
    /// [`TaskOptions`]: crate::family::TaskOptions
    pub fn new(gates: Gates, _options: &crate::family::TaskOptions) -> Self {
        Self { gates }
    }
}

/// One column of numbers read from a saved-outputs file (`(n, 1)` npy / safetensors, or JSONL
/// arrays of one number).
fn read_column(spec: &str, device: &Device) -> Result<Vec<f64>> {
    one_column(&saved::read_column(spec, device)?, spec)
}

/// `(n, 1)` outputs of `source` (a file or a model) on the host; other widths are refused.
fn one_column(t: &Tensor, source: &str) -> Result<Vec<f64>> {
    let (_, c) = t.dims2()?;
    if c != 1 {
        return Err(Error::RegressionShape {
            file: source.to_owned(),
            columns: c,
        });
    }
    // Device => host: one copy of a small column.
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

/// The teacher's predictions and where they came from.
#[derive(Debug)]
pub struct TeacherSide {
    predictions: Vec<f64>,
    /// The saved-outputs file, when the teacher was read from one.
    file: Option<String>,
    /// The model run, when the teacher was run.
    run: Option<ModelRun>,
}

/// One regression head's predictions over the dataset: its `(n, 1)` outputs as one column.
fn head_pass(source: &ModelSource, role: &str, session: &Session) -> Result<(Vec<f64>, ModelRun)> {
    let data = session.dataset().ok_or(Error::NoData)?;
    let pass = model_pass(source, role, data, session, false)?;
    Ok((one_column(&pass.logits, &pass.run.info.id)?, pass.run))
}

/// The targets: the dataset's labels as numbers, or the labels file's column.
fn targets(session: &Session) -> Result<(Vec<f64>, Option<String>)> {
    match &session.examples {
        Examples::LabelFile(path) => {
            let spec = path.display().to_string();
            Ok((read_column(&spec, &session.device)?, Some(spec)))
        }
        Examples::Dataset { data, .. } => {
            let values = data
                .rows
                .iter()
                .map(|r| {
                    r.label
                        .as_number()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| Error::RegressionTarget {
                            source_name: data.source.clone(),
                            at: r.position,
                            field: data.fields.label.clone(),
                            value: r.label.to_string(),
                        })
                })
                .collect::<Result<Vec<f64>>>()?;
            Ok((values, None))
        }
    }
}

impl Family for Regression {
    type Teacher = TeacherSide;
    type Student = Report;

    fn teacher(
        &self,
        session: &Session,
        teacher: &TeacherSource,
        _first: &StudentSpec,
    ) -> Result<(TeacherSide, Option<Report>)> {
        let side = match teacher {
            TeacherSource::Logits { spec, .. } => TeacherSide {
                predictions: read_column(spec, &session.device)?,
                file: Some(spec.clone()),
                run: None,
            },
            TeacherSource::Model(source) => {
                let (predictions, run) = head_pass(source, "teacher", session)?;
                TeacherSide {
                    predictions,
                    file: None,
                    run: Some(run),
                }
            }
        };
        Ok((side, None))
    }

    fn student(
        &self,
        session: &Session,
        teacher: &TeacherSide,
        student: &StudentSpec,
    ) -> Result<Report> {
        let (predictions, file, run) = match &student.source {
            StudentSource::Logits(file) => (
                read_column(file, &session.device)?,
                Some(file.clone()),
                None,
            ),
            StudentSource::Model(source) => {
                let (predictions, run) = head_pass(source, &student.role, session)?;
                (predictions, None, Some(run))
            }
        };
        let (targets, targets_spec) = targets(session)?;
        let evaluation = evaluate_regression(
            &targets,
            &teacher.predictions,
            &predictions,
            &RegressionConfig::default(),
        )?;
        let thresholds = session.setup.metrics.thresholds.clone();
        let verdict = sides::decide(evaluation.r2_retention, &thresholds);
        let bootstrap = super::bootstrap_config(&session.setup.extras, targets.len())
            .map(|cfg| {
                bootstrap_r2(
                    &targets,
                    &teacher.predictions,
                    &predictions,
                    &thresholds,
                    &cfg,
                )
            })
            .transpose()?;
        let findings = RegressionFindings {
            task: "regression",
            evaluation,
            verdict,
            thresholds,
            bootstrap,
        };
        let inputs = (teacher.file.is_some() || file.is_some()).then(|| LogitInputs {
            teacher_logits: teacher.file.clone().unwrap_or_default(),
            student_logits: file.clone().unwrap_or_default(),
            labels: targets_spec,
        });
        Ok(ReportBuilder::new(Box::new(findings))
            .models(teacher.run.clone(), run)
            .dataset(session.dataset_info())
            .inputs(inputs)
            .build(&self.gates))
    }
}

/// A regression report's statistics and verdict.
#[derive(Debug, Serialize)]
pub struct RegressionFindings {
    /// Always `regression`.
    pub task: &'static str,
    /// The statistics, flattened (`n`, `teacher`, `student`, `r2_retention`, ...).
    #[serde(flatten)]
    pub evaluation: RegressionEvaluation,
    /// The verdict by the retention thresholds applied to `r2_retention`.
    pub verdict: Verdict,
    /// The thresholds (only the retention levels apply).
    pub thresholds: Thresholds,
    /// Paired bootstrap intervals over the examples, when computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<RetentionBootstrap>,
}

const FIGURES: &[FigureSpec] = &[
    FigureSpec {
        key: "r2",
        column: "R²",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "r2_retention",
        column: "retention",
        format: FigureFormat::Percent,
    },
    FigureSpec {
        key: "mae",
        column: "MAE",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "rmse",
        column: "RMSE",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "teacher_student_pearson",
        column: "T-S Pearson",
        format: FigureFormat::Decimal,
    },
];

/// What summaries show of a regression report.
pub static SUMMARY: SummarySpec = SummarySpec {
    figures: FIGURES,
    compare_columns: &["r2", "r2_retention", "mae", "rmse", "teacher_student_pearson"],
    track_columns: &["r2", "r2_retention", "rmse"],
    teacher: &[
        FigureSpec {
            key: "r2",
            column: "R²",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "mae",
            column: "MAE",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "rmse",
            column: "RMSE",
            format: FigureFormat::Decimal,
        },
    ],
    quality: "r2",
    divergence: "rmse",
    names: ("R²", "RMSE"),
    pareto_note: "no other student has at least the same R² with at most the same RMSE",
    scatter: ("R² against RMSE", "RMSE (lower is better)", "R²"),
    trend: &[],
};

impl RegressionFindings {
    /// The report's content, formatted once for every human format.
    fn sides(&self, report: &Report) -> SideBySide {
        let e = &self.evaluation;
        let (t, s) = (&e.teacher, &e.student);
        let row = |name: &str, a: f64, b: f64| (name.to_owned(), f4(a), f4(b));
        let mut sources = Vec::new();
        let run = |r: &ModelRun| format!("{} ({}, {:.1} ex/s)", r.info.id, r.info.architecture, r.examples_per_second);
        let given = report.inputs.as_ref();
        match (&report.teacher_model, given) {
            (Some(t), _) => sources.push(("Teacher", run(t))),
            (None, Some(i)) => sources.push(("Teacher", i.teacher_logits.clone())),
            (None, None) => {}
        }
        match (&report.student_model, given) {
            (Some(m), _) => sources.push(("Student", run(m))),
            (None, Some(i)) => sources.push(("Student", i.student_logits.clone())),
            (None, None) => {}
        }
        if let Some(l) = given.and_then(|i| i.labels.clone()) {
            sources.push(("Targets", l));
        }
        if let Some(d) = &report.dataset {
            sources.push(("Data", format!("{} (targets: {:?})", d.source, d.label_field)));
        }
        let mut gaps = Table::new(
            &["example", "target", "teacher", "student", "gap"],
            &[Align::Right; 5],
        );
        for d in &e.disagreements {
            gaps.row(vec![
                int(d.index as u64),
                f4(d.target),
                f4(d.teacher),
                f4(d.student),
                f4(d.gap),
            ]);
        }
        let sections = if gaps.is_empty() {
            Vec::new()
        } else {
            vec![Section {
                title: "Where teacher and student predict furthest apart".to_owned(),
                table: gaps,
            }]
        };
        SideBySide {
            family: "Regression",
            sources,
            size: format!("{} examples", int(e.n as u64)),
            figures: vec![
                row("MAE", t.mae, s.mae),
                row("RMSE", t.rmse, s.rmse),
                row("R²", t.r2, s.r2),
                row("Pearson", t.pearson, s.pearson),
                row("Spearman", t.spearman, s.spearman),
            ],
            retention: (
                "R² retention".to_owned(),
                e.r2_retention.map_or_else(
                    || "undefined (the teacher's R² is not positive)".to_owned(),
                    pct,
                ),
            ),
            agreement: vec![(
                "Teacher-student Pearson".to_owned(),
                f4(e.teacher_student_pearson),
            )],
            warnings: Vec::new(),
            sections,
            intervals: self
                .bootstrap
                .as_ref()
                .map(|b| sides::intervals(b, "R²", &|f| f.to_owned())),
            verdict: self.verdict,
            rule: sides::rule("R² retention", &self.thresholds),
        }
    }
}

impl Findings for RegressionFindings {
    fn verdict(&self) -> Verdict {
        self.verdict
    }

    fn summary(&self) -> &'static SummarySpec {
        &SUMMARY
    }

    fn figure(&self, key: &str) -> Option<f64> {
        let e = &self.evaluation;
        match key {
            "r2" => Some(e.student.r2),
            "r2_retention" => e.r2_retention,
            "mae" => Some(e.student.mae),
            "rmse" => Some(e.student.rmse),
            "teacher_student_pearson" => Some(e.teacher_student_pearson),
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn teacher_figure(&self, key: &str) -> Option<f64> {
        let t = &self.evaluation.teacher;
        match key {
            "r2" => Some(t.r2),
            "mae" => Some(t.mae),
            "rmse" => Some(t.rmse),
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn gate_figure(&self, gate: GateKind) -> Option<GateFigure> {
        GateFigure::retention_only(
            gate,
            "R² retention",
            self.evaluation.r2_retention,
            "the teacher's R² is not positive",
        )
    }

    sides::side_by_side_formats!();
}
