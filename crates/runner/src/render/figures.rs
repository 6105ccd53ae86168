//! The per-model figures every renderer lists, named once so that the terminal, Markdown and
//! HTML reports show the same rows in the same order.

use distill_eval_metrics::SideMetrics;

/// A labelled per-model figure.
pub(crate) type SideFigure = (&'static str, fn(&SideMetrics) -> f64);

/// Accuracy and its precision/recall/F1 breakdown.
pub(crate) const ACCURACY: [SideFigure; 7] = [
    ("Accuracy", |s| s.accuracy),
    ("Precision (weighted)", |s| s.precision),
    ("Recall (weighted)", |s| s.recall),
    ("F1 (weighted)", |s| s.f1),
    ("Precision (macro)", |s| s.macro_precision),
    ("Recall (macro)", |s| s.macro_recall),
    ("F1 (macro)", |s| s.macro_f1),
];

/// Calibration and proper scoring rules.
pub(crate) const CALIBRATION: [SideFigure; 4] = [
    ("ECE", |s| s.ece),
    ("MCE", |s| s.mce),
    ("NLL", |s| s.nll),
    ("Brier", |s| s.brier),
];

/// The bootstrap intervals as (name, interval) rows, in the order every renderer shows them.
pub(crate) fn intervals(
    b: &distill_eval_metrics::Bootstrap,
) -> Vec<(&'static str, distill_eval_metrics::Interval)> {
    let mut rows = vec![
        ("teacher accuracy", b.teacher_accuracy),
        ("student accuracy", b.student_accuracy),
    ];
    if let Some(r) = b.accuracy_retention {
        rows.push(("accuracy retention", r));
    }
    rows.push(("KL(teacher || student)", b.kl_divergence));
    rows.push(("ECE gap (student - teacher)", b.ece_gap));
    rows
}

/// The temperature-scaling rows: (model, fitted T, ECE before, after, NLL before, after).
pub(crate) fn scaling(
    c: &crate::evaluate::Calibrated,
) -> [(&'static str, &distill_eval_metrics::TemperatureScaling); 2] {
    [("teacher", &c.teacher), ("student", &c.student)]
}
