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

    /// Finite logits that overflow once divided by the temperature.
    #[error("the {side}'s logits at row {row} overflow when divided by the temperature {temperature}\nhint: use a larger --temperature, or rescale the logits (softmax is unchanged by subtracting a row's maximum)")]
    Overflow {
        /// Whose logits.
        side: Side,
        /// 0-based row over everything accumulated.
        row: usize,
        /// The temperature they were divided by.
        temperature: f64,
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

    /// A task's input holds no rows.
    #[error("no {what} to evaluate\nhint: {hint}")]
    NoInput {
        /// What is missing, e.g. "regression examples".
        what: &'static str,
        /// What to do.
        hint: &'static str,
    },

    /// Inputs that must run in parallel (one entry per example) have different lengths.
    #[error("{what} has {found} entries but {against} has {expected}\nhint: give exactly one entry per example, in the same order")]
    Ragged {
        /// The input with the wrong length.
        what: &'static str,
        /// Its length.
        found: usize,
        /// The input it is compared with.
        against: &'static str,
        /// That input's length.
        expected: usize,
    },

    /// A prediction, target or score that must be finite is NaN or infinite.
    #[error("{what} at row {row} is {value}, not a finite number\nhint: every prediction, target and score must be finite; check the model or the export for overflow")]
    NotFinite {
        /// Which input, e.g. "student prediction".
        what: &'static str,
        /// 0-based row (example, document or box) in that input.
        row: usize,
        /// The value found.
        value: f64,
    },

    /// A graded relevance below zero.
    #[error("relevance at row {row} is {value} but must be at least 0\nhint: grade relevance 0 (irrelevant) and up; NDCG is undefined for negative gains, as in scikit-learn")]
    NegativeRelevance {
        /// 0-based row.
        row: usize,
        /// The value found.
        value: f64,
    },

    /// A requested cut-off `k` of 0.
    #[error("NDCG@k needs k >= 1, got k = 0\nhint: ask for cut-offs such as 1, 3 or 20")]
    ZeroCutoff,

    /// A bounding box with a negative width or height.
    #[error("{what} {index} has a box of width {width} and height {height}\nhint: COCO boxes are [x, y, width, height] with width and height >= 0; convert [x1, y1, x2, y2] boxes first")]
    NegativeBoxSize {
        /// Which list, e.g. "teacher detection".
        what: &'static str,
        /// 0-based position in that list.
        index: usize,
        /// The width found.
        width: f64,
        /// The height found.
        height: f64,
    },

    /// A detection or annotation for an image the ground truth does not list.
    #[error("{what} {index} is for image {image_id}, which is not among the ground truth's images\nhint: score detections against the ground truth of the same split, or drop those for other images")]
    UnknownImage {
        /// Which list, e.g. "student detection".
        what: &'static str,
        /// 0-based position in that list.
        index: usize,
        /// The image id found.
        image_id: i64,
    },

    /// A detection or annotation with a category the ground truth does not list.
    #[error("{what} {index} has category {category_id}, which is not among the ground truth's categories\nhint: map the model's class indices to the dataset's COCO category ids")]
    UnknownCategory {
        /// Which list, e.g. "teacher detection".
        what: &'static str,
        /// 0-based position in that list.
        index: usize,
        /// The category id found.
        category_id: i64,
    },

    /// Two images, categories or annotations of the ground truth share an id.
    #[error("the ground truth has two {what} with id {id}\nhint: ids of COCO images, categories and annotations must be unique")]
    DuplicateId {
        /// "images", "categories" or "annotations".
        what: &'static str,
        /// The repeated id.
        id: i64,
    },

    /// A ground-truth annotation with id 0.
    #[error("ground-truth annotation {index} has id 0\nhint: COCO annotation ids start at 1 (pycocotools counts a match to id 0 as a miss); renumber the annotations")]
    ZeroAnnotationId {
        /// 0-based position in `annotations`.
        index: usize,
    },

    /// COCO JSON that does not parse into the expected structure.
    #[error("cannot read the {what} as COCO JSON (line {line}, column {column})\nhint: {hint}", line = .source.line(), column = .source.column())]
    CocoJson {
        /// Which document, e.g. "ground truth".
        what: &'static str,
        /// The expected layout.
        hint: &'static str,
        /// The parser's error.
        source: serde_json::Error,
    },

    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle::Error),
}

/// The metrics crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
