//! Regression: MAE, RMSE and R² as scikit-learn computes them, Pearson and Spearman correlations
//! with the targets as SciPy computes them, the student's R² retention, teacher-student Pearson
//! correlation, and the examples where the two models disagree most.
//!
//! Conventions where the references are silent or undefined:
//! - R² follows `sklearn.metrics.r2_score` (`force_finite=True`): with constant targets it is 1
//!   for a perfect prediction and 0 otherwise; with fewer than two examples it is NaN.
//! - Correlations are NaN (JSON `null`) for a constant input, as SciPy returns them.
//! - `r2_retention` is `None` when the teacher's R² is not positive: a teacher no better than
//!   predicting the mean has nothing to retain, and a ratio of two negative R² would rank a worse
//!   student higher.

use serde::Serialize;

use super::{check_finite, check_parallel, retention};
use crate::bootstrap::{
    retention_bootstrap, BootstrapConfig, RetentionBootstrap, RetentionResample,
};
use crate::rank::{pearson, spearman};
use crate::{Error, Result, Thresholds};

/// How many of the largest teacher-student gaps to report.
#[derive(Debug, Clone, Serialize)]
pub struct RegressionConfig {
    /// Number of examples in [`RegressionEvaluation::disagreements`].
    pub top_disagreements: usize,
}

impl Default for RegressionConfig {
    fn default() -> Self {
        Self {
            top_disagreements: 10,
        }
    }
}

/// One model's figures against the targets.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RegressionMetrics {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination (`sklearn.metrics.r2_score`).
    pub r2: f64,
    /// Pearson's r with the targets (`scipy.stats.pearsonr`).
    pub pearson: f64,
    /// Its two-sided p-value.
    pub pearson_p_value: f64,
    /// Spearman's rho with the targets (`scipy.stats.spearmanr`).
    pub spearman: f64,
    /// Its two-sided p-value.
    pub spearman_p_value: f64,
}

/// An example where the teacher and the student predict far apart.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RegressionDisagreement {
    /// 0-based example index.
    pub index: usize,
    /// The target.
    pub target: f64,
    /// The teacher's prediction.
    pub teacher: f64,
    /// The student's prediction.
    pub student: f64,
    /// `|teacher - student|`.
    pub gap: f64,
}

/// Teacher and student on one regression test set.
#[derive(Debug, Clone, Serialize)]
pub struct RegressionEvaluation {
    /// Number of examples.
    pub n: usize,
    /// The teacher's figures.
    pub teacher: RegressionMetrics,
    /// The student's figures.
    pub student: RegressionMetrics,
    /// Student R² / teacher R²; `None` when the teacher's R² is not positive.
    pub r2_retention: Option<f64>,
    /// Pearson's r between the two models' predictions.
    pub teacher_student_pearson: f64,
    /// The examples with the largest `|teacher - student|`, largest first (ties by index).
    pub disagreements: Vec<RegressionDisagreement>,
}

/// `sklearn.metrics.r2_score` of `predictions` against `targets` (same length, finite).
///
/// `1 - SS_res / SS_tot`; when `SS_tot = 0` (constant targets) it is 1 if `SS_res = 0` and 0
/// otherwise (scikit-learn's `force_finite=True`); NaN for fewer than two examples.
pub fn r2_score(targets: &[f64], predictions: &[f64]) -> f64 {
    let n = targets.len();
    if n < 2 {
        return f64::NAN;
    }
    let mean = targets.iter().sum::<f64>() / n as f64;
    let (mut ss_res, mut ss_tot) = (0.0, 0.0);
    for (&y, &p) in targets.iter().zip(predictions) {
        ss_res += (y - p) * (y - p);
        ss_tot += (y - mean) * (y - mean);
    }
    match (ss_res == 0.0, ss_tot == 0.0) {
        (true, _) => 1.0,
        (false, true) => 0.0,
        (false, false) => 1.0 - ss_res / ss_tot,
    }
}

/// [`r2_score`] of the sample in which example `i` appears `weights[i]` times
/// (`sklearn.metrics.r2_score` with integer `sample_weight`, and the same conventions for
/// constant targets and fewer than two examples).
pub fn weighted_r2(targets: &[f64], predictions: &[f64], weights: &[u32]) -> f64 {
    let n: f64 = weights.iter().map(|&w| f64::from(w)).sum();
    if n < 2.0 {
        return f64::NAN;
    }
    let mean = targets
        .iter()
        .zip(weights)
        .map(|(&y, &w)| f64::from(w) * y)
        .sum::<f64>()
        / n;
    let (mut ss_res, mut ss_tot) = (0.0, 0.0);
    for ((&y, &p), &w) in targets.iter().zip(predictions).zip(weights) {
        let w = f64::from(w);
        ss_res += w * (y - p) * (y - p);
        ss_tot += w * (y - mean) * (y - mean);
    }
    match (ss_res == 0.0, ss_tot == 0.0) {
        (true, _) => 1.0,
        (false, true) => 0.0,
        (false, false) => 1.0 - ss_res / ss_tot,
    }
}

/// Paired bootstrap of the examples: intervals of each model's R² and of `r2_retention`, and
/// whether the retention interval straddles a verdict threshold.
pub fn bootstrap_r2(
    targets: &[f64],
    teacher: &[f64],
    student: &[f64],
    thresholds: &Thresholds,
    cfg: &BootstrapConfig,
) -> Result<RetentionBootstrap> {
    validate(
        targets,
        &[
            (teacher, "teacher predictions", "teacher prediction"),
            (student, "student predictions", "student prediction"),
        ],
    )?;
    let figures = |w: &[u32]| {
        (
            weighted_r2(targets, teacher, w),
            weighted_r2(targets, student, w),
        )
    };
    retention_bootstrap(
        &RetentionResample {
            unit: "examples",
            units: targets.len(),
            figure: "r2",
            figures: &figures,
        },
        thresholds,
        cfg,
    )
}

/// One model's [`RegressionMetrics`] against the targets.
///
/// Fails on empty or ragged input and on non-finite values, naming the row.
pub fn score(targets: &[f64], predictions: &[f64]) -> Result<RegressionMetrics> {
    validate(targets, &[(predictions, "predictions", "prediction")])?;
    Ok(metrics(targets, predictions))
}

fn metrics(targets: &[f64], predictions: &[f64]) -> RegressionMetrics {
    let n = targets.len() as f64;
    let (mut abs, mut sq) = (0.0, 0.0);
    for (&y, &p) in targets.iter().zip(predictions) {
        abs += (p - y).abs();
        sq += (p - y) * (p - y);
    }
    let pearson = pearson(targets, predictions);
    let spearman = spearman(targets, predictions);
    RegressionMetrics {
        mae: abs / n,
        rmse: (sq / n).sqrt(),
        r2: r2_score(targets, predictions),
        pearson: pearson.statistic,
        pearson_p_value: pearson.p_value,
        spearman: spearman.statistic,
        spearman_p_value: spearman.p_value,
    }
}

fn validate(targets: &[f64], inputs: &[(&[f64], &'static str, &'static str)]) -> Result<()> {
    if targets.is_empty() {
        return Err(Error::NoInput {
            what: "regression examples",
            hint: "pass at least one target and one prediction per model",
        });
    }
    check_finite(targets, "target")?;
    for &(values, plural, singular) in inputs {
        check_parallel(values, plural, targets, "targets")?;
        check_finite(values, singular)?;
    }
    Ok(())
}

/// Scores the teacher and the student against the targets and against each other.
///
/// `targets`, `teacher` and `student` hold one value per example, in the same order; a
/// float32 export should be widened with `f64::from` (the references compute in float64 on the
/// float32 values).
///
/// ```
/// use distill_eval_metrics::tasks::regression::{evaluate_regression, RegressionConfig};
///
/// let targets = [1.0, 2.0, 3.0, 4.0];
/// let teacher = [1.0, 2.0, 3.0, 5.0];
/// let student = [2.0, 2.0, 3.0, 5.0];
/// let eval = evaluate_regression(&targets, &teacher, &student, &RegressionConfig::default())?;
/// assert_eq!(eval.teacher.mae, 0.25); // |5 - 4| / 4
/// assert_eq!(eval.teacher.r2, 0.8); // 1 - 1 / 5
/// assert_eq!(eval.disagreements[0].index, 0);
/// # Ok::<(), distill_eval_metrics::Error>(())
/// ```
pub fn evaluate_regression(
    targets: &[f64],
    teacher: &[f64],
    student: &[f64],
    cfg: &RegressionConfig,
) -> Result<RegressionEvaluation> {
    validate(
        targets,
        &[
            (teacher, "teacher predictions", "teacher prediction"),
            (student, "student predictions", "student prediction"),
        ],
    )?;
    let t = metrics(targets, teacher);
    let s = metrics(targets, student);

    let mut order: Vec<usize> = (0..targets.len()).collect();
    let gap = |i: usize| (teacher[i] - student[i]).abs();
    // A stable sort keeps equal gaps in example order.
    order.sort_by(|&a, &b| gap(b).total_cmp(&gap(a)));
    let disagreements = order
        .into_iter()
        .take(cfg.top_disagreements)
        .map(|index| RegressionDisagreement {
            index,
            target: targets[index],
            teacher: teacher[index],
            student: student[index],
            gap: gap(index),
        })
        .collect();

    Ok(RegressionEvaluation {
        n: targets.len(),
        r2_retention: retention(s.r2, t.r2),
        teacher_student_pearson: pearson(teacher, student).statistic,
        teacher: t,
        student: s,
        disagreements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn figures_by_hand() {
        // y = 1 2 3 4, p = 1 3 3 6: errors 0 1 0 2; MAE 3/4, RMSE sqrt(5/4), R² 1 - 5/5
        let m = score(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 3.0, 6.0]).unwrap();
        assert_eq!(r4(m.mae), 0.75);
        assert_eq!(r4(m.rmse), 1.1180);
        assert_eq!(r4(m.r2), 0.0);
        // p centred: -2.25 -0.25 -0.25 2.75 (sum sq 12.75); y centred: -1.5 -0.5 0.5 1.5 (5)
        // r = (3.375 + 0.125 - 0.125 + 4.125) / sqrt(5 * 12.75) = 7.5 / 7.9844 = 0.9393
        assert_eq!(r4(m.pearson), 0.9393);
        // ranks of p: 1 2.5 2.5 4 -> rho = 4.5 / sqrt(5 * 4.5) = 0.9487
        assert_eq!(r4(m.spearman), 0.9487);
    }

    #[test]
    fn r2_follows_scikit_learn_on_constant_targets() {
        assert_eq!(r2_score(&[2.0, 2.0, 2.0], &[2.0, 2.0, 2.0]), 1.0);
        assert_eq!(r2_score(&[2.0, 2.0, 2.0], &[2.0, 2.0, 3.0]), 0.0);
        assert_eq!(r2_score(&[1.0, 3.0], &[1.0, 3.0]), 1.0);
        assert!(r2_score(&[1.0], &[1.0]).is_nan());
    }

    #[test]
    fn retention_and_disagreements() {
        let y = [0.0, 1.0, 2.0, 3.0, 4.0];
        let t = [0.0, 1.0, 2.0, 3.0, 5.0]; // SS_res 1, SS_tot 10: R² 9/10
        let s = [1.0, 1.0, 3.0, 3.0, 4.0]; // SS_res 2: R² 8/10
        let e = evaluate_regression(&y, &t, &s, &RegressionConfig::default()).unwrap();
        assert_eq!(r4(e.r2_retention.unwrap()), 0.8889); // 8/9
        let idx: Vec<usize> = e.disagreements.iter().map(|d| d.index).collect();
        assert_eq!(idx, vec![0, 2, 4, 1, 3]); // gaps 1 1 1 then 0 0, ties by index
        assert_eq!(r4(e.disagreements[2].gap), 1.0);

        // A teacher worse than the mean leaves nothing to retain.
        let bad = [4.0, 3.0, 2.0, 1.0, 0.0];
        let e = evaluate_regression(&y, &bad, &s, &RegressionConfig::default()).unwrap();
        assert!(e.teacher.r2 < 0.0);
        assert_eq!(e.r2_retention, None);
        // s centred: -1.4 -1.4 .6 .6 1.6; r = -8 / sqrt(10 * 7.2)
        assert_eq!(r4(e.teacher_student_pearson), -0.9428);
    }

    #[test]
    fn weighted_r2_is_the_r2_of_the_repeated_sample() {
        let y = [0.0, 1.0, 2.0, 3.0, 4.0];
        let p = [0.5, 1.0, 2.5, 2.0, 4.0];
        let w = [2, 0, 1, 3, 1];
        let repeated: (Vec<f64>, Vec<f64>) = w
            .iter()
            .enumerate()
            .flat_map(|(i, &k)| std::iter::repeat_n((y[i], p[i]), k as usize))
            .unzip();
        let direct = r2_score(&repeated.0, &repeated.1);
        assert!((weighted_r2(&y, &p, &w) - direct).abs() < 1e-12);
        assert_eq!(weighted_r2(&y, &p, &[1; 5]), r2_score(&y, &p));
        // One example drawn every time: constant targets, scikit-learn's finite convention.
        assert_eq!(weighted_r2(&y, &p, &[0, 5, 0, 0, 0]), 1.0);
        assert_eq!(weighted_r2(&y, &p, &[5, 0, 0, 0, 0]), 0.0);
        assert!(weighted_r2(&y, &p, &[0, 1, 0, 0, 0]).is_nan());
    }

    /// `n` targets with a teacher close to them and a student a little further.
    fn noisy(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let y: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..10.0)).collect();
        let t = y.iter().map(|v| v + rng.random_range(-1.0..1.0)).collect();
        let s = y.iter().map(|v| v + rng.random_range(-1.5..1.5)).collect();
        (y, t, s)
    }

    #[test]
    fn r2_bootstrap_is_seeded_contains_the_estimate_and_narrows() {
        let cfg = |seed| BootstrapConfig {
            resamples: 300,
            seed,
            level: 0.95,
        };
        let th = Thresholds::default();
        let (y, t, s) = noisy(200, 1);
        let e = evaluate_regression(&y, &t, &s, &RegressionConfig::default()).unwrap();
        let a = bootstrap_r2(&y, &t, &s, &th, &cfg(4)).unwrap();
        let b = bootstrap_r2(&y, &t, &s, &th, &cfg(4)).unwrap();
        let c = bootstrap_r2(&y, &t, &s, &th, &cfg(5)).unwrap();
        let r = a.retention.unwrap();
        assert_eq!(r.lower.to_bits(), b.retention.unwrap().lower.to_bits());
        assert_ne!(r.lower.to_bits(), c.retention.unwrap().lower.to_bits());
        assert!((r.estimate - e.r2_retention.unwrap()).abs() < 1e-12);
        let st = a.student.unwrap();
        assert!((st.estimate - e.student.r2).abs() < 1e-12);
        for i in [a.teacher.unwrap(), st, r] {
            assert!(i.lower < i.estimate && i.estimate < i.upper, "{i:?}");
        }
        let (y, t, s) = noisy(20_000, 1);
        let large = bootstrap_r2(&y, &t, &s, &th, &cfg(4)).unwrap();
        let w = |i: crate::Interval| i.upper - i.lower;
        assert!(w(large.retention.unwrap()) * 4.0 < w(r));
        assert!(w(large.student.unwrap()) * 4.0 < w(st));
    }

    #[test]
    fn bad_input_is_an_error() {
        let cfg = RegressionConfig::default();
        assert!(matches!(
            evaluate_regression(&[], &[], &[], &cfg),
            Err(Error::NoInput { .. })
        ));
        assert!(matches!(
            evaluate_regression(&[1.0, 2.0], &[1.0, 2.0], &[1.0], &cfg),
            Err(Error::Ragged {
                what: "student predictions",
                found: 1,
                expected: 2,
                ..
            })
        ));
        assert!(matches!(
            evaluate_regression(&[1.0, 2.0], &[1.0, f64::INFINITY], &[1.0, 2.0], &cfg),
            Err(Error::NotFinite {
                what: "teacher prediction",
                row: 1,
                ..
            })
        ));
        assert!(matches!(
            score(&[f64::NAN], &[1.0]),
            Err(Error::NotFinite {
                what: "target",
                row: 0,
                ..
            })
        ));
    }
}
