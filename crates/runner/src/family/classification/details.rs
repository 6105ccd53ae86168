//! What the HTML report shows beyond the statistics: the examples where the student diverges
//! from the teacher, and the distributions behind the figures (confidence and KL histograms).
//!
//! Computed once from the evaluation's per-example vectors when the report is built, so the
//! renderers only draw.

use distill_eval_metrics::Evaluation;
use serde::Serialize;

use crate::engine::ExampleText;

/// One model's answer on one example.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// Predicted class name.
    pub prediction: String,
    /// Probability of the prediction.
    pub confidence: f64,
    /// Probability given to the true class.
    pub p_true: f64,
}

/// One example shown in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ExampleRow {
    /// 0-based row in the input.
    pub index: usize,
    /// The input text, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The second text of a pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// The true class name.
    pub label: String,
    /// The teacher's answer.
    pub teacher: Answer,
    /// The student's answer.
    pub student: Answer,
    /// `KL(teacher || student)` on this example.
    pub kl: f64,
}

/// Where the student diverges.
#[derive(Debug, Clone, Serialize)]
pub struct Divergence {
    /// The examples with the largest KL(teacher || student), largest first.
    pub largest_kl: Vec<ExampleRow>,
    /// Examples the teacher gets right and the student wrong, largest KL first.
    pub only_student_wrong: Vec<ExampleRow>,
    /// How many examples are wrong only for the student (the list may be cut).
    pub only_student_wrong_total: usize,
}

/// Counts over shared bin edges.
#[derive(Debug, Clone, Serialize)]
pub struct Histograms {
    /// Confidence bin edges (0 to 1).
    pub confidence_edges: Vec<f64>,
    /// Teacher confidences per bin.
    pub teacher_confidence: Vec<u64>,
    /// Student confidences per bin.
    pub student_confidence: Vec<u64>,
    /// KL bin edges (0 to the largest KL).
    pub kl_edges: Vec<f64>,
    /// Per-example KL per bin.
    pub kl: Vec<u64>,
}

/// Bins for the confidence histograms.
const CONFIDENCE_BINS: usize = 20;
/// Bins for the KL histogram.
const KL_BINS: usize = 30;

fn counts(values: impl Iterator<Item = f64>, edges: &[f64]) -> Vec<u64> {
    let bins = edges.len() - 1;
    let (lo, hi) = (edges[0], edges[bins]);
    let width = (hi - lo) / bins as f64;
    let mut out = vec![0u64; bins];
    for v in values.filter(|v| v.is_finite()) {
        let i = if width > 0.0 {
            (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1)
        } else {
            0
        };
        out[i] += 1;
    }
    out
}

fn edges(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    (0..=bins)
        .map(|i| lo + (hi - lo) * i as f64 / bins as f64)
        .collect()
}

/// Confidence and KL histograms of an evaluation.
pub(super) fn histograms(e: &Evaluation) -> Histograms {
    let x = &e.examples;
    let confidence_edges = edges(0.0, 1.0, CONFIDENCE_BINS);
    let max_kl = e.kl_percentiles.max.max(1e-12);
    let kl_edges = edges(0.0, max_kl, KL_BINS);
    Histograms {
        teacher_confidence: counts(
            x.teacher.confidence.iter().map(|&c| f64::from(c)),
            &confidence_edges,
        ),
        student_confidence: counts(
            x.student.confidence.iter().map(|&c| f64::from(c)),
            &confidence_edges,
        ),
        kl: counts(x.kl.iter().copied(), &kl_edges),
        confidence_edges,
        kl_edges,
    }
}

/// The `k` examples with the largest KL, and up to `k` only-student-wrong examples.
pub(super) fn divergence(
    e: &Evaluation,
    class_names: &[String],
    texts: Option<&[ExampleText]>,
    k: usize,
) -> Divergence {
    let x = &e.examples;
    let name = |c: u32| {
        class_names
            .get(c as usize)
            .cloned()
            .unwrap_or_else(|| c.to_string())
    };
    let row = |i: usize| {
        let answer = |s: &distill_eval_metrics::SideExamples| Answer {
            prediction: name(s.prediction[i]),
            confidence: f64::from(s.confidence[i]),
            p_true: (-s.nll[i]).exp(),
        };
        let text = texts.and_then(|t| t.get(i));
        ExampleRow {
            index: i,
            text: text.map(|t| t.text.clone()),
            pair: text.and_then(|t| t.pair.clone()),
            label: name(x.labels[i]),
            teacher: answer(&x.teacher),
            student: answer(&x.student),
            kl: x.kl[i],
        }
    };
    let mut by_kl: Vec<usize> = (0..x.len()).collect();
    by_kl.sort_by(|&a, &b| x.kl[b].total_cmp(&x.kl[a]).then(a.cmp(&b)));
    let only_student_wrong: Vec<usize> = by_kl
        .iter()
        .copied()
        .filter(|&i| {
            x.teacher.prediction[i] == x.labels[i] && x.student.prediction[i] != x.labels[i]
        })
        .collect();
    Divergence {
        largest_kl: by_kl.iter().take(k).map(|&i| row(i)).collect(),
        only_student_wrong_total: only_student_wrong.len(),
        only_student_wrong: only_student_wrong.iter().take(k).map(|&i| row(i)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fill_the_right_bins() {
        let e = edges(0.0, 1.0, 4);
        assert_eq!(
            counts([0.0, 0.24, 0.25, 0.99, 1.0, f64::NAN].into_iter(), &e),
            vec![2, 1, 0, 2]
        );
        let flat = edges(0.0, 0.0, 3);
        assert_eq!(counts([0.0, 0.0].into_iter(), &flat), vec![2, 0, 0]);
    }
}
