//! Where something sits in an input (a line, a row, an example) and what a column is for: the
//! words error messages use to point at the problem. The bottom of the runner: imports nothing.

use std::fmt;

/// What a column is used for; names the field in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRole {
    /// The (first) text.
    Text,
    /// The second text of a pair.
    TextPair,
    /// The gold label.
    Label,
}

impl FieldRole {
    /// The command-line flag that names this column.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Text => "--text-field",
            Self::TextPair => "--text-pair-field",
            Self::Label => "--label-field",
        }
    }

    /// The remedy for a bad value in this column.
    pub(crate) fn value_hint(self) -> &'static str {
        match self {
            Self::Text | Self::TextPair => {
                "every row needs a string here (an empty string is allowed); fix the row or choose another column"
            }
            Self::Label => {
                "labels must be integer class ids or class names; fix the row or choose another column"
            }
        }
    }
}

impl fmt::Display for FieldRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::TextPair => "text pair",
            Self::Label => "label",
        })
    }
}

/// Where a record sits in an input file, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line of a text file (JSON Lines, CSV, TSV, plain text).
    Line(u64),
    /// 0-based index of a record in a file without lines (parquet, a JSON array).
    Row(u64),
    /// 0-based example index in saved logits and labels.
    Example(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "line {line}"),
            Self::Row(index) => write!(f, "row index {index}"),
            Self::Example(index) => write!(f, "example {index}"),
        }
    }
}
