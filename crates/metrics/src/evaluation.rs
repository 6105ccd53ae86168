//! The evaluation: every summary statistic, computed on the host from per-example vectors.

use serde::Serialize;

use crate::calibration::{calibration, CalibrationBin};
use crate::classification::{
    accuracy, averages, per_class_of, ClassMetrics, Confusion, ConfusionCell,
};
use crate::error::{Error, Result};
use crate::rank::{is_constant, kendall_tau_b, spearman};
use crate::significance::{mcnemar, McNemar};
use crate::verdict::Verdict;
use crate::MetricsConfig;

/// Share of examples wrong only for the student above which the report warns (the article's 5%).
pub const ONLY_STUDENT_WRONG_WARNING: f64 = 0.05;

/// Per-example values of one model.
#[derive(Debug, Clone, Default)]
pub struct SideExamples {
    /// Largest probability (float32 softmax at the temperature).
    pub confidence: Vec<f32>,
    /// Predicted class.
    pub prediction: Vec<u32>,
    /// Negative log-likelihood of the true class.
    pub nll: Vec<f64>,
    /// Brier score.
    pub brier: Vec<f64>,
}

/// Per-example values of both models, in input order.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    /// True classes.
    pub labels: Vec<u32>,
    /// The teacher's values.
    pub teacher: SideExamples,
    /// The student's values.
    pub student: SideExamples,
    /// `KL(teacher || student)`.
    pub kl: Vec<f64>,
    /// `KL(student || teacher)`.
    pub reverse_kl: Vec<f64>,
    /// Jensen-Shannon divergence.
    pub js: Vec<f64>,
    /// Cosine distance between the logit rows.
    pub cosine: Vec<f64>,
}

impl Examples {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// One model's statistics.
#[derive(Debug, Clone, Serialize)]
pub struct SideMetrics {
    /// Fraction predicted right.
    pub accuracy: f64,
    /// Support-weighted precision.
    pub precision: f64,
    /// Support-weighted recall.
    pub recall: f64,
    /// Support-weighted F1.
    pub f1: f64,
    /// Macro precision over all classes.
    pub macro_precision: f64,
    /// Macro recall over all classes.
    pub macro_recall: f64,
    /// Macro F1 over all classes.
    pub macro_f1: f64,
    /// Expected calibration error.
    pub ece: f64,
    /// Maximum calibration error.
    pub mce: f64,
    /// Mean negative log-likelihood of the true class.
    pub nll: f64,
    /// Mean Brier score.
    pub brier: f64,
    /// The calibration bins.
    pub ece_bins: Vec<CalibrationBin>,
    /// Per-class precision, recall, F1 and support.
    pub per_class: Vec<ClassMetrics>,
    /// `[true][predicted]` counts, up to
    /// [`DENSE_CONFUSION_MAX_CLASSES`](crate::classification::DENSE_CONFUSION_MAX_CLASSES)
    /// classes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion_matrix: Option<Vec<Vec<u64>>>,
    /// Above that many classes, the non-zero cells of the confusion matrix instead, most
    /// frequent first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion_pairs: Option<Vec<ConfusionCell>>,
}

impl SideMetrics {
    /// The non-zero off-diagonal confusion cells (the mistakes), most frequent first, from
    /// whichever form the counts are kept in.
    pub fn mistakes(&self) -> Vec<ConfusionCell> {
        match (&self.confusion_matrix, &self.confusion_pairs) {
            (Some(m), _) => Confusion::Dense(m.clone()).mistakes(),
            (None, Some(p)) => Confusion::Pairs(p.clone()).mistakes(),
            (None, None) => Vec::new(),
        }
    }
}

/// Quantiles of the per-example KL (NumPy's default linear interpolation).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KlPercentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Rank correlations of the student's confidences with the teacher's.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ranking {
    /// Spearman's rho.
    pub spearman: f64,
    /// Its p-value.
    pub spearman_p: f64,
    /// Kendall's tau-b.
    pub kendall: f64,
    /// Its p-value.
    pub kendall_p: f64,
}

/// The four-way error analysis.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ErrorCounts {
    /// Both right.
    pub both_correct: u64,
    /// Both wrong.
    pub both_wrong: u64,
    /// Teacher right, student wrong.
    pub only_student_wrong: u64,
    /// Student right, teacher wrong.
    pub only_teacher_wrong: u64,
}

/// Every statistic of a teacher/student comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Examples evaluated.
    pub n_examples: usize,
    /// Classes.
    pub num_classes: usize,
    /// Softmax temperature.
    pub temperature: f64,
    /// Calibration bins.
    pub bins: usize,
    /// The teacher's statistics.
    pub teacher: SideMetrics,
    /// The student's statistics.
    pub student: SideMetrics,
    /// Student accuracy / teacher accuracy; `None` when the teacher scores 0.
    pub accuracy_retention: Option<f64>,
    /// Student weighted F1 / teacher weighted F1; `None` when the teacher's is 0.
    pub f1_retention: Option<f64>,
    /// Mean `KL(teacher || student)` over examples (natural log, no T² factor).
    pub kl_divergence: f64,
    /// Mean `KL(student || teacher)`.
    pub reverse_kl_divergence: f64,
    /// Mean Jensen-Shannon divergence.
    pub js_divergence: f64,
    /// Mean cosine distance `1 - cos(teacher logits, student logits)` over examples.
    pub cosine_distance: f64,
    /// Wasserstein-1 distance between the teacher's and the student's confidence
    /// distributions (SciPy's `wasserstein_distance`).
    pub wasserstein_confidence: f64,
    /// Quantiles of the per-example KL.
    pub kl_percentiles: KlPercentiles,
    /// Fraction of examples with the same prediction.
    pub agreement: f64,
    /// Rank correlations of confidences.
    pub ranking: Ranking,
    /// The four-way error analysis.
    pub errors: ErrorCounts,
    /// McNemar's test on the disagreements.
    pub mcnemar: McNemar,
    /// The verdict.
    pub verdict: Verdict,
    /// What to do.
    pub recommendation: String,
    /// Things the reader should know.
    pub warnings: Vec<String>,
    /// The per-example values the statistics came from.
    #[serde(skip)]
    pub examples: Examples,
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        f64::NAN
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// Wasserstein-1 (earth mover's) distance between the empirical distributions of `u` and `v`
/// with equal weights, as `scipy.stats.wasserstein_distance`: the integral of |U(x) - V(x)|
/// over the merged sorted values. NaN when either is empty.
pub fn wasserstein_1(u: &[f64], v: &[f64]) -> f64 {
    if u.is_empty() || v.is_empty() {
        return f64::NAN;
    }
    let sort = |x: &[f64]| {
        let mut x = x.to_vec();
        x.sort_by(f64::total_cmp);
        x
    };
    let (u, v) = (sort(u), sort(v));
    let mut all: Vec<f64> = u.iter().chain(&v).copied().collect();
    all.sort_by(f64::total_cmp);
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let (mut iu, mut iv, mut total) = (0usize, 0usize, 0.0);
    for w in all.windows(2) {
        // CDFs at w[0]: the share of values <= w[0] (SciPy's searchsorted side="right").
        while iu < u.len() && u[iu] <= w[0] {
            iu += 1;
        }
        while iv < v.len() && v[iv] <= w[0] {
            iv += 1;
        }
        total += (iu as f64 / nu - iv as f64 / nv).abs() * (w[1] - w[0]);
    }
    total
}

/// The `q`-th quantile (0..=1) of sorted values, interpolating linearly between neighbours.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let t = h - lo as f64;
            let (a, b) = (sorted[lo], sorted[hi]);
            // NumPy's `_lerp`: the form that is exact at both ends.
            if t >= 0.5 {
                b - (b - a) * (1.0 - t)
            } else {
                a + (b - a) * t
            }
        }
    }
}

fn side_metrics(s: &SideExamples, labels: &[u32], num_classes: usize, bins: usize) -> SideMetrics {
    let classes = per_class_of(&s.prediction, labels, num_classes);
    let (confusion_matrix, confusion_pairs) =
        match Confusion::new(&s.prediction, labels, num_classes) {
            Confusion::Dense(m) => (Some(m), None),
            Confusion::Pairs(p) => (None, Some(p)),
        };
    let avg = averages(&classes);
    let correct: Vec<bool> = s
        .prediction
        .iter()
        .zip(labels)
        .map(|(p, l)| p == l)
        .collect();
    let cal = calibration(&s.confidence, &correct, bins);
    SideMetrics {
        accuracy: accuracy(&s.prediction, labels),
        precision: avg.precision,
        recall: avg.recall,
        f1: avg.f1,
        macro_precision: avg.macro_precision,
        macro_recall: avg.macro_recall,
        macro_f1: avg.macro_f1,
        ece: cal.ece,
        mce: cal.mce,
        nll: mean(&s.nll),
        brier: mean(&s.brier),
        ece_bins: cal.bins,
        per_class: classes,
        confusion_matrix,
        confusion_pairs,
    }
}

fn check_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::Length {
            what,
            expected,
            found,
        })
    }
}

impl Evaluation {
    /// Every statistic from per-example vectors.
    pub fn from_examples(
        examples: Examples,
        num_classes: usize,
        cfg: &MetricsConfig,
    ) -> Result<Evaluation> {
        let n = examples.labels.len();
        if n == 0 {
            return Err(Error::Empty);
        }
        for side in [&examples.teacher, &examples.student] {
            check_len("confidence", n, side.confidence.len())?;
            check_len("prediction", n, side.prediction.len())?;
            check_len("nll", n, side.nll.len())?;
            check_len("brier", n, side.brier.len())?;
            if let Some((row, &p)) = side
                .prediction
                .iter()
                .enumerate()
                .find(|(_, &p)| p as usize >= num_classes)
            {
                return Err(Error::LabelOutOfRange {
                    row,
                    label: i64::from(p),
                    num_classes,
                });
            }
        }
        check_len("kl", n, examples.kl.len())?;
        check_len("reverse_kl", n, examples.reverse_kl.len())?;
        check_len("js", n, examples.js.len())?;
        if let Some((row, &l)) = examples
            .labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= num_classes)
        {
            return Err(Error::LabelOutOfRange {
                row,
                label: i64::from(l),
                num_classes,
            });
        }
        let labels = &examples.labels;
        let teacher = side_metrics(&examples.teacher, labels, num_classes, cfg.bins);
        let student = side_metrics(&examples.student, labels, num_classes, cfg.bins);

        let mut errors = ErrorCounts {
            both_correct: 0,
            both_wrong: 0,
            only_student_wrong: 0,
            only_teacher_wrong: 0,
        };
        let mut agree = 0u64;
        for ((&tp, &sp), &label) in examples
            .teacher
            .prediction
            .iter()
            .zip(&examples.student.prediction)
            .zip(labels)
        {
            agree += u64::from(tp == sp);
            match (tp == label, sp == label) {
                (true, true) => errors.both_correct += 1,
                (false, false) => errors.both_wrong += 1,
                (true, false) => errors.only_student_wrong += 1,
                (false, true) => errors.only_teacher_wrong += 1,
            }
        }

        let mut sorted_kl = examples.kl.clone();
        sorted_kl.sort_by(f64::total_cmp);
        let kl_percentiles = KlPercentiles {
            p50: percentile(&sorted_kl, 0.50),
            p90: percentile(&sorted_kl, 0.90),
            p95: percentile(&sorted_kl, 0.95),
            p99: percentile(&sorted_kl, 0.99),
            max: sorted_kl.last().copied().unwrap_or(f64::NAN),
        };

        let tconf: Vec<f64> = examples
            .teacher
            .confidence
            .iter()
            .map(|&c| f64::from(c))
            .collect();
        let sconf: Vec<f64> = examples
            .student
            .confidence
            .iter()
            .map(|&c| f64::from(c))
            .collect();
        let sp = spearman(&sconf, &tconf);
        let kt = kendall_tau_b(&sconf, &tconf);

        let ratio = |s: f64, t: f64| (t > 0.0).then(|| s / t);
        let accuracy_retention = ratio(student.accuracy, teacher.accuracy);
        let f1_retention = ratio(student.f1, teacher.f1);
        let kl_divergence = mean(&examples.kl);
        let verdict = Verdict::decide(accuracy_retention, kl_divergence, &cfg.thresholds);

        let mut warnings = Vec::new();
        let osw = errors.only_student_wrong as f64 / n as f64;
        if osw > ONLY_STUDENT_WRONG_WARNING {
            warnings.push(format!(
                "{:.1}% of examples are wrong only for the student (above {:.0}%): the \
                 distillation is weak; add transfer data or raise the distillation temperature",
                100.0 * osw,
                100.0 * ONLY_STUDENT_WRONG_WARNING
            ));
        }
        if accuracy_retention.is_none() {
            warnings.push(
                "the teacher gets every example wrong: accuracy retention is undefined".to_owned(),
            );
        }
        for (who, conf) in [("teacher", &tconf), ("student", &sconf)] {
            if n > 1 && is_constant(conf) {
                warnings.push(format!(
                    "the {who}'s confidences are all equal: Spearman and Kendall correlations \
                     are undefined"
                ));
            }
        }
        if n < 3 {
            warnings.push(format!(
                "only {n} example(s): correlations and their p-values are not meaningful"
            ));
        }

        Ok(Evaluation {
            n_examples: n,
            num_classes,
            temperature: cfg.temperature,
            bins: cfg.bins,
            accuracy_retention,
            f1_retention,
            kl_divergence,
            reverse_kl_divergence: mean(&examples.reverse_kl),
            js_divergence: mean(&examples.js),
            cosine_distance: mean(&examples.cosine),
            wasserstein_confidence: wasserstein_1(&tconf, &sconf),
            kl_percentiles,
            agreement: agree as f64 / n as f64,
            ranking: Ranking {
                spearman: sp.statistic,
                spearman_p: sp.p_value,
                kendall: kt.statistic,
                kendall_p: kt.p_value,
            },
            mcnemar: mcnemar(errors.only_student_wrong, errors.only_teacher_wrong),
            errors,
            verdict,
            recommendation: verdict.recommendation().to_owned(),
            warnings,
            teacher,
            student,
            examples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasserstein_is_scipys() {
        // scipy.stats.wasserstein_distance([0, 1, 3], [5, 6, 8]) == 5.0
        assert!((wasserstein_1(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]) - 5.0).abs() < 1e-12);
        // scipy.stats.wasserstein_distance([0.2, 0.9, 0.9, 0.4], [0.5, 0.1]) == 0.3
        let w = wasserstein_1(&[0.2, 0.9, 0.9, 0.4], &[0.5, 0.1]);
        assert!((w - 0.3).abs() < 1e-12, "{w}");
        assert_eq!(wasserstein_1(&[0.3, 0.7], &[0.7, 0.3]), 0.0);
        assert!(wasserstein_1(&[], &[1.0]).is_nan());
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 2.5); // numpy.percentile([1,2,3,4], 50)
        assert!((percentile(&v, 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&v, 1.0), 4.0);
        assert_eq!(percentile(&[7.0], 0.3), 7.0);
    }
}
