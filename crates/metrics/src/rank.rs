//! Correlations with SciPy's conventions: `pearsonr`, `spearmanr` (average ranks, Student-t
//! p-value) and `kendalltau` (tau-b, `method='auto'`), all computed on the host.
//!
//! Kendall's tau is O(n log n) (a sort plus a Fenwick tree for discordant pairs) and exact with
//! any number of ties; candle's `arg_sort_last_dim` is unstable and knows no ties, so it is not
//! used here.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// A correlation and its two-sided p-value; both NaN when undefined.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Correlation {
    /// The coefficient.
    pub statistic: f64,
    /// Two-sided p-value under independence.
    pub p_value: f64,
}

impl Correlation {
    const UNDEFINED: Correlation = Correlation {
        statistic: f64::NAN,
        p_value: f64::NAN,
    };
}

/// Whether every value is the same (a correlation with it is undefined).
pub fn is_constant(x: &[f64]) -> bool {
    x.first().is_none_or(|&first| x.iter().all(|&v| v == first))
}

/// A total order of values in which -0 and +0 are one value (they tie, as `==` says):
/// `total_cmp` alone puts -0 first, which splits a tie and miscounts pairs within it.
fn value_cmp(a: f64, b: f64) -> std::cmp::Ordering {
    (a + 0.0).total_cmp(&(b + 0.0))
}

fn order(x: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| value_cmp(x[a], x[b]));
    idx
}

/// Ranks 1..n with ties given their average rank (`scipy.stats.rankdata(method='average')`).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let idx = order(x);
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && x[idx[j]] == x[idx[i]] {
            j += 1;
        }
        // positions i..j (0-based) share ranks i+1..=j: their mean is (i + 1 + j) / 2
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

/// Pearson's r as `numpy.corrcoef` computes it (centred sums, then clipped to [-1, 1]).
fn pearson_r(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        let (da, db) = (a - mx, b - my);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    (sxy / sxx.sqrt() / syy.sqrt()).clamp(-1.0, 1.0)
}

/// Two-sided p-value of a Student-t statistic with `dof` degrees of freedom.
fn t_two_sided(t: f64, dof: f64) -> f64 {
    if t.is_nan() || dof <= 0.0 {
        return f64::NAN;
    }
    match StudentsT::new(0.0, 1.0, dof) {
        Ok(dist) => (2.0 * dist.sf(t.abs())).min(1.0),
        Err(_) => f64::NAN,
    }
}

/// Two-sided p-value of a standard normal statistic.
fn z_two_sided(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    (2.0 * Normal::standard().sf(z.abs())).min(1.0)
}

/// Spearman's rho with SciPy's p-value: `t = r sqrt(dof / ((r + 1)(1 - r)))`, `dof = n - 2`.
///
/// Undefined (NaN) for fewer than 2 values or a constant input; for n = 2 the p-value is NaN.
pub fn spearman(x: &[f64], y: &[f64]) -> Correlation {
    let n = x.len().min(y.len());
    if n <= 1 || is_constant(x) || is_constant(y) {
        return Correlation::UNDEFINED;
    }
    let r = pearson_r(&average_ranks(x), &average_ranks(y));
    let dof = (n - 2) as f64;
    let t = r * (dof / ((r + 1.0) * (1.0 - r))).max(0.0).sqrt();
    // r = +-1 with dof > 0 gives an infinite t and a zero p-value, as in SciPy; dof = 0 gives
    // 0 / 0 = NaN.
    let t = if dof == 0.0 { f64::NAN } else { t };
    Correlation {
        statistic: r,
        p_value: t_two_sided(t, dof),
    }
}

/// Pearson's r with `scipy.stats.pearsonr`'s two-sided p-value (the exact null distribution of
/// r, which is Student's t with `n - 2` degrees of freedom on `r sqrt((n - 2) / (1 - r^2))`).
///
/// Undefined (NaN) for fewer than 2 values or a constant input; for n = 2, r is exactly +-1 and
/// the p-value is 1, as SciPy promises.
pub fn pearson(x: &[f64], y: &[f64]) -> Correlation {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    if n <= 1 || is_constant(x) || is_constant(y) {
        return Correlation::UNDEFINED;
    }
    let r = pearson_r(x, y);
    if n == 2 {
        return Correlation {
            statistic: r.round(),
            p_value: 1.0,
        };
    }
    let dof = (n - 2) as f64;
    // r = +-1 gives an infinite t and a zero p-value, as SciPy's beta distribution does.
    let t = r * (dof / ((1.0 - r) * (1.0 + r))).max(0.0).sqrt();
    Correlation {
        statistic: r,
        p_value: t_two_sided(t, dof),
    }
}

/// Ties within one variable: `(sum t(t-1)/2, sum t(t-1)(t-2), sum t(t-1)(2t+5))` over groups
/// of equal dense ranks.
fn tie_stats(sorted_ranks: impl Iterator<Item = usize>) -> (u64, f64, f64) {
    let mut counts: Vec<u64> = Vec::new();
    for r in sorted_ranks {
        if r >= counts.len() {
            counts.resize(r + 1, 0);
        }
        counts[r] += 1;
    }
    let mut pairs = 0u64;
    let (mut t0, mut t1) = (0.0, 0.0);
    for &c in counts.iter().filter(|&&c| c > 1) {
        pairs += c * (c - 1) / 2;
        let c = c as f64;
        t0 += c * (c - 1.0) * (c - 2.0);
        t1 += c * (c - 1.0) * (2.0 * c + 5.0);
    }
    (pairs, t0, t1)
}

/// Dense ranks 1.. of `x` in the order given by `idx`.
fn dense_ranks(x: &[f64], idx: &[usize]) -> Vec<usize> {
    let mut out = vec![0usize; x.len()];
    let mut rank = 0;
    for (pos, &i) in idx.iter().enumerate() {
        if pos == 0 || x[i] != x[idx[pos - 1]] {
            rank += 1;
        }
        out[i] = rank;
    }
    out
}

/// Discordant pairs of a sequence sorted by `x` (ties broken by `y`): pairs with a strictly
/// smaller `x` and a strictly larger `y`, counted with a Fenwick tree (SciPy's `_kendall_dis`).
fn discordant(x: &[usize], y: &[usize]) -> u64 {
    let sup = 1 + y.iter().copied().max().unwrap_or(0);
    let mut tree = vec![0u64; sup];
    let n = x.len();
    let (mut i, mut k) = (0, 0);
    let mut dis = 0u64;
    while i < n {
        while k < n && x[i] == x[k] {
            dis += i as u64;
            let mut idx = y[k];
            while idx != 0 {
                dis -= tree[idx];
                idx &= idx - 1;
            }
            k += 1;
        }
        while i < k {
            let mut idx = y[i];
            while idx < sup {
                tree[idx] += 1;
                idx += idx & idx.wrapping_neg();
            }
            i += 1;
        }
    }
    dis
}

/// Kendall's tau-b with `scipy.stats.kendalltau`'s default p-value (`method='auto'`): the exact
/// null distribution when nothing ties and `n <= 33` (or at most one pair is out of order),
/// otherwise the normal approximation with the tie-corrected variance.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Correlation {
    let n = x.len().min(y.len());
    if n <= 1 {
        return Correlation::UNDEFINED;
    }
    let (x, y) = (&x[..n], &y[..n]);
    let ry = dense_ranks(y, &order(y));
    // Sort by x, then by y's rank: within equal x, y ascends.
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| value_cmp(x[a], x[b]).then(ry[a].cmp(&ry[b])));
    let rx_all = dense_ranks(x, &idx);
    let xs: Vec<usize> = idx.iter().map(|&i| rx_all[i]).collect();
    let ys: Vec<usize> = idx.iter().map(|&i| ry[i]).collect();

    let dis = discordant(&xs, &ys);
    let mut joint = 0u64;
    let mut run = 1u64;
    for w in 1..=n {
        if w < n && xs[w] == xs[w - 1] && ys[w] == ys[w - 1] {
            run += 1;
        } else {
            joint += run * (run - 1) / 2;
            run = 1;
        }
    }
    let (xtie, x0, x1) = tie_stats(xs.iter().copied());
    let (ytie, y0, y1) = tie_stats(ys.iter().copied());
    let tot = (n as u64) * (n as u64 - 1) / 2;
    if xtie == tot || ytie == tot {
        return Correlation::UNDEFINED;
    }
    let con_minus_dis = tot as f64 - xtie as f64 - ytie as f64 + joint as f64 - 2.0 * dis as f64;
    let tau = (con_minus_dis / ((tot - xtie) as f64).sqrt() / ((tot - ytie) as f64).sqrt())
        .clamp(-1.0, 1.0);
    let exact = xtie == 0 && ytie == 0 && (n <= 33 || dis.min(tot - dis) <= 1);
    let p_value = if exact {
        kendall_p_exact(n as u64, tot - dis)
    } else {
        let nf = n as f64;
        let m = nf * (nf - 1.0);
        let var = (m * (2.0 * nf + 5.0) - x1 - y1) / 18.0
            + (2.0 * xtie as f64 * ytie as f64) / m
            + x0 * y0 / (9.0 * m * (nf - 2.0));
        z_two_sided(con_minus_dis / var.sqrt())
    };
    Correlation {
        statistic: tau,
        p_value,
    }
}

/// Two-sided exact p-value of `c` concordant pairs among `n` untied values (Kendall 1970, as
/// SciPy's `_kendall_p_exact`).
pub fn kendall_p_exact(n: u64, c: u64) -> f64 {
    let pairs = n * (n.saturating_sub(1)) / 2;
    let c = c.min(pairs - c.min(pairs));
    let factorial = |k: u64| (1..=k).fold(1.0f64, |acc, i| acc * i as f64);
    let p = if n <= 2 {
        1.0
    } else if c == 0 {
        if n < 171 {
            2.0 / factorial(n)
        } else {
            0.0
        }
    } else if c == 1 {
        if n < 172 {
            2.0 / factorial(n - 1)
        } else {
            0.0
        }
    } else if 4 * c == n * (n - 1) {
        1.0
    } else {
        // Number of permutations of 1..j with k inversions, for k <= c, built up j by j.
        let c = c as usize;
        let mut counts = vec![0.0f64; c + 1];
        counts[0] = 1.0;
        counts[1] = 1.0;
        let scaled = n >= 171;
        for j in 3..=n as usize {
            let mut acc = 0.0;
            for v in counts.iter_mut() {
                acc += *v;
                *v = acc;
            }
            if scaled {
                for v in counts.iter_mut() {
                    *v /= j as f64;
                }
            }
            if j <= c {
                for k in (j..=c).rev() {
                    counts[k] -= counts[k - j];
                }
            }
        }
        let sum: f64 = counts.iter().sum();
        if scaled {
            sum
        } else {
            2.0 * sum / factorial(n)
        }
    };
    p.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
    }

    #[test]
    fn spearman_by_hand() {
        // Ranks (1 2 3 4 5) vs (2 1 4 3 5): d^2 = 4, rho = 1 - 6*4 / (5*24) = 4/5
        let s = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]);
        assert_eq!(r4(s.statistic), 0.8);
        // t = 0.8 sqrt(3 / 0.36) = 2.3094, two-sided with 3 dof: 0.1041 (scipy 0.10408803866182788)
        assert_eq!(r4(s.p_value), 0.1041);
    }

    #[test]
    fn pearson_by_hand() {
        // x = 1..4, y = 1 3 2 4: centred (-1.5 -.5 .5 1.5) . (-1.5 .5 -.5 1.5) = 4, both
        // squared norms 5: r = 4/5
        let p = pearson(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]);
        assert_eq!(r4(p.statistic), 0.8);
        // t = 0.8 sqrt(2 / 0.36) = 1.8856 with 2 dof: 0.2 (scipy 0.19999999999999996)
        assert_eq!(r4(p.p_value), 0.2);
        let two = pearson(&[1.0, 2.0], &[5.0, 3.0]);
        assert_eq!((two.statistic, two.p_value), (-1.0, 1.0));
        assert!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0])
            .statistic
            .is_nan());
        // A perfect line: r = 1 up to rounding, p ~ 0 (scipy 0.9999999999999998, 1.3e-8).
        let exact = pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]);
        assert!(r4(exact.statistic) == 1.0 && exact.p_value < 1e-6);
    }

    #[test]
    fn kendall_by_hand_without_ties_uses_the_exact_distribution() {
        // Pairs out of order: (2,1) and (4,3): 8 concordant, 2 discordant: tau = 6/10
        let k = kendall_tau_b(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]);
        assert_eq!(r4(k.statistic), 0.6);
        // P(<= 2 inversions among 5!) * 2 = 2 * (1 + 4 + 9) / 120 = 7/30
        assert_eq!(r4(k.p_value), 0.2333);
    }

    #[test]
    fn kendall_with_ties_is_tau_b() {
        // x = 1 1 2 2, y = 1 2 1 2: no concordance beyond chance: tau = 0
        let k = kendall_tau_b(&[1.0, 1.0, 2.0, 2.0], &[1.0, 2.0, 1.0, 2.0]);
        assert_eq!(k.statistic, 0.0);
        assert_eq!(r4(k.p_value), 1.0);
    }

    #[test]
    fn constant_or_tiny_inputs_are_undefined() {
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0])
            .statistic
            .is_nan());
        assert!(kendall_tau_b(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0])
            .statistic
            .is_nan());
        assert!(spearman(&[1.0], &[2.0]).statistic.is_nan());
        assert!(kendall_tau_b(&[1.0], &[2.0]).p_value.is_nan());
        // n = 2: perfectly (anti)correlated, p undefined for Spearman and 1 for Kendall (scipy).
        let s = spearman(&[1.0, 2.0], &[2.0, 1.0]);
        assert!((s.statistic + 1.0).abs() < 1e-12 && s.p_value.is_nan());
        let k = kendall_tau_b(&[1.0, 2.0], &[2.0, 1.0]);
        assert_eq!((k.statistic, k.p_value), (-1.0, 1.0));
    }

    /// O(n^2) tau-b straight from the definition, for comparison.
    fn naive_tau_b(x: &[f64], y: &[f64]) -> f64 {
        let (mut c, mut d, mut tx, mut ty) = (0i64, 0i64, 0i64, 0i64);
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                let sx = (x[i] - x[j]).signum() as i64 * i64::from(x[i] != x[j]);
                let sy = (y[i] - y[j]).signum() as i64 * i64::from(y[i] != y[j]);
                match (sx, sy) {
                    (0, 0) => {}
                    (0, _) => tx += 1,
                    (_, 0) => ty += 1,
                    _ if sx == sy => c += 1,
                    _ => d += 1,
                }
            }
        }
        (c - d) as f64 / (((c + d + tx) as f64) * ((c + d + ty) as f64)).sqrt()
    }

    #[test]
    fn fast_kendall_agrees_with_the_definition_under_heavy_ties() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 7) as f64
        };
        let x: Vec<f64> = (0..400).map(|_| next()).collect();
        let y: Vec<f64> = x.iter().map(|&v| (v + next()) % 5.0).collect();
        let fast = kendall_tau_b(&x, &y).statistic;
        assert!((fast - naive_tau_b(&x, &y)).abs() < 1e-12, "{fast}");
    }

    #[test]
    fn exact_p_values_match_scipy() {
        // scipy.stats._mstats_basic._kendall_p_exact(n, c)
        // 0.0009463183421516755: 5 discordant pairs among 10 untied values
        assert!((kendall_p_exact(10, 40) - 0.000_946_318_342_151_675_5).abs() < 1e-15);
        assert_eq!(
            kendall_p_exact(40, 0),
            2.0 / (1..=40).map(|i| i as f64).product::<f64>()
        );
        assert_eq!(kendall_p_exact(4, 3), 1.0); // 4c == n(n-1)
    }

    #[test]
    fn negative_and_positive_zero_tie() {
        // -0 and +0 are one value: the signs of zero must not change any figure.
        let x = [0.0, -0.0, 1.0, 0.0, -0.0, 2.0];
        let y = [3.0, 1.0, 2.0, 0.0, 5.0, 4.0];
        let plain = [0.0, 0.0, 1.0, 0.0, 0.0, 2.0];
        let (a, b) = (kendall_tau_b(&x, &y), kendall_tau_b(&plain, &y));
        assert_eq!(a.statistic, b.statistic);
        assert!((a.statistic - naive_tau_b(&x, &y)).abs() < 1e-12);
        assert_eq!(average_ranks(&x), average_ranks(&plain));
    }
}
