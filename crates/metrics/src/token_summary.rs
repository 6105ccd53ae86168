//! The figures of a causal-LM report, from the per-token vectors of [`TokenStats`]: means with
//! their standard errors, llama.cpp's percentile set, perplexities pooled over every scored
//! token, the correlated uncertainty of ln(PPL ratio), Δp, and bootstrap intervals that resample
//! whole documents.
//!
//! Conventions (llama.cpp's `kl-divergence` statistics, which users compare against): the
//! standard error of a mean is `sqrt((mean(x²) - mean(x)²) / (n - 1))`, of a share `p` it is
//! `sqrt(p (1 - p) / (n - 1))`, and that of ln(PPL(student) / PPL(teacher)) is the standard
//! error of the per-token NLL differences, which carries the correlation of the two models'
//! NLLs. Percentiles interpolate linearly (NumPy's default). All are NaN with one token.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use crate::bootstrap::Interval;
use crate::evaluation::percentile;
use crate::rank::pearson;
use crate::tokens::TokenStats;

/// llama.cpp's percentile set of a per-token figure.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Percentiles {
    /// Smallest value.
    pub min: f64,
    /// 0.1st percentile.
    pub p0_1: f64,
    /// 1st percentile.
    pub p1: f64,
    /// 5th percentile.
    pub p5: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest value.
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of `values` (any order; NaN everywhere when empty).
    pub fn of(values: &[f64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let q = |p: f64| percentile(&sorted, p);
        Self {
            min: q(0.0),
            p0_1: q(0.001),
            p1: q(0.01),
            p5: q(0.05),
            p10: q(0.10),
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p99_9: q(0.999),
            max: q(1.0),
        }
    }

    /// (name, value) pairs in order, for tables.
    pub fn rows(&self) -> [(&'static str, f64); 11] {
        [
            ("min", self.min),
            ("0.1%", self.p0_1),
            ("1%", self.p1),
            ("5%", self.p5),
            ("10%", self.p10),
            ("median", self.p50),
            ("90%", self.p90),
            ("95%", self.p95),
            ("99%", self.p99),
            ("99.9%", self.p99_9),
            ("max", self.max),
        ]
    }
}

/// One model's likelihood of the true next tokens.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LmSide {
    /// exp of `nll`.
    pub perplexity: f64,
    /// Mean negative log-likelihood (nats) of the true next token over every scored token.
    pub nll: f64,
}

/// Δp = q(true) - p(true): how much more (or less) likely the student finds the true token.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DeltaP {
    /// Mean Δp.
    pub mean: f64,
    /// Root mean square of Δp.
    pub rms: f64,
    /// Its percentiles.
    pub percentiles: Percentiles,
}

/// Every token-level figure of a teacher/student pair.
#[derive(Debug, Clone, Serialize)]
pub struct TokenSummary {
    /// Scored tokens.
    pub tokens: usize,
    /// Mean KL(p ‖ q).
    pub kl_divergence: f64,
    /// Its standard error.
    pub kl_divergence_stderr: f64,
    /// Percentiles of the per-token KL.
    pub kl_percentiles: Percentiles,
    /// Mean KL(q ‖ p).
    pub reverse_kl: f64,
    /// Mean Jensen-Shannon divergence (natural log).
    pub jensen_shannon: f64,
    /// Share of tokens whose argmaxes agree.
    pub top1_agreement: f64,
    /// Its standard error.
    pub top1_agreement_stderr: f64,
    /// Mean |top-k(p) ∩ top-k(q)| / k.
    pub topk_overlap: f64,
    /// The k.
    pub top_k: usize,
    /// The teacher's likelihood.
    pub teacher: LmSide,
    /// The student's likelihood.
    pub student: LmSide,
    /// PPL(student) / PPL(teacher).
    pub perplexity_ratio: f64,
    /// ln of the ratio: the mean per-token NLL difference.
    pub ln_perplexity_ratio: f64,
    /// Its standard error (the correlated one).
    pub ln_perplexity_ratio_stderr: f64,
    /// Pearson correlation of the per-token NLLs.
    pub nll_correlation: f64,
    /// q(true) - p(true).
    pub delta_p: DeltaP,
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        f64::NAN
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// `sqrt((mean(x²) - mean(x)²) / (n - 1))`, NaN below two values.
fn stderr(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    let m2 = x.iter().map(|v| v * v).sum::<f64>() / n as f64;
    ((m2 - m * m).max(0.0) / (n - 1) as f64).sqrt()
}

impl TokenSummary {
    /// The figures of `stats` (at least one token), with `top_k` the k its overlap used.
    pub fn of(stats: &TokenStats, top_k: usize) -> Self {
        let n = stats.len();
        let agree: Vec<f64> = stats
            .top1_agree
            .iter()
            .map(|&a| f64::from(u8::from(a)))
            .collect();
        let top1 = mean(&agree);
        let (t_nll, s_nll) = (mean(&stats.teacher_nll), mean(&stats.student_nll));
        let diff: Vec<f64> = stats
            .student_nll
            .iter()
            .zip(&stats.teacher_nll)
            .map(|(s, t)| s - t)
            .collect();
        let delta: Vec<f64> = stats
            .student_nll
            .iter()
            .zip(&stats.teacher_nll)
            .map(|(s, t)| (-s).exp() - (-t).exp())
            .collect();
        let share_se = if n < 2 {
            f64::NAN
        } else {
            (top1 * (1.0 - top1) / (n - 1) as f64).sqrt()
        };
        Self {
            tokens: n,
            kl_divergence: mean(&stats.kl),
            kl_divergence_stderr: stderr(&stats.kl),
            kl_percentiles: Percentiles::of(&stats.kl),
            reverse_kl: mean(&stats.reverse_kl),
            jensen_shannon: mean(&stats.js),
            top1_agreement: top1,
            top1_agreement_stderr: share_se,
            topk_overlap: mean(&stats.topk_overlap),
            top_k,
            teacher: LmSide {
                perplexity: t_nll.exp(),
                nll: t_nll,
            },
            student: LmSide {
                perplexity: s_nll.exp(),
                nll: s_nll,
            },
            perplexity_ratio: (s_nll - t_nll).exp(),
            ln_perplexity_ratio: mean(&diff),
            ln_perplexity_ratio_stderr: stderr(&diff),
            nll_correlation: pearson(&stats.teacher_nll, &stats.student_nll).statistic,
            delta_p: DeltaP {
                mean: mean(&delta),
                rms: mean(&delta.iter().map(|d| d * d).collect::<Vec<_>>()).sqrt(),
                percentiles: Percentiles::of(&delta),
            },
        }
    }
}

/// Bootstrap intervals of the headline token figures, resampling documents (tokens of one
/// document are not independent).
#[derive(Debug, Clone, Serialize)]
pub struct TokenBootstrap {
    /// Resamples drawn.
    pub resamples: usize,
    /// Seed used.
    pub seed: u64,
    /// Coverage of the intervals.
    pub level: f64,
    /// Mean token KL.
    pub kl_divergence: Interval,
    /// Top-1 agreement.
    pub top1_agreement: Interval,
    /// PPL(student) / PPL(teacher).
    pub perplexity_ratio: Interval,
}

/// Per-document sums: tokens, KL, agreements, teacher and student NLL.
#[derive(Debug, Clone, Copy, Default)]
struct DocSums {
    n: f64,
    kl: f64,
    agree: f64,
    t_nll: f64,
    s_nll: f64,
}

impl DocSums {
    fn add(&mut self, other: &DocSums, w: f64) {
        self.n += w * other.n;
        self.kl += w * other.kl;
        self.agree += w * other.agree;
        self.t_nll += w * other.t_nll;
        self.s_nll += w * other.s_nll;
    }

    fn figures(&self) -> [f64; 3] {
        [
            self.kl / self.n,
            self.agree / self.n,
            ((self.s_nll - self.t_nll) / self.n).exp(),
        ]
    }
}

/// Document-level bootstrap: `doc_of` gives each token's document (`0..documents`); each
/// resample draws `documents` documents with replacement. Each resample has its own generator
/// seeded by `(seed, index)`, so the result does not depend on the number of threads.
/// `None` with no resample or no token.
pub fn token_bootstrap(
    stats: &TokenStats,
    doc_of: &[usize],
    documents: usize,
    resamples: usize,
    seed: u64,
) -> Option<TokenBootstrap> {
    if resamples == 0 || stats.is_empty() || documents == 0 || doc_of.len() != stats.len() {
        return None;
    }
    let mut docs = vec![DocSums::default(); documents];
    for (i, &d) in doc_of.iter().enumerate() {
        let s = &mut docs[d];
        s.n += 1.0;
        s.kl += stats.kl[i];
        s.agree += f64::from(u8::from(stats.top1_agree[i]));
        s.t_nll += stats.teacher_nll[i];
        s.s_nll += stats.student_nll[i];
    }
    let mut full = DocSums::default();
    for d in &docs {
        full.add(d, 1.0);
    }
    let draws: Vec<[f64; 3]> = (0..resamples)
        .into_par_iter()
        .map(|i| {
            let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let mut rng = StdRng::seed_from_u64(z ^ (z >> 31));
            let mut sum = DocSums::default();
            for _ in 0..documents {
                sum.add(&docs[rng.random_range(0..documents)], 1.0);
            }
            sum.figures()
        })
        .filter(|f| f.iter().all(|v| v.is_finite()))
        .collect();
    let level = 0.95;
    let estimate = full.figures();
    let interval = |k: usize| {
        let mut v: Vec<f64> = draws.iter().map(|d| d[k]).collect();
        v.sort_by(f64::total_cmp);
        let tail = (1.0 - level) / 2.0;
        Interval {
            estimate: estimate[k],
            lower: percentile(&v, tail),
            upper: percentile(&v, 1.0 - tail),
        }
    };
    Some(TokenBootstrap {
        resamples,
        seed,
        level,
        kl_divergence: interval(0),
        top1_agreement: interval(1),
        perplexity_ratio: interval(2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(kl: &[f64], agree: &[bool], t: &[f64], s: &[f64]) -> TokenStats {
        TokenStats {
            kl: kl.to_vec(),
            reverse_kl: kl.iter().map(|k| k * 2.0).collect(),
            js: kl.iter().map(|k| k / 4.0).collect(),
            top1_agree: agree.to_vec(),
            teacher_nll: t.to_vec(),
            student_nll: s.to_vec(),
            topk_overlap: vec![0.6; kl.len()],
            teacher_top: vec![],
            student_top: vec![],
        }
    }

    #[test]
    fn percentiles_interpolate_linearly_as_numpy() {
        let p = Percentiles::of(&[4.0, 1.0, 3.0, 2.0, 5.0]);
        // numpy.percentile([1, 2, 3, 4, 5], q): linear between neighbours.
        assert_eq!((p.min, p.p50, p.max), (1.0, 3.0, 5.0));
        assert!((p.p90 - 4.6).abs() < 1e-12);
        assert!((p.p0_1 - 1.004).abs() < 1e-12);
        assert!((p.p99_9 - 4.996).abs() < 1e-12);
        assert!(Percentiles::of(&[]).p50.is_nan());
    }

    #[test]
    fn figures_follow_the_documented_conventions() {
        let s = stats(
            &[0.1, 0.3, 0.2, 0.0],
            &[true, false, true, true],
            &[1.0, 2.0, 0.5, 1.5],
            &[1.2, 2.5, 0.4, 1.5],
        );
        let f = TokenSummary::of(&s, 5);
        assert_eq!(f.tokens, 4);
        assert!((f.kl_divergence - 0.15).abs() < 1e-12);
        // sqrt((mean(x²) - mean²) / (n - 1)) = sqrt((0.035 - 0.0225) / 3)
        assert!((f.kl_divergence_stderr - (0.0125f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((f.reverse_kl - 0.3).abs() < 1e-12);
        assert!((f.top1_agreement - 0.75).abs() < 1e-12);
        assert!((f.top1_agreement_stderr - (0.75f64 * 0.25 / 3.0).sqrt()).abs() < 1e-12);
        assert!((f.teacher.perplexity - 1.25f64.exp()).abs() < 1e-12);
        assert!((f.student.nll - 1.4).abs() < 1e-12);
        assert!((f.ln_perplexity_ratio - 0.15).abs() < 1e-12);
        assert!((f.perplexity_ratio - 0.15f64.exp()).abs() < 1e-12);
        // The NLL differences 0.2, 0.5, -0.1, 0: their standard error.
        let d = [0.2f64, 0.5, -0.1, 0.0];
        let m = d.iter().sum::<f64>() / 4.0;
        let m2 = d.iter().map(|x| x * x).sum::<f64>() / 4.0;
        assert!((f.ln_perplexity_ratio_stderr - ((m2 - m * m) / 3.0).sqrt()).abs() < 1e-12);
        assert!(f.nll_correlation > 0.9 && f.nll_correlation <= 1.0);
        let dp: Vec<f64> = [(1.2, 1.0), (2.5, 2.0), (0.4, 0.5), (1.5, 1.5)]
            .iter()
            .map(|(s, t): &(f64, f64)| (-s).exp() - (-t).exp())
            .collect();
        assert!((f.delta_p.mean - dp.iter().sum::<f64>() / 4.0).abs() < 1e-12);
        assert!(f.delta_p.mean < 0.0);
        assert!(f.delta_p.rms >= f.delta_p.mean.abs());
        assert!((f.topk_overlap - 0.6).abs() < 1e-12);
    }

    #[test]
    fn one_token_has_no_standard_error() {
        let f = TokenSummary::of(&stats(&[0.1], &[true], &[1.0], &[1.0]), 5);
        assert!(f.kl_divergence_stderr.is_nan() && f.top1_agreement_stderr.is_nan());
        assert_eq!(f.perplexity_ratio, 1.0);
    }

    #[test]
    fn the_bootstrap_resamples_documents_reproducibly() {
        let s = stats(
            &[0.1, 0.3, 0.2, 0.0, 0.5, 0.05],
            &[true, false, true, true, false, true],
            &[1.0, 2.0, 0.5, 1.5, 1.0, 1.0],
            &[1.2, 2.5, 0.4, 1.5, 1.1, 0.9],
        );
        let doc_of = [0, 0, 1, 1, 2, 2];
        let a = token_bootstrap(&s, &doc_of, 3, 200, 7).unwrap();
        let b = token_bootstrap(&s, &doc_of, 3, 200, 7).unwrap();
        assert_eq!(a.kl_divergence.lower, b.kl_divergence.lower);
        let f = TokenSummary::of(&s, 5);
        assert!((a.kl_divergence.estimate - f.kl_divergence).abs() < 1e-12);
        assert!((a.perplexity_ratio.estimate - f.perplexity_ratio).abs() < 1e-12);
        for i in [a.kl_divergence, a.top1_agreement, a.perplexity_ratio] {
            assert!(i.lower <= i.estimate && i.estimate <= i.upper, "{i:?}");
        }
        // Document means are 0.2, 0.1 and 0.275: no resample leaves that range.
        assert!(a.kl_divergence.lower >= 0.1 - 1e-12 && a.kl_divergence.upper <= 0.275 + 1e-12);
        assert!(token_bootstrap(&s, &doc_of, 3, 0, 7).is_none());
    }
}
