//! Statistics of the task families beyond classification: regression, ranking, generation and
//! detection.
//!
//! Each family scores a teacher and a student on one test set and reports each model's figures,
//! the student's retention of the family's headline figure and how closely the two models
//! agree. These are small per-example vectors, so everything here is plain host-side Rust over
//! slices; the conventions are those of the reference libraries the figures are usually quoted
//! from (scikit-learn, SciPy, sacrebleu, rouge-score, pycocotools), and each module says where
//! they are undefined or disagree and what we do then.
//!
//! | family | entry point | headline (retained) figure |
//! |---|---|---|
//! | regression | [`evaluate_regression`] | R² |
//! | ranking | [`evaluate_ranking`] | NDCG@10 |
//! | generation | [`evaluate_generation`] | corpus BLEU |
//! | detection | [`evaluate_detection`] | COCO mAP@[.50:.95] |
//!
//! Retention is always `student / teacher`, and `None` when the teacher's figure is not
//! positive: a ratio to zero is meaningless, and one to a negative R² (a teacher worse than
//! predicting the mean) would read a worse student as "retaining" more.

#[cfg(test)]
mod conformance;
pub mod detection;
pub mod generation;
pub mod ranking;
pub mod regression;

pub use detection::{evaluate_detection, DetectionEvaluation};
pub use generation::{evaluate_generation, GenerationEvaluation};
pub use ranking::{evaluate_ranking, RankingEvaluation};
pub use regression::{evaluate_regression, RegressionEvaluation};

use crate::{Error, Result};

/// `student / teacher`, or `None` when the teacher's figure is not positive (or undefined).
fn retention(student: f64, teacher: f64) -> Option<f64> {
    (teacher > 0.0).then(|| student / teacher)
}

/// The first non-finite value of `values`, as an error naming `what` and the row.
fn check_finite(values: &[f64], what: &'static str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(Error::NotFinite {
            what,
            row,
            value: values[row],
        }),
        None => Ok(()),
    }
}

/// `found.len() == expected.len()`, or an error naming both inputs.
fn check_parallel<A, B>(
    found: &[A],
    what: &'static str,
    expected: &[B],
    against: &'static str,
) -> Result<()> {
    if found.len() == expected.len() {
        Ok(())
    } else {
        Err(Error::Ragged {
            what,
            found: found.len(),
            against,
            expected: expected.len(),
        })
    }
}

/// The arithmetic mean; NaN for an empty slice.
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_needs_a_positive_teacher() {
        assert_eq!(retention(0.45, 0.9), Some(0.5));
        assert_eq!(retention(0.5, 0.0), None);
        assert_eq!(retention(-0.2, -0.1), None);
        assert_eq!(retention(0.5, f64::NAN), None);
    }

    #[test]
    fn validation_names_the_row() {
        let err = check_finite(&[1.0, f64::NAN], "student prediction").unwrap_err();
        assert!(matches!(err, Error::NotFinite { row: 1, .. }));
        let msg = err.to_string();
        assert!(
            msg.starts_with("student prediction at row 1 is NaN"),
            "{msg}"
        );
        assert!(msg.contains("\nhint: "), "{msg}");
        let err = check_parallel(&[1.0; 3], "teacher predictions", &[0.0; 4], "targets");
        let msg = err.unwrap_err().to_string();
        assert!(
            msg.starts_with("teacher predictions has 3 entries but targets has 4\nhint: "),
            "{msg}"
        );
    }
}
