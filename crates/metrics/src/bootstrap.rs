//! Paired bootstrap confidence intervals for the headline figures, and whether they straddle a
//! verdict threshold.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use crate::calibration::{bin_index, edges};
use crate::error::{Error, Result};
use crate::evaluation::{percentile, Examples};
use crate::verdict::Thresholds;

/// How to resample.
#[derive(Debug, Clone)]
pub struct BootstrapConfig {
    /// Number of resamples (at least 1).
    pub resamples: usize,
    /// Seed of the resampling; the same seed gives the same intervals.
    pub seed: u64,
    /// Coverage of the intervals, e.g. 0.95.
    pub level: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: 1000,
            seed: 0,
            level: 0.95,
        }
    }
}

/// A figure and its percentile interval.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Interval {
    /// The figure on the full data.
    pub estimate: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
}

impl Interval {
    /// Whether `t` lies within the interval (ends included).
    pub fn straddles(&self, t: f64) -> bool {
        self.lower <= t && t <= self.upper
    }
}

/// Bootstrap intervals of the headline figures.
#[derive(Debug, Clone, Serialize)]
pub struct Bootstrap {
    /// Resamples drawn.
    pub resamples: usize,
    /// Seed used.
    pub seed: u64,
    /// Coverage of the intervals.
    pub level: f64,
    /// Teacher accuracy.
    pub teacher_accuracy: Interval,
    /// Student accuracy.
    pub student_accuracy: Interval,
    /// Accuracy retention; `None` when the teacher scores 0 on the data or on most resamples.
    pub accuracy_retention: Option<Interval>,
    /// Mean KL(teacher || student).
    pub kl_divergence: Interval,
    /// Student ECE minus teacher ECE.
    pub ece_gap: Interval,
    /// One sentence per verdict threshold an interval straddles.
    pub borderline: Vec<String>,
}

/// Per-model values the resampling needs, precomputed once.
struct Side {
    correct: Vec<bool>,
    bin: Vec<u32>,
    confidence: Vec<f64>,
}

impl Side {
    fn new(conf: &[f32], pred: &[u32], labels: &[u32], e: &[f64]) -> Self {
        Side {
            correct: pred.iter().zip(labels).map(|(p, l)| p == l).collect(),
            bin: conf
                .iter()
                .map(|&c| bin_index(e, f64::from(c)) as u32)
                .collect(),
            confidence: conf.iter().map(|&c| f64::from(c)).collect(),
        }
    }
}

/// Accuracy and ECE of one model under example weights (multiplicities of a resample).
fn weighted(side: &Side, weights: &[u32], bins: usize, n: f64) -> (f64, f64) {
    let mut count = vec![0f64; bins];
    let mut right = vec![0f64; bins];
    let mut conf = vec![0f64; bins];
    let mut total_right = 0.0;
    for (i, &w) in weights.iter().enumerate() {
        if w == 0 {
            continue;
        }
        let w = f64::from(w);
        let b = side.bin[i] as usize;
        count[b] += w;
        conf[b] += w * side.confidence[i];
        if side.correct[i] {
            right[b] += w;
            total_right += w;
        }
    }
    let ece = (0..bins)
        .filter(|&b| count[b] > 0.0)
        .map(|b| (right[b] / count[b] - conf[b] / count[b]).abs() * count[b] / n)
        .sum();
    (total_right / n, ece)
}

/// Figures of one resample: teacher accuracy, student accuracy, KL, ECE gap.
type Figures = (f64, f64, f64, f64);

fn figures(t: &Side, s: &Side, kl: &[f64], weights: &[u32], bins: usize) -> Figures {
    let n: f64 = weights.iter().map(|&w| f64::from(w)).sum();
    let (ta, te) = weighted(t, weights, bins, n);
    let (sa, se) = weighted(s, weights, bins, n);
    let kl_mean = weights
        .iter()
        .zip(kl)
        .map(|(&w, &k)| f64::from(w) * k)
        .sum::<f64>()
        / n;
    (ta, sa, kl_mean, se - te)
}

/// The multiplicities of resample `i` of `n` units: `n` draws with replacement from a
/// generator seeded by splitmix64 of `(seed, i)`, so every resample has its own reproducible
/// stream whatever the number of threads.
pub fn resample_weights(seed: u64, i: usize, n: usize) -> Vec<u32> {
    let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let mut rng = StdRng::seed_from_u64(z ^ (z >> 31));
    let mut weights = vec![0u32; n];
    for _ in 0..n {
        weights[rng.random_range(0..n)] += 1;
    }
    weights
}

fn interval(estimate: f64, mut values: Vec<f64>, level: f64) -> Interval {
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    Interval {
        estimate,
        lower: percentile(&values, tail),
        upper: percentile(&values, 1.0 - tail),
    }
}

/// Paired bootstrap: each resample draws `n` examples with replacement (the same draws for the
/// teacher and the student), and each interval is the percentile interval of the resampled
/// figures. Resamples run in parallel, each from its own generator seeded by `(seed, index)`,
/// so the result does not depend on the number of threads.
pub fn bootstrap(
    examples: &Examples,
    bins: usize,
    thresholds: &Thresholds,
    cfg: &BootstrapConfig,
) -> Result<Bootstrap> {
    let n = examples.len();
    if n == 0 {
        return Err(Error::Empty);
    }
    if cfg.resamples == 0 || !(cfg.level > 0.0 && cfg.level < 1.0) {
        return Err(Error::InvalidConfig {
            name: "the bootstrap",
            expected: "at least 1 resample and a level strictly between 0 and 1",
            value: format!("{} resamples at level {}", cfg.resamples, cfg.level),
            hint: "use e.g. 1000 resamples at level 0.95, or turn the bootstrap off",
        });
    }
    let bins = bins.max(1);
    let e = edges(bins);
    let labels = &examples.labels;
    let t = Side::new(
        &examples.teacher.confidence,
        &examples.teacher.prediction,
        labels,
        &e,
    );
    let s = Side::new(
        &examples.student.confidence,
        &examples.student.prediction,
        labels,
        &e,
    );
    let full = figures(&t, &s, &examples.kl, &vec![1; n], bins);
    let draws: Vec<Figures> = (0..cfg.resamples)
        .into_par_iter()
        .map(|i| {
            figures(
                &t,
                &s,
                &examples.kl,
                &resample_weights(cfg.seed, i, n),
                bins,
            )
        })
        .collect();
    let col = |f: fn(&Figures) -> f64| draws.iter().map(f).collect::<Vec<f64>>();
    let teacher_accuracy = interval(full.0, col(|d| d.0), cfg.level);
    let student_accuracy = interval(full.1, col(|d| d.1), cfg.level);
    let kl_divergence = interval(full.2, col(|d| d.2), cfg.level);
    let ece_gap = interval(full.3, col(|d| d.3), cfg.level);
    let ratios: Vec<f64> = draws
        .iter()
        .filter(|d| d.0 > 0.0)
        .map(|d| d.1 / d.0)
        .collect();
    let accuracy_retention = (full.0 > 0.0 && ratios.len() * 2 > cfg.resamples)
        .then(|| interval(full.1 / full.0, ratios, cfg.level));

    let pct = (cfg.level * 100.0).round();
    let mut borderline = Vec::new();
    if let Some(r) = &accuracy_retention {
        let crossed = [
            ("EXCELLENT", thresholds.excellent_retention),
            ("GOOD", thresholds.good_retention),
            ("ACCEPTABLE", thresholds.acceptable_retention),
        ]
        .into_iter()
        .filter(|&(_, t)| r.straddles(t))
        .collect::<Vec<_>>();
        if let Some(which) = thresholds_phrase(&crossed) {
            borderline.push(format!(
                "accuracy retention {pct}% interval [{:.3}, {:.3}] straddles {which}: the \
                 verdict could change with other test data",
                r.lower, r.upper
            ));
        }
    }
    let crossed = [
        ("EXCELLENT", thresholds.excellent_kl),
        ("GOOD", thresholds.good_kl),
    ]
    .into_iter()
    .filter(|&(_, t)| kl_divergence.straddles(t))
    .collect::<Vec<_>>();
    if let Some(which) = thresholds_phrase(&crossed) {
        borderline.push(format!(
            "KL {pct}% interval [{:.4}, {:.4}] straddles {which}: the verdict could change \
             with other test data",
            kl_divergence.lower, kl_divergence.upper
        ));
    }
    Ok(Bootstrap {
        resamples: cfg.resamples,
        seed: cfg.seed,
        level: cfg.level,
        teacher_accuracy,
        student_accuracy,
        accuracy_retention,
        kl_divergence,
        ece_gap,
        borderline,
    })
}

/// Bootstrap intervals of a family judged by the retention of one figure (R², NDCG@10, BLEU,
/// mAP): each model's figure, and the student's retention of it.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionBootstrap {
    /// Resamples drawn.
    pub resamples: usize,
    /// Seed used.
    pub seed: u64,
    /// Coverage of the intervals.
    pub level: f64,
    /// What was resampled: `examples`, `queries`, `segments` or `images`.
    pub unit: &'static str,
    /// How many of them the data has.
    pub units: usize,
    /// The retained figure's name (`r2`, `ndcg@10`, `bleu`, `map`).
    pub figure: &'static str,
    /// The teacher's figure; `None` when it is undefined on the data.
    pub teacher: Option<Interval>,
    /// The student's figure; `None` when it is undefined on the data.
    pub student: Option<Interval>,
    /// Student / teacher; `None` when the teacher's figure is not positive on the data or on
    /// half of the resamples or more.
    pub retention: Option<Interval>,
    /// One sentence per verdict threshold the retention interval straddles.
    pub borderline: Vec<String>,
    /// Intervals of further figures on the same resamples (generation's chrF).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<FigureIntervals>,
}

/// Both models' intervals of one figure.
#[derive(Debug, Clone, Serialize)]
pub struct FigureIntervals {
    /// The figure's name.
    pub figure: &'static str,
    /// The teacher's; `None` when undefined on the data.
    pub teacher: Option<Interval>,
    /// The student's; `None` when undefined on the data.
    pub student: Option<Interval>,
}

/// What a [`retention_bootstrap`] resamples and how it recomputes the figure.
pub struct RetentionResample<'a> {
    /// What a unit is (`examples`, `queries`, `segments`, `images`).
    pub unit: &'static str,
    /// Number of units.
    pub units: usize,
    /// The figure's name.
    pub figure: &'static str,
    /// `(teacher, student)` figures under unit multiplicities (all ones for the full data);
    /// NaN where a figure is undefined.
    pub figures: &'a (dyn Fn(&[u32]) -> (f64, f64) + Sync),
}

/// A (teacher, student) pair of one figure.
type Pair = (f64, f64);

/// Both models' figures on the full data and on each resample.
fn draw(r: &RetentionResample<'_>, cfg: &BootstrapConfig) -> Result<(Pair, Vec<Pair>)> {
    if r.units == 0 {
        return Err(Error::Empty);
    }
    if cfg.resamples == 0 || !(cfg.level > 0.0 && cfg.level < 1.0) {
        return Err(Error::InvalidConfig {
            name: "the bootstrap",
            expected: "at least 1 resample and a level strictly between 0 and 1",
            value: format!("{} resamples at level {}", cfg.resamples, cfg.level),
            hint: "use e.g. 1000 resamples at level 0.95, or turn the bootstrap off",
        });
    }
    let full = (r.figures)(&vec![1; r.units]);
    let draws = (0..cfg.resamples)
        .into_par_iter()
        .map(|i| (r.figures)(&resample_weights(cfg.seed, i, r.units)))
        .collect();
    Ok((full, draws))
}

/// The percentile intervals of both models' defined resampled values.
fn sides(
    figure: &'static str,
    full: (f64, f64),
    draws: &[(f64, f64)],
    level: f64,
) -> FigureIntervals {
    let defined = |estimate: f64, values: Vec<f64>| {
        let values: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
        (!estimate.is_nan() && !values.is_empty()).then(|| interval(estimate, values, level))
    };
    FigureIntervals {
        figure,
        teacher: defined(full.0, draws.iter().map(|d| d.0).collect()),
        student: defined(full.1, draws.iter().map(|d| d.1).collect()),
    }
}

/// Both models' intervals of a further figure, on the same resamples as a
/// [`retention_bootstrap`] with the same units and configuration.
pub fn figure_intervals(
    r: &RetentionResample<'_>,
    cfg: &BootstrapConfig,
) -> Result<FigureIntervals> {
    let (full, draws) = draw(r, cfg)?;
    Ok(sides(r.figure, full, &draws, cfg.level))
}

/// Paired bootstrap of a retention-judged family: each resample draws `units` units with
/// replacement (the same draws for both models, as [`resample_weights`]), recomputes both
/// models' figures from the multiplicities, and each interval is the percentile interval of
/// the defined resampled values. The retention of a resample is `student / teacher` where the
/// teacher's figure is positive (the families' convention).
pub fn retention_bootstrap(
    r: &RetentionResample<'_>,
    thresholds: &Thresholds,
    cfg: &BootstrapConfig,
) -> Result<RetentionBootstrap> {
    let (full, draws) = draw(r, cfg)?;
    let FigureIntervals {
        teacher, student, ..
    } = sides(r.figure, full, &draws, cfg.level);
    let ratios: Vec<f64> = draws
        .iter()
        .filter(|d| d.0 > 0.0 && !d.1.is_nan())
        .map(|d| d.1 / d.0)
        .collect();
    let retention = (full.0 > 0.0 && !full.1.is_nan() && ratios.len() * 2 > cfg.resamples)
        .then(|| interval(full.1 / full.0, ratios, cfg.level));
    let mut borderline = Vec::new();
    if let Some(i) = &retention {
        let crossed = [
            ("EXCELLENT", thresholds.excellent_retention),
            ("GOOD", thresholds.good_retention),
            ("ACCEPTABLE", thresholds.acceptable_retention),
        ]
        .into_iter()
        .filter(|&(_, t)| i.straddles(t))
        .collect::<Vec<_>>();
        if let Some(which) = thresholds_phrase(&crossed) {
            borderline.push(format!(
                "{} retention {}% interval [{:.3}, {:.3}] straddles {which}: the verdict could \
                 change with other test data",
                r.figure,
                (cfg.level * 100.0).round(),
                i.lower,
                i.upper
            ));
        }
    }
    Ok(RetentionBootstrap {
        resamples: cfg.resamples,
        seed: cfg.seed,
        level: cfg.level,
        unit: r.unit,
        units: r.units,
        figure: r.figure,
        teacher,
        student,
        retention,
        borderline,
        also: Vec::new(),
    })
}

/// "the GOOD threshold 0.92", or "the EXCELLENT (0.95) and GOOD (0.92) thresholds" when an
/// interval straddles several; `None` for none.
fn thresholds_phrase(crossed: &[(&str, f64)]) -> Option<String> {
    match crossed {
        [] => None,
        [(name, t)] => Some(format!("the {name} threshold {t}")),
        [init @ .., (last, lt)] => {
            let init: Vec<String> = init.iter().map(|(n, t)| format!("{n} ({t})")).collect();
            let sep = if init.len() > 1 { ", and" } else { " and" };
            Some(format!(
                "the {}{sep} {last} ({lt}) thresholds",
                init.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::SideExamples;
    use crate::{Evaluation, MetricsConfig};

    /// `n` examples: the teacher right with probability 0.9, the student 0.85, KL noisy.
    fn synthetic(n: usize, seed: u64) -> Examples {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut side = |p_right: f64| {
            let mut s = SideExamples::default();
            for _ in 0..n {
                let right = rng.random_bool(p_right);
                s.prediction.push(u32::from(!right));
                s.confidence.push(rng.random_range(0.5f32..1.0));
                s.nll.push(0.1);
                s.brier.push(0.1);
            }
            s
        };
        let teacher = side(0.9);
        let student = side(0.85);
        let kl: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..0.2)).collect();
        Examples {
            labels: vec![0; n],
            teacher,
            student,
            reverse_kl: kl.clone(),
            js: kl.clone(),
            cosine: kl.clone(),
            kl,
        }
    }

    fn cfg(seed: u64) -> BootstrapConfig {
        BootstrapConfig {
            resamples: 400,
            seed,
            level: 0.95,
        }
    }

    #[test]
    fn intervals_contain_the_estimates_that_match_the_evaluation() {
        let x = synthetic(2000, 1);
        let eval = Evaluation::from_examples(x.clone(), 2, &MetricsConfig::default()).unwrap();
        let b = bootstrap(&x, 10, &Thresholds::default(), &cfg(7)).unwrap();
        let r = b.accuracy_retention.unwrap();
        for (i, est) in [
            (b.teacher_accuracy, eval.teacher.accuracy),
            (b.student_accuracy, eval.student.accuracy),
            (r, eval.accuracy_retention.unwrap()),
            (b.kl_divergence, eval.kl_divergence),
            (b.ece_gap, eval.student.ece - eval.teacher.ece),
        ] {
            assert!((i.estimate - est).abs() < 1e-12, "{i:?} vs {est}");
            assert!(i.lower <= i.estimate && i.estimate <= i.upper, "{i:?}");
            assert!(i.lower < i.upper, "{i:?}");
        }
    }

    #[test]
    fn the_seed_reproduces_and_changes_the_intervals() {
        let x = synthetic(500, 2);
        let t = Thresholds::default();
        let a = bootstrap(&x, 10, &t, &cfg(11)).unwrap();
        let b = bootstrap(&x, 10, &t, &cfg(11)).unwrap();
        let c = bootstrap(&x, 10, &t, &cfg(12)).unwrap();
        assert_eq!(
            a.kl_divergence.lower.to_bits(),
            b.kl_divergence.lower.to_bits()
        );
        assert_eq!(a.ece_gap.upper.to_bits(), b.ece_gap.upper.to_bits());
        assert_ne!(
            a.kl_divergence.lower.to_bits(),
            c.kl_divergence.lower.to_bits()
        );
    }

    #[test]
    fn intervals_narrow_with_more_data() {
        let t = Thresholds::default();
        let small = bootstrap(&synthetic(200, 3), 10, &t, &cfg(1)).unwrap();
        let large = bootstrap(&synthetic(20_000, 3), 10, &t, &cfg(1)).unwrap();
        let w = |i: Interval| i.upper - i.lower;
        assert!(w(large.student_accuracy) * 4.0 < w(small.student_accuracy));
        assert!(w(large.kl_divergence) * 4.0 < w(small.kl_divergence));
    }

    #[test]
    fn identical_models_and_borderline_verdicts() {
        let mut x = synthetic(300, 4);
        x.student = x.teacher.clone();
        x.kl = vec![0.0; 300];
        let b = bootstrap(&x, 10, &Thresholds::default(), &cfg(5)).unwrap();
        assert_eq!((b.kl_divergence.lower, b.kl_divergence.upper), (0.0, 0.0));
        let r = b.accuracy_retention.unwrap();
        assert_eq!((r.lower, r.upper), (1.0, 1.0));
        assert!(b.borderline.is_empty());
        // A KL hovering around 0.1 straddles the EXCELLENT threshold.
        x.kl = (0..300)
            .map(|i| if i % 2 == 0 { 0.05 } else { 0.15 })
            .collect();
        let b = bootstrap(&x, 10, &Thresholds::default(), &cfg(5)).unwrap();
        assert_eq!(b.borderline.len(), 1, "{:?}", b.borderline);
        assert!(b.borderline[0].contains("EXCELLENT threshold 0.1"));
    }

    #[test]
    fn several_straddled_thresholds_make_one_sentence() {
        assert_eq!(thresholds_phrase(&[]), None);
        assert_eq!(
            thresholds_phrase(&[("GOOD", 0.92)]).unwrap(),
            "the GOOD threshold 0.92"
        );
        assert_eq!(
            thresholds_phrase(&[("EXCELLENT", 0.1), ("GOOD", 0.3)]).unwrap(),
            "the EXCELLENT (0.1) and GOOD (0.3) thresholds"
        );
        assert_eq!(
            thresholds_phrase(&[("EXCELLENT", 0.95), ("GOOD", 0.92), ("ACCEPTABLE", 0.9)]).unwrap(),
            "the EXCELLENT (0.95), GOOD (0.92), and ACCEPTABLE (0.9) thresholds"
        );
    }

    /// Mean of `values` under the multiplicities `w`.
    fn weighted_mean(values: &[f64], w: &[u32]) -> f64 {
        let n: f64 = w.iter().map(|&w| f64::from(w)).sum();
        values
            .iter()
            .zip(w)
            .map(|(v, &w)| v * f64::from(w))
            .sum::<f64>()
            / n
    }

    #[test]
    fn retention_intervals_recompute_the_figures_on_each_resample() {
        let mut rng = StdRng::seed_from_u64(9);
        let t: Vec<f64> = (0..300).map(|_| rng.random_range(0.6..1.0)).collect();
        let s: Vec<f64> = t.iter().map(|v| v - rng.random_range(0.0..0.1)).collect();
        let f = |w: &[u32]| (weighted_mean(&t, w), weighted_mean(&s, w));
        let r = RetentionResample {
            unit: "queries",
            units: t.len(),
            figure: "ndcg@10",
            figures: &f,
        };
        let b = retention_bootstrap(&r, &Thresholds::default(), &cfg(3)).unwrap();
        let (tm, sm) = f(&vec![1; 300]);
        let (ti, si, ri) = (b.teacher.unwrap(), b.student.unwrap(), b.retention.unwrap());
        assert!((ti.estimate - tm).abs() < 1e-12 && (ri.estimate - sm / tm).abs() < 1e-12);
        for i in [ti, si, ri] {
            assert!(i.lower < i.estimate && i.estimate < i.upper, "{i:?}");
        }
        // Independently: the same resamples drawn here, their ratios sorted, NumPy's linear
        // percentile at 2.5% and 97.5%.
        let mut ratios: Vec<f64> = (0..400)
            .map(|i| {
                let w = resample_weights(3, i, 300);
                weighted_mean(&s, &w) / weighted_mean(&t, &w)
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let h = 399.0 * q;
            let lo = h.floor() as usize;
            ratios[lo] + (ratios[lo + 1] - ratios[lo]) * (h - lo as f64)
        };
        assert!((ri.lower - at(0.025)).abs() < 1e-12, "{ri:?}");
        assert!((ri.upper - at(0.975)).abs() < 1e-12, "{ri:?}");
    }

    #[test]
    fn retention_borderline_and_undefined_figures() {
        // Student / teacher hovers around 0.95: the EXCELLENT threshold is straddled.
        let t = vec![1.0; 200];
        let s: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 0.9 } else { 1.0 })
            .collect();
        let f = |w: &[u32]| (weighted_mean(&t, w), weighted_mean(&s, w));
        let r = RetentionResample {
            unit: "examples",
            units: 200,
            figure: "r2",
            figures: &f,
        };
        let b = retention_bootstrap(&r, &Thresholds::default(), &cfg(1)).unwrap();
        assert_eq!(b.borderline.len(), 1, "{:?}", b.borderline);
        assert!(
            b.borderline[0].starts_with("r2 retention 95% interval ["),
            "{}",
            b.borderline[0]
        );
        assert!(b.borderline[0].contains("EXCELLENT threshold 0.95"));
        // A teacher at 0: no retention interval, and no borderline sentence.
        let zero = |w: &[u32]| (0.0, weighted_mean(&s, w));
        let r = RetentionResample {
            figures: &zero,
            ..r
        };
        let b = retention_bootstrap(&r, &Thresholds::default(), &cfg(1)).unwrap();
        assert!(b.retention.is_none() && b.borderline.is_empty());
        assert!(b.teacher.is_some());
        let nan = |_: &[u32]| (f64::NAN, 1.0);
        let r = RetentionResample { figures: &nan, ..r };
        let b = retention_bootstrap(&r, &Thresholds::default(), &cfg(1)).unwrap();
        assert!(b.teacher.is_none() && b.student.is_some() && b.retention.is_none());
        let r = RetentionResample { units: 0, ..r };
        assert!(retention_bootstrap(&r, &Thresholds::default(), &cfg(1)).is_err());
    }

    #[test]
    fn no_resamples_is_refused() {
        let x = synthetic(10, 5);
        let c = BootstrapConfig {
            resamples: 0,
            ..cfg(0)
        };
        assert!(bootstrap(&x, 10, &Thresholds::default(), &c).is_err());
        assert!(bootstrap(&Examples::default(), 10, &Thresholds::default(), &cfg(0)).is_err());
    }
}
