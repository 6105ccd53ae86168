//! The generation family: one record per line with the reference text and the teacher's and
//! the student's generations, scored by `distill_eval_metrics::tasks::generation` (corpus BLEU
//! and chrF as sacrebleu computes them, mean ROUGE-1/2/L F-measures as rouge-score computes
//! them without a stemmer, the student's BLEU retention, and the BLEU of the student's texts
//! against the teacher's).
//!
//! The verdict applies the retention levels of the thresholds to `bleu_retention` (EXCELLENT
//! above 0.95, GOOD above 0.92, ACCEPTABLE above 0.90, else WEAK). An empty (or all-whitespace)
//! generation is refused naming its line, unless `--allow-empty-hypotheses` asks for it to be
//! scored as sacrebleu and rouge-score score it (it matches nothing). Only saved generations
//! are read so far (`score --task generation --data rows.jsonl`).

use std::path::Path;

use distill_eval_metrics::tasks::generation::{bootstrap_bleu, rouge};
use distill_eval_metrics::tasks::{evaluate_generation, GenerationEvaluation};
use distill_eval_metrics::{RetentionBootstrap, Thresholds, Verdict};
use serde::Serialize;

use super::{saved_file, TaskOptions};
use crate::engine::{Family, Session, StudentSpec, TeacherSource};
use crate::error::Result;
use crate::input::records::{self, Field, Record};
use crate::location::Position;
use crate::render::fmt::{f4, int, pct};
use crate::render::sides::{self, Section, SideBySide};
use crate::render::table::{Align, Table};
use crate::report::gate::{GateFigure, GateKind, Gates};
use crate::report::{
    FigureFormat, FigureSpec, Findings, Report, ReportBuilder, SummarySpec,
};
use crate::Error;

/// The record fields of a generation evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationOptions {
    /// The reference text.
    pub reference_field: String,
    /// The teacher's generation.
    pub teacher_field: String,
    /// The student's generation.
    pub student_field: String,
    /// Score empty generations (as sacrebleu does) instead of refusing them.
    #[serde(skip)]
    pub allow_empty: bool,
}

impl Default for GenerationOptions {
    fn default() -> Self {
        Self {
            reference_field: "reference".to_owned(),
            teacher_field: "teacher".to_owned(),
            student_field: "student".to_owned(),
            allow_empty: false,
        }
    }
}

impl GenerationOptions {
    fn reference(&self) -> Field<'_> {
        Field {
            name: &self.reference_field,
            flag: "--reference-field",
        }
    }
    fn teacher(&self) -> Field<'_> {
        Field {
            name: &self.teacher_field,
            flag: "--teacher-field",
        }
    }
    fn student(&self) -> Field<'_> {
        Field {
            name: &self.student_field,
            flag: "--student-field",
        }
    }
}

/// The generation family, with the gates its reports are judged by.
#[derive(Debug, Clone, Default)]
pub struct Generation {
    gates: Gates,
    options: GenerationOptions,
}

impl Generation {
    /// The family, judging each report by `gates`, reading the fields of `options.generation`.
    pub fn new(gates: Gates, options: &TaskOptions) -> Self {
        Self {
            gates,
            options: options.generation.clone(),
        }
    }

    /// Each record's text in `field`; an empty one is an error unless allowed.
    fn texts(
        &self,
        path: &Path,
        rows: &[Record],
        field: Field<'_>,
        role: &'static str,
    ) -> Result<Vec<String>> {
        rows.iter()
            .map(|r| {
                let text = r.string(path, field)?;
                if !self.options.allow_empty && is_blank(text) {
                    return Err(Error::EmptyHypothesis {
                        path: path.to_path_buf(),
                        position: r.position,
                        role,
                        field: field.name.to_owned(),
                    });
                }
                Ok(text.to_owned())
            })
            .collect()
    }
}

/// Empty or only whitespace, as Python's `str.split()` sees it (what the metrics count as an
/// empty hypothesis).
fn is_blank(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// The references and the teacher's texts, read once.
#[derive(Debug)]
pub struct TeacherSide {
    file: String,
    positions: Vec<Position>,
    references: Vec<String>,
    texts: Vec<String>,
}

impl Family for Generation {
    type Teacher = TeacherSide;
    type Student = Report;

    fn teacher(
        &self,
        _session: &Session,
        teacher: &TeacherSource,
        _first: &StudentSpec,
    ) -> Result<(TeacherSide, Option<Report>)> {
        let file = teacher
            .file()
            .ok_or(Error::SavedOutputsOnly { task: "generation" })?
            .to_owned();
        let path = Path::new(&file);
        let rows = records::read(path)?;
        let references = rows
            .iter()
            .map(|r| Ok(r.string(path, self.options.reference())?.to_owned()))
            .collect::<Result<Vec<String>>>()?;
        let texts = self.texts(path, &rows, self.options.teacher(), "teacher")?;
        Ok((
            TeacherSide {
                positions: rows.iter().map(|r| r.position).collect(),
                file,
                references,
                texts,
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
        let file = saved_file(&student.source, "generation")?;
        let path = Path::new(file);
        let rows = records::read(path)?;
        if rows.len() != teacher.texts.len() {
            return Err(Error::RowCountMismatch {
                first: teacher.file.clone(),
                first_rows: teacher.texts.len(),
                second: file.to_owned(),
                second_rows: rows.len(),
            });
        }
        let texts = self.texts(path, &rows, self.options.student(), "student")?;
        let evaluation = evaluate_generation(&teacher.references, &teacher.texts, &texts)
            .map_err(|source| Error::InFile {
                file: file.to_owned(),
                source: Box::new(source),
            })?;
        let thresholds = session.setup.metrics.thresholds.clone();
        let bootstrap = super::bootstrap_config(&session.setup.extras, texts.len())
            .map(|cfg| {
                bootstrap_bleu(&teacher.references, &teacher.texts, &texts, &thresholds, &cfg)
            })
            .transpose()?;
        let findings = GenerationFindings {
            task: "generation",
            data: file.to_owned(),
            fields: self.options.clone(),
            verdict: sides::decide(evaluation.bleu_retention, &thresholds),
            evaluation,
            thresholds,
            largest_drops: largest_drops(teacher, &texts),
            bootstrap,
        };
        Ok(ReportBuilder::new(Box::new(findings)).build(&self.gates))
    }
}

/// Rows listed where the student loses most against the teacher.
const ROWS_SHOWN: usize = 10;

/// One row where the student's ROUGE-L falls furthest below the teacher's.
#[derive(Debug, Clone, Serialize)]
pub struct Drop {
    /// 0-based row.
    pub index: usize,
    /// Its line in the file.
    pub line: u64,
    /// The reference.
    pub reference: String,
    /// The teacher's text.
    pub teacher: String,
    /// The student's text.
    pub student: String,
    /// The teacher's ROUGE-L F-measure against the reference.
    pub teacher_rouge_l: f64,
    /// The student's.
    pub student_rouge_l: f64,
}

/// The rows with the largest teacher-minus-student ROUGE-L, largest first (ties in row order);
/// only rows where the student does worse.
fn largest_drops(teacher: &TeacherSide, student: &[String]) -> Vec<Drop> {
    let mut rows: Vec<(usize, f64, f64)> = (0..student.len())
        .map(|i| {
            let r = &teacher.references[i];
            (
                i,
                rouge::score(r, &teacher.texts[i]).rouge_l.fmeasure,
                rouge::score(r, &student[i]).rouge_l.fmeasure,
            )
        })
        .filter(|(_, t, s)| s < t)
        .collect();
    rows.sort_by(|a, b| (b.1 - b.2).total_cmp(&(a.1 - a.2)));
    rows.into_iter()
        .take(ROWS_SHOWN)
        .map(|(i, t, s)| Drop {
            index: i,
            line: match teacher.positions[i] {
                Position::Line(l) => l,
                Position::Row(r) | Position::Example(r) => r,
            },
            reference: teacher.references[i].clone(),
            teacher: teacher.texts[i].clone(),
            student: student[i].clone(),
            teacher_rouge_l: t,
            student_rouge_l: s,
        })
        .collect()
}

/// A generation report's statistics and verdict.
#[derive(Debug, Serialize)]
pub struct GenerationFindings {
    /// Always `generation`.
    pub task: &'static str,
    /// The records file.
    pub data: String,
    /// The fields read from it.
    pub fields: GenerationOptions,
    /// The statistics, flattened (`rows`, `teacher`, `student`, `bleu_retention`, ...).
    #[serde(flatten)]
    pub evaluation: GenerationEvaluation,
    /// The verdict by the retention thresholds applied to `bleu_retention`.
    pub verdict: Verdict,
    /// The thresholds (only the retention levels apply).
    pub thresholds: Thresholds,
    /// The rows where the student's ROUGE-L falls furthest below the teacher's.
    pub largest_drops: Vec<Drop>,
    /// Paired bootstrap intervals over the segments (BLEU, its retention, chrF), when
    /// computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<RetentionBootstrap>,
}

const FIGURES: &[FigureSpec] = &[
    FigureSpec {
        key: "bleu",
        column: "BLEU",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "bleu_retention",
        column: "retention",
        format: FigureFormat::Percent,
    },
    FigureSpec {
        key: "chrf",
        column: "chrF",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "rougeL",
        column: "ROUGE-L",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "teacher_student_bleu",
        column: "T-S BLEU",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "bleu_gap",
        column: "BLEU gap",
        format: FigureFormat::Decimal,
    },
];

/// What summaries show of a generation report.
pub static SUMMARY: SummarySpec = SummarySpec {
    figures: FIGURES,
    compare_columns: &[
        "bleu",
        "bleu_retention",
        "chrf",
        "rougeL",
        "teacher_student_bleu",
    ],
    track_columns: &["bleu", "bleu_retention", "teacher_student_bleu"],
    teacher: &[
        FigureSpec {
            key: "bleu",
            column: "BLEU",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "chrf",
            column: "chrF",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "rougeL",
            column: "ROUGE-L",
            format: FigureFormat::Decimal,
        },
    ],
    quality: "bleu",
    divergence: "bleu_gap",
    names: ("BLEU", "BLEU gap"),
    pareto_note: "no other student has at least the same BLEU with at most the same gap to the teacher",
    scatter: (
        "BLEU against the gap to the teacher",
        "teacher BLEU - student BLEU (lower is better)",
        "BLEU",
    ),
    trend: &[],
};

/// At most `n` characters of `s`, with an ellipsis when cut; control characters such as
/// line breaks and tabs become spaces, so that a text stays on its table row.
fn clip(s: &str, n: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= n {
        flat
    } else {
        let head: String = flat.chars().take(n.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

impl GenerationFindings {
    fn sides(&self, _report: &Report) -> SideBySide {
        let e = &self.evaluation;
        let (t, s) = (&e.teacher, &e.student);
        let row = |name: &str, a: f64, b: f64| (name.to_owned(), f4(a), f4(b));
        let mut warnings = Vec::new();
        for (role, m) in [("teacher", t), ("student", s)] {
            if m.empty_hypotheses > 0 {
                warnings.push(format!(
                    "{} of the {role}'s texts are empty: scored as sacrebleu and rouge-score \
                     score them (they match nothing)",
                    int(m.empty_hypotheses as u64)
                ));
            }
        }
        let mut table = Table::new(
            &[
                "line",
                "reference",
                "teacher",
                "student",
                "teacher ROUGE-L",
                "student ROUGE-L",
            ],
            &[
                Align::Right,
                Align::Left,
                Align::Left,
                Align::Left,
                Align::Right,
                Align::Right,
            ],
        );
        for d in &self.largest_drops {
            table.row(vec![
                int(d.line),
                clip(&d.reference, 40),
                clip(&d.teacher, 40),
                clip(&d.student, 40),
                f4(d.teacher_rouge_l),
                f4(d.student_rouge_l),
            ]);
        }
        let sections = if table.is_empty() {
            Vec::new()
        } else {
            vec![Section {
                title: "Rows where the student's ROUGE-L falls furthest below the teacher's"
                    .to_owned(),
                table,
            }]
        };
        SideBySide {
            family: "Generation",
            sources: vec![("Data", self.data.clone())],
            size: format!("{} rows", int(e.rows as u64)),
            figures: vec![
                row("BLEU", t.bleu, s.bleu),
                row("chrF", t.chrf, s.chrf),
                row("ROUGE-1", t.rouge1, s.rouge1),
                row("ROUGE-2", t.rouge2, s.rouge2),
                row("ROUGE-L", t.rouge_l, s.rouge_l),
                row("BLEU brevity penalty", t.bleu_brevity_penalty, s.bleu_brevity_penalty),
            ],
            retention: (
                "BLEU retention".to_owned(),
                e.bleu_retention.map_or_else(
                    || "undefined (the teacher's BLEU is 0)".to_owned(),
                    pct,
                ),
            ),
            agreement: vec![(
                "BLEU of the student against the teacher's texts".to_owned(),
                f4(e.teacher_student_bleu),
            )],
            warnings,
            sections,
            intervals: self.bootstrap.as_ref().map(|b| {
                sides::intervals(b, "BLEU", &|f| match f {
                    "chrf" => "chrF".to_owned(),
                    other => other.to_owned(),
                })
            }),
            verdict: self.verdict,
            rule: sides::rule("BLEU retention", &self.thresholds),
        }
    }
}

impl Findings for GenerationFindings {
    fn verdict(&self) -> Verdict {
        self.verdict
    }

    fn summary(&self) -> &'static SummarySpec {
        &SUMMARY
    }

    fn figure(&self, key: &str) -> Option<f64> {
        let e = &self.evaluation;
        match key {
            "bleu" => Some(e.student.bleu),
            "bleu_retention" => e.bleu_retention,
            "chrf" => Some(e.student.chrf),
            "rougeL" => Some(e.student.rouge_l),
            "teacher_student_bleu" => Some(e.teacher_student_bleu),
            "bleu_gap" => Some(e.teacher.bleu - e.student.bleu),
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn teacher_figure(&self, key: &str) -> Option<f64> {
        let t = &self.evaluation.teacher;
        match key {
            "bleu" => Some(t.bleu),
            "chrf" => Some(t.chrf),
            "rougeL" => Some(t.rouge_l),
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn gate_figure(&self, gate: GateKind) -> Option<GateFigure> {
        GateFigure::retention_only(
            gate,
            "BLEU retention",
            self.evaluation.bleu_retention,
            "the teacher's BLEU is 0",
        )
    }

    sides::side_by_side_formats!();
}
