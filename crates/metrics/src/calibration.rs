//! Expected and maximum calibration error over equal-width confidence bins.
//!
//! Bin `i` of `B` holds confidences in `[e_i, e_{i+1})` with the edges of
//! `numpy.linspace(0, 1, B + 1)`; the last bin is closed, so a confidence of exactly 1.0 counts
//! (a half-open last bin silently drops every saturated prediction).

use serde::Serialize;

/// One confidence bin.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationBin {
    /// Lower edge (inclusive).
    pub lower: f64,
    /// Upper edge (exclusive, except for the last bin).
    pub upper: f64,
    /// Predictions whose confidence falls in the bin.
    pub count: u64,
    /// Their accuracy; `None` for an empty bin.
    pub accuracy: Option<f64>,
    /// Their mean confidence; `None` for an empty bin.
    pub confidence: Option<f64>,
}

/// ECE, MCE and the bins they come from.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// `sum_b |accuracy_b - confidence_b| * count_b / n`.
    pub ece: f64,
    /// Largest `|accuracy_b - confidence_b|` over non-empty bins.
    pub mce: f64,
    /// The bins, lowest first.
    pub bins: Vec<CalibrationBin>,
}

/// Bin edges as `numpy.linspace(0, 1, bins + 1)` computes them (`i * (1 / bins)`, last = 1).
pub fn edges(bins: usize) -> Vec<f64> {
    let step = 1.0 / bins as f64;
    let mut e: Vec<f64> = (0..=bins).map(|i| i as f64 * step).collect();
    if let Some(last) = e.last_mut() {
        *last = 1.0;
    }
    e
}

/// The bin of a confidence: `searchsorted(edges, conf, 'right') - 1`, clipped to the bins.
pub fn bin_index(edges: &[f64], confidence: f64) -> usize {
    let bins = edges.len() - 1;
    let right = edges.partition_point(|&e| e <= confidence);
    right.saturating_sub(1).min(bins - 1)
}

/// Calibration of `confidence` (float32 confidences, widened) against `correct`.
pub fn calibration(confidence: &[f32], correct: &[bool], bins: usize) -> Calibration {
    let bins = bins.max(1);
    let e = edges(bins);
    let mut count = vec![0u64; bins];
    let mut right = vec![0u64; bins];
    let mut conf_sum = vec![0f64; bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        let c = f64::from(c);
        let b = bin_index(&e, c);
        count[b] += 1;
        right[b] += u64::from(ok);
        conf_sum[b] += c;
    }
    let n = confidence.len() as f64;
    let mut ece = 0.0;
    let mut mce: f64 = 0.0;
    let table = (0..bins)
        .map(|b| {
            let (accuracy, conf) = if count[b] == 0 {
                (None, None)
            } else {
                let k = count[b] as f64;
                let acc = right[b] as f64 / k;
                let cm = conf_sum[b] / k;
                let gap = (acc - cm).abs();
                ece += gap * k / n;
                mce = mce.max(gap);
                (Some(acc), Some(cm))
            };
            CalibrationBin {
                lower: e[b],
                upper: e[b + 1],
                count: count[b],
                accuracy,
                confidence: conf,
            }
        })
        .collect();
    Calibration {
        ece,
        mce,
        bins: table,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confidence_of_one_lands_in_the_last_bin() {
        let cal = calibration(&[1.0, 1.0, 0.95], &[true, false, true], 10);
        assert_eq!(cal.bins[9].count, 3);
        // acc 2/3, mean confidence (1 + 1 + 0.95) / 3: gap = 0.3167 (float32 0.95 widened)
        assert!((cal.ece - (2.95f32 as f64 / 3.0 - 2.0 / 3.0)).abs() < 1e-7);
        assert_eq!(cal.ece, cal.mce);
    }

    #[test]
    fn edges_follow_numpy_linspace() {
        let e = edges(10);
        assert_eq!(e[3], 3.0 * 0.1); // 0.30000000000000004, not 0.3
        assert_eq!(e[10], 1.0);
        assert_eq!(bin_index(&e, 0.0), 0);
        assert_eq!(bin_index(&e, 0.5), 5); // an edge belongs to the bin above it
        assert_eq!(bin_index(&e, 0.999_999), 9);
        assert_eq!(bin_index(&e, 1.0), 9);
    }

    #[test]
    fn hand_checked_two_bins() {
        // bins [0, .5) and [.5, 1]: {0.25 wrong, 0.25 right} and {0.75 right, 0.75 right}
        let cal = calibration(&[0.25, 0.25, 0.75, 0.75], &[false, true, true, true], 2);
        // |1/2 - 1/4| * 2/4 + |1 - 3/4| * 2/4 = 1/4
        assert!((cal.ece - 0.25).abs() < 1e-15);
        assert!((cal.mce - 0.25).abs() < 1e-15);
        assert_eq!(cal.bins[0].accuracy, Some(0.5));
    }

    #[test]
    fn empty_bins_have_no_figures() {
        let cal = calibration(&[0.95], &[true], 10);
        assert!(cal.bins[..9]
            .iter()
            .all(|b| b.count == 0 && b.accuracy.is_none()));
        assert_eq!(cal.bins[9].count, 1);
    }
}
