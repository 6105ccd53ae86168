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
