//! Accuracy, the confusion matrix, and precision / recall / F1 per class and averaged, with
//! scikit-learn's conventions (`precision_recall_fscore_support`, `zero_division=0`).

use serde::Serialize;

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassMetrics {
    /// Class id.
    pub class: usize,
    /// `tp / (tp + fp)`, 0 when the class is never predicted.
    pub precision: f64,
    /// `tp / (tp + fn)`, 0 when the class never occurs.
    pub recall: f64,
    /// `2 tp / (2 tp + fp + fn)`, 0 when that is 0 / 0.
    pub f1: f64,
    /// Examples whose true class this is.
    pub support: u64,
}

/// Averages over classes.
#[derive(Debug, Clone, Copy)]
pub struct Averages {
    /// Support-weighted precision.
    pub precision: f64,
    /// Support-weighted recall (equals accuracy).
    pub recall: f64,
    /// Support-weighted F1.
    pub f1: f64,
    /// Unweighted mean precision over all classes.
    pub macro_precision: f64,
    /// Unweighted mean recall over all classes.
    pub macro_recall: f64,
    /// Unweighted mean F1 over all classes.
    pub macro_f1: f64,
}

/// Fraction of predictions equal to the labels (0 for no examples).
pub fn accuracy(predictions: &[u32], labels: &[u32]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    let right = predictions
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count();
    right as f64 / labels.len() as f64
}

/// `[true][predicted]` counts over `num_classes` classes. Ids must be below `num_classes`.
pub fn confusion_matrix(predictions: &[u32], labels: &[u32], num_classes: usize) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; num_classes]; num_classes];
    for (&p, &l) in predictions.iter().zip(labels) {
        m[l as usize][p as usize] += 1;
    }
    m
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Per-class precision, recall, F1 and support from a confusion matrix.
pub fn per_class(confusion: &[Vec<u64>]) -> Vec<ClassMetrics> {
    let c = confusion.len();
    (0..c)
        .map(|k| {
            let tp = confusion[k][k];
            let support: u64 = confusion[k].iter().sum();
            let predicted: u64 = confusion.iter().map(|row| row[k]).sum();
            let fp = predicted - tp;
            let fn_ = support - tp;
            ClassMetrics {
                class: k,
                precision: ratio(tp, predicted),
                recall: ratio(tp, support),
                f1: ratio(2 * tp, 2 * tp + fp + fn_),
                support,
            }
        })
        .collect()
}

/// Weighted averages (by support, as scikit-learn's `average='weighted'`; classes without
/// support weigh nothing) and macro averages over every class (as `average='macro'` with
/// `labels=range(C)`: a class that never occurs and is never predicted counts as 0).
pub fn averages(classes: &[ClassMetrics]) -> Averages {
    let total: u64 = classes.iter().map(|c| c.support).sum();
    let weighted = |f: fn(&ClassMetrics) -> f64| {
        if total == 0 {
            0.0
        } else {
            classes.iter().map(|c| f(c) * c.support as f64).sum::<f64>() / total as f64
        }
    };
    let mean = |f: fn(&ClassMetrics) -> f64| {
        if classes.is_empty() {
            0.0
        } else {
            classes.iter().map(f).sum::<f64>() / classes.len() as f64
        }
    };
    Averages {
        precision: weighted(|c| c.precision),
        recall: weighted(|c| c.recall),
        f1: weighted(|c| c.f1),
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn hand_checked_three_classes_with_one_never_predicted() {
        // true:      0 0 0 1 1 2
        // predicted: 0 0 1 1 1 1   (class 2 is never predicted)
        let labels = [0, 0, 0, 1, 1, 2];
        let preds = [0, 0, 1, 1, 1, 1];
        assert_eq!(r4(accuracy(&preds, &labels)), 0.6667); // 4/6
        let m = confusion_matrix(&preds, &labels, 3);
        assert_eq!(m, vec![vec![2, 1, 0], vec![0, 2, 0], vec![0, 1, 0]]);
        let pc = per_class(&m);
        assert_eq!(r4(pc[0].precision), 1.0); // 2/2
        assert_eq!(r4(pc[0].recall), 0.6667); // 2/3
        assert_eq!(r4(pc[0].f1), 0.8); // 4/5
        assert_eq!(r4(pc[1].precision), 0.5); // 2/4
        assert_eq!(r4(pc[1].recall), 1.0); // 2/2
        assert_eq!(r4(pc[1].f1), 0.6667); // 4/6
        assert_eq!((pc[2].precision, pc[2].recall, pc[2].f1), (0.0, 0.0, 0.0)); // zero_division=0
        let a = averages(&pc);
        assert_eq!(r4(a.precision), 0.6667); // (3*1 + 2*1/2 + 0) / 6 = 4/6
        assert_eq!(r4(a.recall), 0.6667); // weighted recall = accuracy
        assert_eq!(r4(a.f1), 0.6222); // (3*4/5 + 2*2/3) / 6 = 28/45
        assert_eq!(r4(a.macro_precision), 0.5); // (1 + 1/2 + 0) / 3
        assert_eq!(r4(a.macro_f1), 0.4889); // (4/5 + 2/3) / 3 = 22/45
    }

    #[test]
    fn absent_class_lowers_the_macro_average_only() {
        // Class 2 never occurs and is never predicted: it weighs nothing in 'weighted' and
        // counts as 0 in 'macro' over all classes.
        let labels = [0, 1];
        let preds = [0, 1];
        let a = averages(&per_class(&confusion_matrix(&preds, &labels, 3)));
        assert_eq!(a.f1, 1.0);
        assert_eq!(r4(a.macro_f1), 0.6667); // 2/3
    }
}
