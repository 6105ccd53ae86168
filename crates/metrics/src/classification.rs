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

/// Above this many classes the confusion counts are kept as their non-zero cells only
/// ([`Confusion::Pairs`]): a dense matrix grows with C² (two of them at 5,000 classes take
/// hundreds of megabytes of JSON), the non-zero cells at most with the number of examples.
pub const DENSE_CONFUSION_MAX_CLASSES: usize = 100;

/// One non-zero cell of a confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConfusionCell {
    /// True class id.
    #[serde(rename = "true")]
    pub true_class: u32,
    /// Predicted class id.
    pub predicted: u32,
    /// Examples of that true class given that prediction.
    pub count: u64,
}

/// Confusion counts: dense up to [`DENSE_CONFUSION_MAX_CLASSES`] classes, else sparse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confusion {
    /// `[true][predicted]` counts.
    Dense(Vec<Vec<u64>>),
    /// The non-zero cells, most frequent first (ties by true, then predicted class).
    Pairs(Vec<ConfusionCell>),
}

impl Confusion {
    /// The counts of `predictions` against `labels` over `num_classes` classes, in the form
    /// the number of classes calls for. Ids must be below `num_classes`.
    pub fn new(predictions: &[u32], labels: &[u32], num_classes: usize) -> Self {
        if num_classes <= DENSE_CONFUSION_MAX_CLASSES {
            return Self::Dense(confusion_matrix(predictions, labels, num_classes));
        }
        let mut cells: Vec<(u32, u32)> = labels
            .iter()
            .copied()
            .zip(predictions.iter().copied())
            .collect();
        cells.sort_unstable();
        let mut pairs: Vec<ConfusionCell> = Vec::new();
        for (t, p) in cells {
            match pairs.last_mut() {
                Some(c) if c.true_class == t && c.predicted == p => c.count += 1,
                _ => pairs.push(ConfusionCell {
                    true_class: t,
                    predicted: p,
                    count: 1,
                }),
            }
        }
        pairs.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then((a.true_class, a.predicted).cmp(&(b.true_class, b.predicted)))
        });
        Self::Pairs(pairs)
    }

    /// The dense matrix, when the counts are kept as one.
    pub fn dense(&self) -> Option<&[Vec<u64>]> {
        match self {
            Self::Dense(m) => Some(m),
            Self::Pairs(_) => None,
        }
    }

    /// The non-zero off-diagonal cells (the mistakes), most frequent first.
    pub fn mistakes(&self) -> Vec<ConfusionCell> {
        let mut out: Vec<ConfusionCell> = match self {
            Self::Dense(m) => m
                .iter()
                .enumerate()
                .flat_map(|(t, row)| {
                    row.iter()
                        .enumerate()
                        .map(move |(p, &count)| ConfusionCell {
                            true_class: t as u32,
                            predicted: p as u32,
                            count,
                        })
                })
                .filter(|c| c.count > 0)
                .collect(),
            Self::Pairs(v) => v.clone(),
        };
        out.retain(|c| c.true_class != c.predicted);
        out.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then((a.true_class, a.predicted).cmp(&(b.true_class, b.predicted)))
        });
        out
    }
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
    let tp: Vec<u64> = (0..c).map(|k| confusion[k][k]).collect();
    let support: Vec<u64> = confusion.iter().map(|row| row.iter().sum()).collect();
    let predicted: Vec<u64> = (0..c)
        .map(|k| confusion.iter().map(|row| row[k]).sum())
        .collect();
    class_metrics(&tp, &support, &predicted)
}

/// Per-class precision, recall, F1 and support straight from the predictions, in O(n + C)
/// memory whatever the number of classes; equal to [`per_class`] of the confusion matrix.
pub fn per_class_of(predictions: &[u32], labels: &[u32], num_classes: usize) -> Vec<ClassMetrics> {
    let (mut tp, mut support, mut predicted) = (
        vec![0u64; num_classes],
        vec![0u64; num_classes],
        vec![0u64; num_classes],
    );
    for (&p, &l) in predictions.iter().zip(labels) {
        support[l as usize] += 1;
        predicted[p as usize] += 1;
        if p == l {
            tp[l as usize] += 1;
        }
    }
    class_metrics(&tp, &support, &predicted)
}

fn class_metrics(tp: &[u64], support: &[u64], predicted: &[u64]) -> Vec<ClassMetrics> {
    (0..tp.len())
        .map(|k| {
            let (tp, support, predicted) = (tp[k], support[k], predicted[k]);
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

    fn sample(n: usize, c: u32, seed: u64) -> (Vec<u32>, Vec<u32>) {
        // A small LCG: labels uniform, predictions right about half the time.
        let mut x = seed;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u32
        };
        let labels: Vec<u32> = (0..n).map(|_| next() % c).collect();
        let preds = labels
            .iter()
            .map(|&l| if next() % 2 == 0 { l } else { next() % c })
            .collect();
        (preds, labels)
    }

    #[test]
    fn per_class_without_the_matrix_equals_per_class_of_the_matrix() {
        for (n, c) in [(0, 3), (50, 3), (500, 40), (300, 101)] {
            let (p, l) = sample(n, c, 7 + n as u64);
            let a = per_class(&confusion_matrix(&p, &l, c as usize));
            let b = per_class_of(&p, &l, c as usize);
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "n {n}, c {c}");
        }
    }

    #[test]
    fn many_classes_keep_only_the_non_zero_cells() {
        let c = DENSE_CONFUSION_MAX_CLASSES + 1;
        let (p, l) = sample(400, c as u32, 3);
        let Confusion::Pairs(pairs) = Confusion::new(&p, &l, c) else {
            panic!("dense above the limit")
        };
        let dense = confusion_matrix(&p, &l, c);
        let nonzero = dense.iter().flatten().filter(|&&v| v > 0).count();
        assert_eq!(pairs.len(), nonzero);
        assert_eq!(pairs.iter().map(|c| c.count).sum::<u64>(), 400);
        for cell in &pairs {
            assert_eq!(
                cell.count,
                dense[cell.true_class as usize][cell.predicted as usize]
            );
        }
        assert!(pairs.windows(2).all(|w| w[0].count >= w[1].count));
        // The mistakes are the same from either form.
        let from_dense = Confusion::Dense(dense).mistakes();
        assert_eq!(Confusion::Pairs(pairs).mistakes(), from_dense);
        assert!(from_dense.iter().all(|c| c.true_class != c.predicted));
    }

    #[test]
    fn few_classes_stay_dense() {
        let (p, l) = sample(60, 4, 1);
        assert_eq!(
            Confusion::new(&p, &l, 4).dense(),
            Some(&confusion_matrix(&p, &l, 4)[..])
        );
    }
}
