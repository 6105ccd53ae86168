//! The regression family: saved predictions of a teacher and a student (`(n, 1)`) against float
//! targets, scored by `distill_eval_metrics::tasks::regression` (MAE, RMSE, R², Pearson and
//! Spearman of each model, `r2_retention`, teacher-student Pearson, the largest gaps).
//!
//! The verdict applies the classification thresholds' retention levels to `r2_retention`
//! (EXCELLENT above 0.95, GOOD above 0.92, ACCEPTABLE above 0.90, else WEAK); there is no KL
//! term. Only saved outputs are read so far (`score --task regression`).

use std::io::{self, Write};

use candle::{DType, Device};
use distill_eval_metrics::tasks::regression::RegressionConfig;
use distill_eval_metrics::tasks::{evaluate_regression, RegressionEvaluation};
use distill_eval_metrics::{Thresholds, Verdict};
use serde::Serialize;

use crate::engine::{Examples, Family, Session, StudentSource, StudentSpec, TeacherSource};
use crate::error::Result;
use crate::input::saved;
use crate::render::fmt::{f4, int, pct};
use crate::render::sides::{self, Section, SideBySide};
use crate::render::table::{Align, Table};
use crate::report::gate::{GateFigure, GateKind, Gates};
use crate::report::{
    FigureFormat, FigureSpec, Findings, LogitInputs, Report, ReportBuilder, Style, SummarySpec,
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
    let t = saved::read_column(spec, device)?;
    let (_, c) = t.dims2()?;
    if c != 1 {
        return Err(Error::RegressionShape {
            file: spec.to_owned(),
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
    file: String,
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
        let file = teacher
            .file()
            .ok_or(Error::SavedOutputsOnly { task: "regression" })?
            .to_owned();
        let predictions = read_column(&file, &session.device)?;
        Ok((TeacherSide { predictions, file }, None))
    }

    fn student(
        &self,
        session: &Session,
        teacher: &TeacherSide,
        student: &StudentSpec,
    ) -> Result<Report> {
        let StudentSource::Logits(file) = &student.source else {
            return Err(Error::SavedOutputsOnly { task: "regression" });
        };
        let Examples::LabelFile(targets_path) = &session.examples else {
            return Err(Error::SavedOutputsOnly { task: "regression" });
        };
        let targets_spec = targets_path.display().to_string();
        let targets = read_column(&targets_spec, &session.device)?;
        let predictions = read_column(file, &session.device)?;
        let evaluation = evaluate_regression(
            &targets,
            &teacher.predictions,
            &predictions,
            &RegressionConfig::default(),
        )?;
        let thresholds = session.setup.metrics.thresholds.clone();
        let verdict = sides::decide(evaluation.r2_retention, &thresholds);
        let findings = RegressionFindings {
            task: "regression",
            evaluation,
            verdict,
            thresholds,
        };
        Ok(ReportBuilder::new(Box::new(findings))
            .inputs(Some(LogitInputs {
                teacher_logits: teacher.file.clone(),
                student_logits: file.clone(),
                labels: Some(targets_spec),
            }))
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
        if let Some(i) = &report.inputs {
            sources.push(("Teacher", i.teacher_logits.clone()));
            sources.push(("Student", i.student_logits.clone()));
            if let Some(l) = &i.labels {
                sources.push(("Targets", l.clone()));
            }
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

    fn text(&self, report: &Report, out: &mut dyn Write, style: Style) -> io::Result<()> {
        self.sides(report).text(out, style.color)
    }

    fn markdown(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        self.sides(report).markdown(out)
    }

    fn html(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        self.sides(report).html(out)
    }
}
