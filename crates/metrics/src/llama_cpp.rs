//! llama.cpp's `llama-perplexity --kl-divergence` statistics, computed as its
//! `kl_divergence()` computes them (`tools/perplexity/perplexity.cpp`), from the per-token
//! vectors: each model's NLL of the true next token, KL(base ‖ Q), and whether the argmaxes
//! agree. "Q" is the student, "base" the teacher.
//!
//! Conventions, all llama.cpp's:
//! - a mean's uncertainty is `sqrt((mean(x²) - mean(x)²) / (n - 1))`, and 0 when that
//!   variance is not positive or there are 10 values or fewer;
//! - the covariance of the two models' ln PPL estimates is
//!   `(mean(ab) - mean(a) mean(b)) / (n - 1)` (0 below 10 values), so that
//!   `Cor(ln(PPL(Q)), ln(PPL(base)))` is it over the product of the two uncertainties;
//! - ln(PPL(Q)/PPL(base)) has uncertainty `sqrt(u_Q² + u_base² - 2 cov)`; the ratio and the
//!   difference of the PPLs propagate it to first order (`d exp(x) = exp(x) dx`);
//! - percentiles interpolate linearly between the sorted values at `fraction (n - 1)` (NumPy's
//!   default), the median is the middle value (or the mean of the two middle ones);
//! - RMS Δp is the square root of the mean of Δp², with uncertainty `u(Δp²) / (2 RMS)`;
//! - "same top p" is a share with uncertainty `sqrt(p (1 - p) / (n - 1))`.
//!
//! Δp is `p_Q(true) - p_base(true)` as a fraction (the report prints it in percent).

use serde::Serialize;

use crate::evaluation::percentile;

/// A figure with llama.cpp's uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The value.
    pub value: f64,
    /// Its uncertainty (one standard error).
    pub uncertainty: f64,
}

/// The KLD percentiles llama.cpp prints, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KldPercentiles {
    /// Largest value.
    pub max: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Median.
    pub median: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 5th percentile.
    pub p5: f64,
    /// 1st percentile.
    pub p1: f64,
    /// 0.1st percentile.
    pub p0_1: f64,
    /// Smallest value.
    pub min: f64,
}

/// The Δp percentiles llama.cpp prints (its KLD set plus the quartiles), highest first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeltaPPercentiles {
    /// Largest value.
    pub max: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 75th percentile.
    pub p75: f64,
    /// Median.
    pub median: f64,
    /// 25th percentile.
    pub p25: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 5th percentile.
    pub p5: f64,
    /// 1st percentile.
    pub p1: f64,
    /// 0.1st percentile.
    pub p0_1: f64,
    /// Smallest value.
    pub min: f64,
}

/// Every statistic of llama.cpp's KL-divergence report.
#[derive(Debug, Clone, Serialize)]
pub struct LlamaCppStats {
    /// Scored tokens.
    pub tokens: usize,
    /// PPL(Q), the student's perplexity.
    pub ppl_q: Estimate,
    /// PPL(base), the teacher's.
    pub ppl_base: Estimate,
    /// Cor(ln(PPL(Q)), ln(PPL(base))), a fraction.
    pub ln_ppl_correlation: f64,
    /// ln(PPL(Q) / PPL(base)).
    pub ln_ppl_ratio: Estimate,
    /// PPL(Q) / PPL(base).
    pub ppl_ratio: Estimate,
    /// PPL(Q) - PPL(base).
    pub ppl_difference: Estimate,
    /// Mean KL(base ‖ Q).
    pub kld: Estimate,
    /// Its percentiles.
    pub kld_percentiles: KldPercentiles,
    /// Mean Δp.
    pub delta_p: Estimate,
    /// Its percentiles.
    pub delta_p_percentiles: DeltaPPercentiles,
    /// RMS Δp.
    pub rms_delta_p: Estimate,
    /// Share of tokens where both models' most likely next token is the same.
    pub same_top_p: Estimate,
}

/// Running sums, as llama.cpp's `kl_divergence_result` keeps them.
#[derive(Debug, Default)]
struct Sums {
    nll: f64,
    nll2: f64,
    nll_base: f64,
    nll_base2: f64,
    nll_nll_base: f64,
    kld: f64,
    kld2: f64,
    p_diff: f64,
    p_diff2: f64,
    p_diff4: f64,
    same_top: usize,
    count: usize,
}

/// llama.cpp's `mean_and_uncertainty`.
fn mean_and_uncertainty(sum: f64, sum2: f64, count: usize) -> Estimate {
    if count < 1 {
        return Estimate {
            value: 0.0,
            uncertainty: 0.0,
        };
    }
    let n = count as f64;
    let f = sum / n;
    let df = sum2 / n - f * f;
    let uncertainty = if df > 0.0 && count > 10 {
        (df / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Estimate {
        value: f,
        uncertainty,
    }
}

/// llama.cpp's `covariance` of the two means.
fn covariance(suma: f64, sumb: f64, sumab: f64, count: usize) -> f64 {
    if count < 10 {
        return 0.0;
    }
    let n = count as f64;
    (sumab / n - (suma / n) * (sumb / n)) / (n - 1.0)
}

impl LlamaCppStats {
    /// The statistics of `student_nll`, `teacher_nll` (nats), per-token `kl` = KL(teacher ‖
    /// student) and `same_top` (argmaxes agree), all of one length (at least one token).
    pub fn of(student_nll: &[f64], teacher_nll: &[f64], kl: &[f64], same_top: &[bool]) -> Self {
        let mut s = Sums::default();
        let mut p_diffs = Vec::with_capacity(kl.len());
        for (((&nll, &nll_base), &k), &top) in
            student_nll.iter().zip(teacher_nll).zip(kl).zip(same_top)
        {
            s.nll += nll;
            s.nll2 += nll * nll;
            s.nll_base += nll_base;
            s.nll_base2 += nll_base * nll_base;
            s.nll_nll_base += nll * nll_base;
            s.kld += k;
            s.kld2 += k * k;
            s.count += 1;
            s.same_top += usize::from(top);
            let p_diff = (-nll).exp() - (-nll_base).exp();
            s.p_diff += p_diff;
            let p_diff2 = p_diff * p_diff;
            s.p_diff2 += p_diff2;
            s.p_diff4 += p_diff2 * p_diff2;
            p_diffs.push(p_diff);
        }
        let n = s.count;

        let log_ppl = mean_and_uncertainty(s.nll, s.nll2, n);
        let ppl = log_ppl.value.exp();
        let ppl_unc = ppl * log_ppl.uncertainty;
        let log_ppl_base = mean_and_uncertainty(s.nll_base, s.nll_base2, n);
        let ppl_base = log_ppl_base.value.exp();
        let ppl_base_unc = ppl_base * log_ppl_base.uncertainty;
        let cov = covariance(s.nll, s.nll_base, s.nll_nll_base, n);
        let cor = cov / (log_ppl.uncertainty * log_ppl_base.uncertainty);
        let ln_ratio = log_ppl.value - log_ppl_base.value;
        let ln_ratio_unc =
            (log_ppl.uncertainty.powi(2) + log_ppl_base.uncertainty.powi(2) - 2.0 * cov).sqrt();
        let ratio = ln_ratio.exp();
        let ppl_cov = ppl * ppl_base * cov;
        let diff_unc = (ppl_unc * ppl_unc + ppl_base_unc * ppl_base_unc - 2.0 * ppl_cov).sqrt();

        let mse = mean_and_uncertainty(s.p_diff2, s.p_diff4, n);
        let rms = mse.value.sqrt();
        let same = s.same_top as f64 / n as f64;

        let mut kls = kl.to_vec();
        kls.sort_by(f64::total_cmp);
        p_diffs.sort_by(f64::total_cmp);
        let k = |q: f64| percentile(&kls, q);
        let d = |q: f64| percentile(&p_diffs, q);
        Self {
            tokens: n,
            ppl_q: Estimate {
                value: ppl,
                uncertainty: ppl_unc,
            },
            ppl_base: Estimate {
                value: ppl_base,
                uncertainty: ppl_base_unc,
            },
            ln_ppl_correlation: cor,
            ln_ppl_ratio: Estimate {
                value: ln_ratio,
                uncertainty: ln_ratio_unc,
            },
            ppl_ratio: Estimate {
                value: ratio,
                uncertainty: ratio * ln_ratio_unc,
            },
            ppl_difference: Estimate {
                value: ppl - ppl_base,
                uncertainty: diff_unc,
            },
            kld: mean_and_uncertainty(s.kld, s.kld2, n),
            kld_percentiles: KldPercentiles {
                max: k(1.0),
                p99_9: k(0.999),
                p99: k(0.99),
                p95: k(0.95),
                p90: k(0.90),
                median: k(0.5),
                p10: k(0.10),
                p5: k(0.05),
                p1: k(0.01),
                p0_1: k(0.001),
                min: k(0.0),
            },
            delta_p: mean_and_uncertainty(s.p_diff, s.p_diff2, n),
            delta_p_percentiles: DeltaPPercentiles {
                max: d(1.0),
                p99_9: d(0.999),
                p99: d(0.99),
                p95: d(0.95),
                p90: d(0.90),
                p75: d(0.75),
                median: d(0.5),
                p25: d(0.25),
                p10: d(0.10),
                p5: d(0.05),
                p1: d(0.01),
                p0_1: d(0.001),
                min: d(0.0),
            },
            rms_delta_p: Estimate {
                value: rms,
                uncertainty: 0.5 / rms * mse.uncertainty,
            },
            same_top_p: Estimate {
                value: same,
                uncertainty: (same * (1.0 - same) / (n as f64 - 1.0)).sqrt(),
            },
        }
    }

    /// The statistics in llama.cpp's layout and wording (its `printf` formats), from
    /// "====== Perplexity statistics ======" to "Same top p".
    pub fn llama_cpp_text(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        // `write!` into a String cannot fail.
        let mut line = |args: std::fmt::Arguments<'_>| {
            let _ = o.write_fmt(args);
            o.push('\n');
        };
        let e = |x: &Estimate| (x.value, x.uncertainty);
        line(format_args!("====== Perplexity statistics ======"));
        let (v, u) = e(&self.ppl_q);
        line(format_args!(
            "Mean PPL(Q)                   : {v:10.6} ± {u:10.6}"
        ));
        let (v, u) = e(&self.ppl_base);
        line(format_args!(
            "Mean PPL(base)                : {v:10.6} ± {u:10.6}"
        ));
        line(format_args!(
            "Cor(ln(PPL(Q)), ln(PPL(base))): {:6.2}%",
            100.0 * self.ln_ppl_correlation
        ));
        let (v, u) = e(&self.ln_ppl_ratio);
        line(format_args!(
            "Mean ln(PPL(Q)/PPL(base))     : {v:10.6} ± {u:10.6}"
        ));
        let (v, u) = e(&self.ppl_ratio);
        line(format_args!(
            "Mean PPL(Q)/PPL(base)         : {v:10.6} ± {u:10.6}"
        ));
        let (v, u) = e(&self.ppl_difference);
        line(format_args!(
            "Mean PPL(Q)-PPL(base)         : {v:10.6} ± {u:10.6}"
        ));
        line(format_args!(""));
        line(format_args!("====== KL divergence statistics ======"));
        let (v, u) = e(&self.kld);
        line(format_args!("Mean    KLD: {v:10.6} ± {u:10.6}"));
        let p = &self.kld_percentiles;
        for (name, x) in [
            ("Maximum KLD", p.max),
            ("99.9%   KLD", p.p99_9),
            ("99.0%   KLD", p.p99),
            ("95.0%   KLD", p.p95),
            ("90.0%   KLD", p.p90),
            ("Median  KLD", p.median),
            ("10.0%   KLD", p.p10),
            (" 5.0%   KLD", p.p5),
            (" 1.0%   KLD", p.p1),
            (" 0.1%   KLD", p.p0_1),
            ("Minimum KLD", p.min),
        ] {
            line(format_args!("{name}: {x:10.6}"));
        }
        line(format_args!(""));
        line(format_args!("====== Token probability statistics ======"));
        let (v, u) = e(&self.delta_p);
        line(format_args!(
            "Mean    Δp: {:6.3} ± {:5.3} %",
            100.0 * v,
            100.0 * u
        ));
        let p = &self.delta_p_percentiles;
        for (name, x) in [
            ("Maximum Δp", p.max),
            ("99.9%   Δp", p.p99_9),
            ("99.0%   Δp", p.p99),
            ("95.0%   Δp", p.p95),
            ("90.0%   Δp", p.p90),
            ("75.0%   Δp", p.p75),
            ("Median  Δp", p.median),
            ("25.0%   Δp", p.p25),
            ("10.0%   Δp", p.p10),
            (" 5.0%   Δp", p.p5),
            (" 1.0%   Δp", p.p1),
            (" 0.1%   Δp", p.p0_1),
            ("Minimum Δp", p.min),
        ] {
            line(format_args!("{name}: {:6.3}%", 100.0 * x));
        }
        let (v, u) = e(&self.rms_delta_p);
        line(format_args!(
            "RMS Δp    : {:6.3} ± {:5.3} %",
            100.0 * v,
            100.0 * u
        ));
        let (v, u) = e(&self.same_top_p);
        line(format_args!(
            "Same top p: {:6.3} ± {:5.3} %",
            100.0 * v,
            100.0 * u
        ));
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Case {
        student_nll: Vec<f64>,
        teacher_nll: Vec<f64>,
        kl: Vec<f64>,
        same_top: Vec<bool>,
        expected: std::collections::BTreeMap<String, f64>,
    }

    fn close(name: &str, got: f64, want: f64) {
        let tol = 1e-9 * want.abs().max(1.0);
        assert!((got - want).abs() <= tol, "{name}: {got} vs numpy {want}");
    }

    /// Against `tests/fixtures/llm/llama_cpp/stats.json`, computed with NumPy by its
    /// `make_stats.py` (np.std, np.corrcoef, np.cov, np.percentile) from llama.cpp's formulas.
    #[test]
    fn matches_an_independent_numpy_computation() {
        let text = include_str!("../../../tests/fixtures/llm/llama_cpp/stats.json");
        let case: Case = serde_json::from_str(text).unwrap();
        let s = LlamaCppStats::of(
            &case.student_nll,
            &case.teacher_nll,
            &case.kl,
            &case.same_top,
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(s.tokens, case.student_nll.len());
        for (path, want) in &case.expected {
            let got = path
                .split('.')
                .fold(&v, |v, k| &v[k])
                .as_f64()
                .unwrap_or_else(|| panic!("{path} missing"));
            close(path, got, *want);
        }
        // Every figure of the JSON is checked.
        let leaves = |v: &serde_json::Value| -> usize {
            fn count(v: &serde_json::Value) -> usize {
                match v {
                    serde_json::Value::Object(m) => m.values().map(count).sum(),
                    _ => 1,
                }
            }
            count(v)
        };
        assert_eq!(
            case.expected.len() + 1,
            leaves(&v),
            "tokens plus every figure"
        );
    }

    #[test]
    fn few_tokens_have_no_uncertainty_as_in_llama_cpp() {
        // Ten tokens: llama.cpp's uncertainties need more than ten, its covariance ten.
        let nll: Vec<f64> = (0..10).map(|i| 1.0 + 0.1 * f64::from(i)).collect();
        let base: Vec<f64> = nll.iter().map(|x| x * 0.9).collect();
        let kl = vec![0.01; 10];
        let s = LlamaCppStats::of(&nll, &base, &kl, &[true; 10]);
        assert_eq!(s.ppl_q.uncertainty, 0.0);
        assert_eq!(s.kld.uncertainty, 0.0);
        // Its covariance counts at ten values, its uncertainties do not: cov / 0, as llama.cpp.
        assert!(s.ln_ppl_correlation.is_infinite());
        assert_eq!(s.same_top_p.value, 1.0);
        assert_eq!(s.same_top_p.uncertainty, 0.0);
        // mean NLL 1.45 and 1.305: ln ratio 0.145.
        assert!((s.ln_ppl_ratio.value - 0.145).abs() < 1e-12);
    }

    #[test]
    fn prints_llama_cpps_layout() {
        let nll: Vec<f64> = (0..40).map(|i| 2.0 + (f64::from(i) * 0.7).sin()).collect();
        let base: Vec<f64> = nll.iter().map(|x| 0.95 * x - 0.01).collect();
        let kl: Vec<f64> = (0..40).map(|i| 0.001 * f64::from(i)).collect();
        let top: Vec<bool> = (0..40).map(|i| i % 8 != 0).collect();
        let text = LlamaCppStats::of(&nll, &base, &kl, &top).llama_cpp_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "====== Perplexity statistics ======");
        assert!(
            lines[1].starts_with("Mean PPL(Q)                   : "),
            "{}",
            lines[1]
        );
        assert!(
            lines[3].starts_with("Cor(ln(PPL(Q)), ln(PPL(base))): 100.00%"),
            "{}",
            lines[3]
        );
        assert!(
            lines[4].starts_with("Mean ln(PPL(Q)/PPL(base))     :   0.1"),
            "{}",
            lines[4]
        );
        // numpy: mean(0.001 * arange(40)) = 0.0195, std / sqrt(39) = 0.0018484
        assert_eq!(lines[9], "Mean    KLD:   0.019500 ±   0.001848");
        assert_eq!(lines[10], "Maximum KLD:   0.039000");
        assert_eq!(lines[20], "Minimum KLD:   0.000000");
        assert_eq!(lines[22], "====== Token probability statistics ======");
        assert!(lines[23].starts_with("Mean    Δp: ") && lines[23].ends_with(" %"));
        assert!(lines[30].starts_with("Median  Δp: ") && lines[30].ends_with('%'));
        assert_eq!(lines.last().copied(), Some("Same top p: 87.500 ± 5.296 %"));
        assert_eq!(lines.len(), 39);
    }
}
