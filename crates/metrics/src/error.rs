//! The metrics crate's error type.

/// Which model's logits an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The reference model.
    Teacher,
    /// The distilled model.
    Student,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Teacher => "teacher",
            Side::Student => "student",
        })
    }
}

/// Everything that can go wrong while computing the statistics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value out of its domain.
    #[error("{name} must be {expected}, got {value}\nhint: {hint}")]
    InvalidConfig {
        /// The setting.
        name: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        value: String,
        /// What to do.
        hint: &'static str,
    },

    /// A tensor of the wrong shape.
    #[error("{what} must have shape {expected} but has shape {found:?}\nhint: pass (examples, classes) logits and (examples) labels for the same examples")]
    Shape {
        /// Which input.
        what: &'static str,
        /// The expected shape, in words.
        expected: String,
        /// The actual shape.
        found: Vec<usize>,
    },

    /// A row of logits holds NaN or an infinity.
    #[error("the {side}'s logits at row {row} are not finite (NaN or infinite)\nhint: every logit must be a finite number; check the model or the export for overflow")]
    NonFinite {
        /// Whose logits.
        side: Side,
        /// 0-based row over everything accumulated.
        row: usize,
    },

    /// A label outside `0..num_classes`.
    #[error("label {label} at row {row} is not a class id of a {num_classes}-class model\nhint: labels must be integers from 0 to {max}", max = .num_classes.saturating_sub(1))]
    LabelOutOfRange {
        /// 0-based row.
        row: usize,
        /// The label.
        label: i64,
        /// Number of classes.
        num_classes: usize,
    },

    /// Per-example vectors of different lengths.
    #[error("per-example vector {what} has {found} entries but there are {expected} examples")]
    Length {
        /// Which vector.
        what: &'static str,
        /// Examples.
        expected: usize,
        /// Entries found.
        found: usize,
    },

    /// Nothing was accumulated.
    #[error("no examples to evaluate\nhint: evaluate at least one example")]
    Empty,

    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle::Error),
}

/// The metrics crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
