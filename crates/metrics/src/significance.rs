//! McNemar's test on the examples where exactly one of the two models is wrong.

use serde::Serialize;
use statrs::distribution::{Binomial, ChiSquared, ContinuousCDF, DiscreteCDF};

/// McNemar's test of equal error rates.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct McNemar {
    /// `min(b, c)` for the exact test; `(|b - c| - 1)^2 / (b + c)` for the chi-square test.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Whether the exact binomial test was used.
    pub exact: bool,
}

/// Below this many disagreements the exact binomial test is used (statsmodels' advice).
pub const EXACT_BELOW: u64 = 25;

/// McNemar's test with `b` examples wrong only for the student and `c` wrong only for the
/// teacher: exact binomial (statsmodels' `mcnemar(exact=True)`: `min(1, 2 P(X <= min(b, c)))`,
/// `X ~ Bin(b + c, 1/2)`) when `b + c < 25`, else chi-square with continuity correction.
/// With no disagreement at all, the statistic is 0 and p = 1.
pub fn mcnemar(b: u64, c: u64) -> McNemar {
    let n = b + c;
    if n == 0 {
        return McNemar {
            statistic: 0.0,
            p_value: 1.0,
            exact: true,
        };
    }
    if n < EXACT_BELOW {
        let k = b.min(c);
        let p = Binomial::new(0.5, n).map_or(f64::NAN, |d| (2.0 * d.cdf(k)).min(1.0));
        McNemar {
            statistic: k as f64,
            p_value: p,
            exact: true,
        }
    } else {
        let diff = (b as f64 - c as f64).abs() - 1.0;
        let stat = diff.max(0.0).powi(2) / n as f64;
        let p = ChiSquared::new(1.0).map_or(f64::NAN, |d| d.sf(stat));
        McNemar {
            statistic: stat,
            p_value: p,
            exact: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_by_hand() {
        // b = 5, c = 1: 2 * P(X <= 1), X ~ Bin(6, 1/2) = 2 * 7/64 = 0.2188
        let m = mcnemar(5, 1);
        assert!(m.exact);
        assert_eq!(m.statistic, 1.0);
        assert!((m.p_value - 14.0 / 64.0).abs() < 1e-12);
        // symmetric and capped at 1
        assert_eq!(mcnemar(3, 3).p_value, 1.0);
        assert_eq!(mcnemar(0, 0).p_value, 1.0);
    }

    #[test]
    fn chi_square_with_continuity_correction() {
        // b = 30, c = 10: (20 - 1)^2 / 40 = 9.025; chi2(1).sf = 0.002663 (scipy 0.0026635...)
        let m = mcnemar(30, 10);
        assert!(!m.exact);
        assert!((m.statistic - 9.025).abs() < 1e-12);
        assert!((m.p_value - 0.002_663).abs() < 1e-5, "{}", m.p_value);
    }
}
