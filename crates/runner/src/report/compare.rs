//! `compare`'s summary: one teacher, several students side by side, and which of them are worth
//! considering (the Pareto frontier of the family's quality figure against its divergence).

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::gate::GateResult;
use super::{FigureSpec, Report, SummarySpec, SCHEMA_VERSION};
use crate::engine::{DatasetInfo, ModelRun};

/// Named figures, serialised as `key: value` entries in order (`null` when undefined).
#[derive(Debug, Clone)]
pub struct Figures(pub Vec<(&'static str, Option<f64>)>);

impl Figures {
    /// The figures of `specs`, read with `get`.
    pub fn read(specs: &[FigureSpec], get: impl Fn(&str) -> Option<f64>) -> Self {
        Self(specs.iter().map(|s| (s.key, get(s.key))).collect())
    }

    /// The value of `key` (`None` when undefined or absent).
    pub fn get(&self, key: &str) -> Option<f64> {
        self.0.iter().find(|(k, _)| *k == key).and_then(|(_, v)| *v)
    }

    /// The value of `key`, NaN when undefined.
    pub fn value(&self, key: &str) -> f64 {
        self.get(key).unwrap_or(f64::NAN)
    }
}

impl Serialize for Figures {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, &value.filter(|v| v.is_finite()))?;
        }
        map.end()
    }
}

/// The teacher's side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct TeacherSummary {
    /// Model id or logits file.
    pub id: String,
    /// The family's teacher figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Parameters, when a model was run.
    pub parameters: Option<usize>,
    /// Throughput, when a model was run.
    pub examples_per_second: Option<f64>,
}

impl TeacherSummary {
    /// The teacher's figures from one of its reports (they are the same in every one); `file`
    /// names a teacher read from saved outputs.
    pub fn new(report: &Report, file: Option<&str>) -> Self {
        let run = report.teacher_model.as_ref();
        let spec = report.findings.summary();
        TeacherSummary {
            id: run
                .map(|r| r.info.id.clone())
                .or_else(|| file.map(str::to_owned))
                .unwrap_or_default(),
            figures: Figures::read(spec.teacher, |k| report.findings.teacher_figure(k)),
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
    /// The family's student figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Verdict.
    pub verdict: distill_eval_metrics::Verdict,
    /// No other student is at least as good with at most the same divergence (and better in
    /// one).
    pub pareto_optimal: bool,
}

/// Students side by side.
#[derive(Debug, Serialize)]
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
    pub gate: Option<GateResult>,
    /// What the family's summaries show.
    #[serde(skip)]
    pub spec: &'static SummarySpec,
    /// Each student's full report (for the HTML report and gates).
    #[serde(skip)]
    pub reports: Vec<Report>,
}

/// For points `(quality, divergence)`, whether each is on the Pareto frontier (higher quality
/// and lower divergence are better). Equal points are all kept; a NaN divergence is never
/// optimal.
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

impl Comparison {
    /// Summarises the reports of several students of one teacher (at least one report);
    /// `teacher_file` names a teacher read from saved outputs. The gate outcome covers every
    /// student: each must pass.
    pub fn new(
        reports: Vec<Report>,
        teacher_file: Option<&str>,
        dataset: DatasetInfo,
        temperature: f64,
    ) -> Self {
        let spec = reports[0].findings.summary();
        let points: Vec<(f64, f64)> = reports
            .iter()
            .map(|r| {
                let get = |k| r.findings.figure(k).unwrap_or(f64::NAN);
                (get(spec.quality), get(spec.divergence))
            })
            .collect();
        let front = pareto_front(&points);
        let students = reports
            .iter()
            .zip(front)
            .map(|(r, pareto_optimal)| summary(r, pareto_optimal))
            .collect();
        let gated: Vec<&Report> = reports.iter().filter(|r| r.gate.is_some()).collect();
        let gate = (!gated.is_empty()).then(|| {
            GateResult::new(
                gated
                    .iter()
                    .flat_map(|r| {
                        let id = student_id(r);
                        r.gate_failures().iter().map(move |f| format!("{id}: {f}"))
                    })
                    .collect(),
            )
        });
        Comparison {
            schema_version: SCHEMA_VERSION,
            temperature,
            teacher: TeacherSummary::new(&reports[0], teacher_file),
            students,
            dataset,
            gate,
            spec,
            reports,
        }
    }
}

/// The student's model id, else the saved outputs it was read from.
fn student_id(r: &Report) -> &str {
    match (&r.student_model, &r.inputs) {
        (Some(m), _) => &m.info.id,
        (None, Some(i)) => &i.student_logits,
        (None, None) => "",
    }
}

fn summary(r: &Report, pareto_optimal: bool) -> StudentSummary {
    let run: Option<&ModelRun> = r.student_model.as_ref();
    StudentSummary {
        id: student_id(r).to_owned(),
        revision: run.and_then(|m| m.info.revision.clone()),
        architecture: run.map(|m| m.info.architecture.clone()).unwrap_or_default(),
        parameters: run.map_or(0, |m| m.info.parameters),
        examples_per_second: run.map_or(f64::NAN, |m| m.examples_per_second),
        figures: Figures::read(r.findings.summary().figures, |k| r.findings.figure(k)),
        verdict: r.verdict(),
        pareto_optimal,
    }
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
    fn figures_serialize_in_order_with_undefined_as_null() {
        let f = Figures(vec![("b", Some(1.5)), ("a", None), ("c", Some(f64::NAN))]);
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"b":1.5,"a":null,"c":null}"#
        );
        assert_eq!(f.get("b"), Some(1.5));
        assert!(f.value("a").is_nan());
    }
}
