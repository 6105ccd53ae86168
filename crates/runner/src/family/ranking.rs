//! The ranking family: one (query, document) record per line with graded relevance and the
//! teacher's and the student's scores, scored by `distill_eval_metrics::tasks::ranking`
//! (NDCG@5, NDCG@10 and any `--k`, MAP and MRR of each model averaged over queries, the
//! student's NDCG@10 retention, and per-query Kendall tau-b between the two models' scores).
//!
//! The verdict applies the retention levels of the thresholds to `ndcg@10_retention`
//! (EXCELLENT above 0.95, GOOD above 0.92, ACCEPTABLE above 0.90, else WEAK). A query without
//! a relevant document scores 0 on NDCG, AP and RR and counts in the means, as scikit-learn
//! scores it; the report says how many there were.
//!
//! The scores are saved ones (`score --task ranking --data rows.jsonl`, one record per line
//! with both scores) or come from two cross-encoders (`report --task ranking`): one-output
//! sequence-classification heads run once each over a pairs file of (query, passage,
//! relevance) rows, the query text being the query id. Both paths build the same
//! [`RankingRow`]s and the same report from them.

use std::path::Path;

use distill_eval_metrics::tasks::ranking::{bootstrap_ndcg10, RankingConfig, RankingRow};
use distill_eval_metrics::tasks::{evaluate_ranking, RankingEvaluation};
use distill_eval_metrics::{RetentionBootstrap, Thresholds, Verdict};
use serde::Serialize;

use distill_eval_model::ModelSource;

use super::{saved_file, TaskOptions};
use crate::engine::pass::run_model;
use crate::engine::{Family, ModelRun, Session, Setup, StudentSource, StudentSpec, TeacherSource};
use crate::error::Result;
use crate::input::records::{self, Field, Record};
use crate::render::fmt::{f4, int, pct};
use crate::render::sides::{self, Section, SideBySide};
use crate::render::table::{Align, Table};
use crate::report::gate::{GateFigure, GateKind, Gates};
use crate::report::{
    FigureFormat, FigureSpec, Findings, Report, ReportBuilder, SummarySpec,
};
use crate::Error;

/// The record fields and the extra cut-offs of a ranking evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct RankingOptions {
    /// The query id (a string or an integer).
    pub query_field: String,
    /// Graded relevance, a number of at least 0.
    pub relevance_field: String,
    /// The teacher's score.
    pub teacher_field: String,
    /// The student's score.
    pub student_field: String,
    /// NDCG cut-offs beyond 5 and 10.
    #[serde(skip)]
    pub cutoffs: Vec<usize>,
}

impl Default for RankingOptions {
    fn default() -> Self {
        Self {
            query_field: "query".to_owned(),
            relevance_field: "relevance".to_owned(),
            teacher_field: "teacher".to_owned(),
            student_field: "student".to_owned(),
            cutoffs: Vec::new(),
        }
    }
}

impl RankingOptions {
    fn field<'a>(name: &'a str, flag: &'static str) -> Field<'a> {
        Field { name, flag }
    }
    fn query(&self) -> Field<'_> {
        Self::field(&self.query_field, "--query-field")
    }
    fn relevance(&self) -> Field<'_> {
        Self::field(&self.relevance_field, "--relevance-field")
    }
    fn teacher(&self) -> Field<'_> {
        Self::field(&self.teacher_field, "--teacher-field")
    }
    fn student(&self) -> Field<'_> {
        Self::field(&self.student_field, "--student-field")
    }
}

/// The ranking family, with the gates its reports are judged by.
#[derive(Debug, Clone, Default)]
pub struct Ranking {
    gates: Gates,
    options: RankingOptions,
}

impl Ranking {
    /// The family, judging each report by `gates`, reading the fields of `options.ranking`.
    pub fn new(gates: Gates, options: &TaskOptions) -> Self {
        Self {
            gates,
            options: options.ranking.clone(),
        }
    }
}

/// The queries, relevance grades and teacher scores, read once.
#[derive(Debug)]
pub struct TeacherSide {
    file: String,
    queries: Vec<String>,
    relevance: Vec<f64>,
    scores: Vec<f64>,
    /// The teacher's run, when it was a model.
    run: Option<ModelRun>,
}

/// The default fields of a pairs file read by `report --task ranking`.
pub const PAIR_FIELDS: (&str, &str, &str) = ("query", "passage", "relevance");

/// The setup of `report --task ranking`: the data read as (query, passage) text pairs, with
/// [`PAIR_FIELDS`] where no field was named and the relevance grades read as numbers.
pub fn pairs_setup(mut setup: Setup) -> Setup {
    if let Some(data) = setup.data.as_mut() {
        let o = &mut data.options;
        let (query, passage, relevance) = PAIR_FIELDS;
        o.text_field.get_or_insert_with(|| query.to_owned());
        o.text_pair_field.get_or_insert_with(|| passage.to_owned());
        o.label_field.get_or_insert_with(|| relevance.to_owned());
        o.texts_only = false;
        o.numeric_labels = true;
    }
    setup
}

/// One cross-encoder's score of every pair: a one-output head run once over the dataset.
fn score_pass(source: &ModelSource, role: &str, session: &Session) -> Result<(Vec<f64>, ModelRun)> {
    let data = session.dataset().ok_or(Error::NoData)?;
    let model = distill_eval_model::load(source, &session.device, &session.setup.load)?;
    if model.info.problem_type != "regression" || model.num_labels() != 1 {
        return Err(Error::NotReranker {
            model: model.info.id.clone(),
            problem_type: model.info.problem_type.clone(),
            num_labels: model.num_labels(),
        });
    }
    let out = run_model(&model, &data.rows, role, &session.setup.pass)?;
    // (n, 1) -> (n,). Device => host: one copy of a small column of scores.
    let scores = out
        .logits
        .flatten_all()?
        .to_dtype(candle::DType::F64)?
        .to_vec1::<f64>()?;
    Ok((scores, out.run(&model)))
}

/// The teacher's side from a cross-encoder over the session's pairs.
fn model_teacher(session: &Session, source: &ModelSource) -> Result<TeacherSide> {
    let data = session.dataset().ok_or(Error::NoData)?;
    let relevance = data
        .rows
        .iter()
        .map(|r| {
            r.label
                .as_number()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| Error::RelevanceGrade {
                    source_name: data.source.clone(),
                    at: r.position,
                    field: data.fields.label.clone(),
                    value: r.label.to_string(),
                })
        })
        .collect::<Result<Vec<f64>>>()?;
    let (scores, run) = score_pass(source, "teacher", session)?;
    Ok(TeacherSide {
        file: data.source.clone(),
        queries: data.rows.iter().map(|r| r.text.clone()).collect(),
        relevance,
        scores,
        run: Some(run),
    })
}

fn read_rows(file: &str) -> Result<Vec<Record>> {
    records::read(Path::new(file))
}

impl Family for Ranking {
    type Teacher = TeacherSide;
    type Student = Report;

    fn teacher(
        &self,
        session: &Session,
        teacher: &TeacherSource,
        _first: &StudentSpec,
    ) -> Result<(TeacherSide, Option<Report>)> {
        if let TeacherSource::Model(source) = teacher {
            return Ok((model_teacher(session, source)?, None));
        }
        let file = teacher
            .file()
            .ok_or(Error::SavedOutputsOnly { task: "ranking" })?
            .to_owned();
        let path = Path::new(&file);
        let rows = read_rows(&file)?;
        let o = &self.options;
        let mut side = TeacherSide {
            queries: Vec::with_capacity(rows.len()),
            relevance: Vec::with_capacity(rows.len()),
            scores: Vec::with_capacity(rows.len()),
            file: file.clone(),
            run: None,
        };
        for r in &rows {
            side.queries.push(r.key(path, o.query())?);
            let rel = r.number(path, o.relevance())?;
            if rel < 0.0 {
                return Err(r.invalid(
                    path,
                    o.relevance(),
                    format!("{rel}"),
                    "at least 0 (0 = irrelevant; NDCG is undefined for negative gains)",
                ));
            }
            side.relevance.push(rel);
            side.scores.push(r.number(path, o.teacher())?);
        }
        Ok((side, None))
    }

    fn student(
        &self,
        session: &Session,
        teacher: &TeacherSide,
        student: &StudentSpec,
    ) -> Result<Report> {
        let (file, scores, run) = match (&student.source, teacher.run.is_some()) {
            (StudentSource::Model(source), true) => {
                let (scores, run) = score_pass(source, &student.role, session)?;
                (teacher.file.as_str(), scores, Some(run))
            }
            _ => {
                let file = saved_file(&student.source, "ranking")?;
                (file, self.saved_scores(file, teacher)?, None)
            }
        };
        let input: Vec<RankingRow<'_>> = (0..scores.len())
            .map(|i| RankingRow {
                query: &teacher.queries[i],
                relevance: teacher.relevance[i],
                teacher: teacher.scores[i],
                student: scores[i],
            })
            .collect();
        let cfg = RankingConfig {
            cutoffs: self.options.cutoffs.clone(),
        };
        let evaluation = evaluate_ranking(&input, &cfg).map_err(|source| Error::InFile {
            file: file.to_owned(),
            source: Box::new(source),
        })?;
        let thresholds = session.setup.metrics.thresholds.clone();
        let bootstrap = super::bootstrap_config(&session.setup.extras, evaluation.queries)
            .map(|cfg| bootstrap_ndcg10(&evaluation, &thresholds, &cfg))
            .transpose()?;
        let findings = RankingFindings {
            task: "ranking",
            data: file.to_owned(),
            fields: self.options.clone(),
            verdict: sides::decide(evaluation.ndcg_at_10_retention, &thresholds),
            evaluation,
            thresholds,
            bootstrap,
        };
        Ok(ReportBuilder::new(Box::new(findings))
            .models(teacher.run.clone(), run)
            .dataset(teacher.run.as_ref().and_then(|_| session.dataset_info()))
            .build(&self.gates))
    }
}

impl Ranking {
    /// The student's scores from a saved records file, one per teacher row.
    fn saved_scores(&self, file: &str, teacher: &TeacherSide) -> Result<Vec<f64>> {
        let path = Path::new(file);
        let rows = read_rows(file)?;
        if rows.len() != teacher.scores.len() {
            return Err(Error::RowCountMismatch {
                first: teacher.file.clone(),
                first_rows: teacher.scores.len(),
                second: file.to_owned(),
                second_rows: rows.len(),
            });
        }
        rows.iter()
            .map(|r| r.number(path, self.options.student()))
            .collect()
    }
}

/// A ranking report's statistics and verdict.
#[derive(Debug, Serialize)]
pub struct RankingFindings {
    /// Always `ranking`.
    pub task: &'static str,
    /// The records file.
    pub data: String,
    /// The fields read from it.
    pub fields: RankingOptions,
    /// The statistics, flattened (`queries`, `teacher`, `student`, `ndcg@10_retention`, ...).
    #[serde(flatten)]
    pub evaluation: RankingEvaluation,
    /// The verdict by the retention thresholds applied to `ndcg@10_retention`.
    pub verdict: Verdict,
    /// The thresholds (only the retention levels apply).
    pub thresholds: Thresholds,
    /// Paired bootstrap intervals over the queries, when computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<RetentionBootstrap>,
}

/// Queries listed where the two models order the documents least alike.
const QUERIES_SHOWN: usize = 10;

const FIGURES: &[FigureSpec] = &[
    FigureSpec {
        key: "ndcg@10",
        column: "NDCG@10",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "ndcg@10_retention",
        column: "retention",
        format: FigureFormat::Percent,
    },
    FigureSpec {
        key: "map",
        column: "MAP",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "mrr",
        column: "MRR",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "teacher_student_kendall",
        column: "T-S Kendall",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "ndcg@10_gap",
        column: "NDCG@10 gap",
        format: FigureFormat::Decimal,
    },
];

/// What summaries show of a ranking report.
pub static SUMMARY: SummarySpec = SummarySpec {
    figures: FIGURES,
    compare_columns: &[
        "ndcg@10",
        "ndcg@10_retention",
        "map",
        "mrr",
        "teacher_student_kendall",
    ],
    track_columns: &["ndcg@10", "ndcg@10_retention", "teacher_student_kendall"],
    teacher: &[
        FigureSpec {
            key: "ndcg@10",
            column: "NDCG@10",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "map",
            column: "MAP",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "mrr",
            column: "MRR",
            format: FigureFormat::Decimal,
        },
    ],
    quality: "ndcg@10",
    divergence: "ndcg@10_gap",
    names: ("NDCG@10", "NDCG@10 gap"),
    pareto_note: "no other student has at least the same NDCG@10 with at most the same gap to the teacher",
    scatter: (
        "NDCG@10 against the gap to the teacher",
        "teacher NDCG@10 - student NDCG@10 (lower is better)",
        "NDCG@10",
    ),
    trend: &[],
};

impl RankingFindings {
    fn sides(&self, _report: &Report) -> SideBySide {
        let e = &self.evaluation;
        let (t, s) = (&e.teacher, &e.student);
        let mut figures: Vec<(String, String, String)> = t
            .ndcg
            .0
            .iter()
            .map(|(k, v)| {
                (
                    format!("NDCG@{k}"),
                    f4(*v),
                    f4(s.ndcg.get(*k).unwrap_or(f64::NAN)),
                )
            })
            .collect();
        figures.push(("MAP".to_owned(), f4(t.map), f4(s.map)));
        figures.push(("MRR".to_owned(), f4(t.mrr), f4(s.mrr)));
        let mut warnings = Vec::new();
        if e.queries_without_relevant > 0 {
            warnings.push(format!(
                "{} of {} queries have no relevant document: they score 0 on NDCG, AP and RR and \
                 count in the means (scikit-learn's convention)",
                int(e.queries_without_relevant as u64),
                int(e.queries as u64)
            ));
        }
        let undefined = e.queries - e.kendall_queries;
        if undefined > 0 {
            warnings.push(format!(
                "Kendall tau is undefined for {} queries (one document, or constant scores) and \
                 left out of its mean",
                int(undefined as u64)
            ));
        }
        // The queries whose orderings differ most (lowest tau; undefined last).
        let mut order: Vec<usize> = (0..e.per_query.len()).collect();
        let tau = |i: usize| {
            let t = e.per_query[i].kendall_tau;
            if t.is_nan() {
                f64::INFINITY
            } else {
                t
            }
        };
        order.sort_by(|&a, &b| tau(a).total_cmp(&tau(b)));
        let mut table = Table::new(
            &[
                "query",
                "documents",
                "relevant",
                "teacher NDCG@10",
                "student NDCG@10",
                "Kendall tau",
            ],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
        );
        for &i in order.iter().take(QUERIES_SHOWN) {
            let q = &e.per_query[i];
            table.row(vec![
                q.query.clone(),
                int(q.documents as u64),
                int(q.relevant as u64),
                f4(q.teacher.ndcg.get(10).unwrap_or(f64::NAN)),
                f4(q.student.ndcg.get(10).unwrap_or(f64::NAN)),
                f4(q.kendall_tau),
            ]);
        }
        SideBySide {
            family: "Ranking",
            sources: vec![("Data", self.data.clone())],
            size: format!(
                "{} queries, {} documents",
                int(e.queries as u64),
                int(e.documents as u64)
            ),
            figures,
            retention: (
                "NDCG@10 retention".to_owned(),
                e.ndcg_at_10_retention.map_or_else(
                    || "undefined (the teacher's NDCG@10 is 0)".to_owned(),
                    pct,
                ),
            ),
            agreement: vec![(
                format!(
                    "Teacher-student Kendall tau (mean over {} queries)",
                    int(e.kendall_queries as u64)
                ),
                f4(e.teacher_student_kendall.unwrap_or(f64::NAN)),
            )],
            warnings,
            sections: vec![Section {
                title: "Queries the two models order least alike (lowest Kendall tau)".to_owned(),
                table,
            }],
            intervals: self
                .bootstrap
                .as_ref()
                .map(|b| sides::intervals(b, "NDCG@10", &|f| f.to_owned())),
            verdict: self.verdict,
            rule: sides::rule("NDCG@10 retention", &self.thresholds),
        }
    }
}

impl Findings for RankingFindings {
    fn verdict(&self) -> Verdict {
        self.verdict
    }

    fn summary(&self) -> &'static SummarySpec {
        &SUMMARY
    }

    fn figure(&self, key: &str) -> Option<f64> {
        let e = &self.evaluation;
        match key {
            "ndcg@10" => e.student.ndcg.get(10),
            "ndcg@10_retention" => e.ndcg_at_10_retention,
            "map" => Some(e.student.map),
            "mrr" => Some(e.student.mrr),
            "teacher_student_kendall" => e.teacher_student_kendall,
            "ndcg@10_gap" => Some(e.teacher.ndcg.get(10)? - e.student.ndcg.get(10)?),
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn teacher_figure(&self, key: &str) -> Option<f64> {
        let t = &self.evaluation.teacher;
        match key {
            "ndcg@10" => t.ndcg.get(10),
            "map" => Some(t.map),
            "mrr" => Some(t.mrr),
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn gate_figure(&self, gate: GateKind) -> Option<GateFigure> {
        GateFigure::retention_only(
            gate,
            "NDCG@10 retention",
            self.evaluation.ndcg_at_10_retention,
            "the teacher's NDCG@10 is 0",
        )
    }

    sides::side_by_side_formats!();
}
