//! The per-model figures every renderer lists, named once so that the terminal, Markdown and
//! HTML reports show the same rows in the same order.

use distill_eval_metrics::SideMetrics;

use super::Calibrated;
use crate::render::fmt::f4;
use crate::render::table::{Align, Table};

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

/// The bootstrap intervals as a table (terminal and Markdown).
pub(crate) fn intervals_table(b: &distill_eval_metrics::Bootstrap) -> Table {
    let mut t = Table::new(
        &["", "estimate", "interval"],
        &[Align::Left, Align::Right, Align::Left],
    );
    for (name, i) in intervals(b) {
        t.row(vec![
            name.into(),
            f4(i.estimate),
            format!("[{}, {}]", f4(i.lower), f4(i.upper)),
        ]);
    }
    t
}

/// Both models' temperature scaling, teacher first.
pub(crate) fn scaling(
    c: &Calibrated,
) -> [(&'static str, &distill_eval_metrics::TemperatureScaling); 2] {
    [("teacher", &c.teacher), ("student", &c.student)]
}

/// Temperature scaling as a table (terminal and Markdown).
pub(crate) fn scaling_table(c: &Calibrated) -> Table {
    let mut t = Table::new(
        &[
            "",
            "fitted T",
            "ECE before",
            "ECE after",
            "NLL before",
            "NLL after",
        ],
        &[
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
        ],
    );
    for (who, s) in scaling(c) {
        t.row(vec![
            who.into(),
            format!("{:.3}", s.temperature),
            f4(s.ece_before),
            f4(s.ece_after),
            f4(s.nll_before),
            f4(s.nll_after),
        ]);
    }
    t
}
