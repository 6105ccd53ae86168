//! Labelled test sets: reading JSON Lines, CSV, TSV and parquet files into [`Row`]s, finding the
//! text, text-pair and label columns, and choosing the parquet files of a hub dataset split.
//!
//! Labels are kept as the file spells them ([`Label::Id`] or [`Label::Name`]); mapping names to
//! the models' `id2label` and rejecting out-of-range ids is the caller's business.

use std::fmt;
use std::path::{Path, PathBuf};

use tracing::instrument;

pub use crate::location::{FieldRole, Position};
use crate::{Error, Result};

mod columnar;
mod delimited;
mod jsonl;
mod split;

pub(crate) use jsonl::kind as json_kind;
pub use split::{select_split_files, DEFAULT_SPLIT};

/// Conventional names of a single-text column, tried in order.
const TEXT_FIELDS: &[&str] = &[
    "text",
    "sentence",
    "content",
    "review",
    "document",
    "input",
    "utterance",
    "question",
];

/// Conventional (first, second) names of a text-pair task, tried in order before [`TEXT_FIELDS`].
const PAIR_FIELDS: &[(&str, &str)] = &[
    ("sentence1", "sentence2"),
    ("premise", "hypothesis"),
    ("question1", "question2"),
    ("text", "text_pair"),
    ("text1", "text2"),
    ("text_a", "text_b"),
    ("sentence_a", "sentence_b"),
    ("query", "passage"),
    ("question", "passage"),
    ("question", "sentence"),
];

/// Conventional names of the label column, tried in order.
const LABEL_FIELDS: &[&str] = &[
    "label",
    "labels",
    "target",
    "class",
    "gold",
    "y",
    "gold_label",
];

/// How to read a dataset: column overrides and a row limit.
#[derive(Debug, Clone, Default)]
pub struct DataOptions {
    /// Column holding the (first) text; detected when `None`.
    pub text_field: Option<String>,
    /// Column holding the second text of a pair task; detected when `None`.
    pub text_pair_field: Option<String>,
    /// Column holding the gold label; detected when `None`.
    pub label_field: Option<String>,
    /// Stop after this many rows.
    pub limit: Option<usize>,
    /// Documents for a causal LM: only the text column is read (no pair, no label), and a
    /// `.txt` file is one document.
    pub texts_only: bool,
    /// Targets of a regression head: float labels are read as numbers ([`Label::Number`])
    /// instead of being refused.
    pub numeric_labels: bool,
}

/// A gold label as the file spells it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Label {
    /// An integer class id (possibly negative or out of range: the caller checks).
    Id(i64),
    /// A class name, to be mapped through the models' `label2id`.
    Name(String),
    /// No label: a causal LM's document ([`DataOptions::texts_only`]).
    Absent,
    /// A number that is not an integer: a regression target ([`DataOptions::numeric_labels`]).
    Number(f64),
}

impl Label {
    /// The label as a number: an id, a number, or a name that parses as one (a regression
    /// target or a relevance grade); `None` when absent or not numeric.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Self::Id(i) => Some(*i as f64),
            Self::Number(x) => Some(*x),
            Self::Name(s) => s.trim().parse::<f64>().ok(),
            Self::Absent => None,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name(name) => write!(f, "{name:?}"),
            Self::Absent => f.write_str("none"),
            Self::Number(x) => write!(f, "{x}"),
        }
    }
}

/// One labelled example.
#[derive(Debug, Clone)]
pub struct Row {
    /// The text, or the first text of a pair.
    pub text: String,
    /// The second text of a pair task.
    pub pair: Option<String>,
    /// The gold label.
    pub label: Label,
    /// Where the record sits in its file, for messages.
    pub position: Position,
}

/// The on-disk format of a dataset file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DataFormat {
    /// One JSON object per line (`.jsonl`, `.json`; a `.json` file may also be one array).
    Jsonl,
    /// Comma-separated values with a header row (`.csv`).
    Csv,
    /// Tab-separated values with a header row (`.tsv`, `.tab`).
    Tsv,
    /// Apache Parquet (`.parquet`).
    Parquet,
    /// Plain text (`.txt`): the whole file is one document (causal LMs only).
    Text,
}

impl DataFormat {
    /// The extensions [`DataFormat::from_path`] accepts, for messages.
    pub const EXTENSIONS: &'static str =
        ".jsonl, .json, .csv, .tsv, .tab or .parquet (.txt for causal LMs)";

    /// The format named by a file's extension (case-insensitive).
    pub fn from_path(path: &Path) -> Result<Self> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "jsonl" | "json" | "ndjson" => Ok(Self::Jsonl),
            "csv" => Ok(Self::Csv),
            "tsv" | "tab" => Ok(Self::Tsv),
            "parquet" => Ok(Self::Parquet),
            "txt" => Ok(Self::Text),
            _ => Err(Error::UnknownFormat {
                path: path.to_path_buf(),
                extension,
                expected: Self::EXTENSIONS,
            }),
        }
    }
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
            Self::Tsv => "tsv",
            Self::Parquet => "parquet",
            Self::Text => "txt",
        })
    }
}

/// The columns a dataset was read from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fields {
    /// The text column (the first text of a pair).
    pub text: String,
    /// The second text column of a pair task.
    pub text_pair: Option<String>,
    /// The label column (empty when none is read: [`DataOptions::texts_only`]).
    pub label: String,
}

/// A loaded test set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Where it came from: a file path or a hub dataset id, for the report.
    pub source: String,
    /// The file format.
    pub format: DataFormat,
    /// The columns used.
    pub fields: Fields,
    /// The examples, in file order.
    pub rows: Vec<Row>,
}

/// Reads a dataset file; the format comes from the extension (`.jsonl`/`.json`, `.csv`,
/// `.tsv`/`.tab`, `.parquet`).
#[instrument(skip_all, fields(path = %path.display()))]
pub fn load_file(path: &Path, opts: &DataOptions) -> Result<Dataset> {
    let format = DataFormat::from_path(path)?;
    let (fields, rows) = match format {
        DataFormat::Jsonl => jsonl::read(path, opts)?,
        DataFormat::Csv => delimited::read(path, b',', opts)?,
        DataFormat::Tsv => delimited::read(path, b'\t', opts)?,
        DataFormat::Parquet => {
            let mut rows = Vec::new();
            let fields = columnar::read(path, opts, &mut rows)?;
            (fields, rows)
        }
        DataFormat::Text => read_document(path, opts)?,
    };
    if rows.is_empty() {
        return Err(Error::EmptyData {
            path: path.to_path_buf(),
        });
    }
    tracing::debug!(rows = rows.len(), ?fields, "dataset loaded");
    Ok(Dataset {
        source: path.display().to_string(),
        format,
        fields,
        rows,
    })
}

/// Reads several parquet files (the shards of a hub dataset split) and concatenates them in
/// order. The columns are resolved on the first file; every later file must have them too.
/// `source` names the dataset in the report.
#[instrument(skip_all, fields(source = source, files = paths.len()))]
pub fn load_parquet_files(source: &str, paths: &[PathBuf], opts: &DataOptions) -> Result<Dataset> {
    let mut rows = Vec::new();
    let mut fields: Option<Fields> = None;
    for path in paths {
        if opts.limit.is_some_and(|limit| rows.len() >= limit) {
            break;
        }
        // Later shards reuse the first shard's columns, as explicit overrides.
        let shard_opts = match &fields {
            Some(f) => DataOptions {
                text_field: Some(f.text.clone()),
                text_pair_field: f.text_pair.clone(),
                label_field: (!f.label.is_empty()).then(|| f.label.clone()),
                limit: opts.limit,
                texts_only: opts.texts_only,
                numeric_labels: opts.numeric_labels,
            },
            None => opts.clone(),
        };
        let shard_fields = columnar::read(path, &shard_opts, &mut rows)?;
        fields.get_or_insert(shard_fields);
    }
    match fields {
        Some(fields) if !rows.is_empty() => Ok(Dataset {
            source: source.to_owned(),
            format: DataFormat::Parquet,
            fields,
            rows,
        }),
        _ => Err(Error::EmptyData {
            path: paths
                .first()
                .cloned()
                .unwrap_or_else(|| PathBuf::from(source)),
        }),
    }
}

/// Chooses the text, pair and label columns among `columns`: explicit options win, else the
/// conventional names ([`PAIR_FIELDS`] before [`TEXT_FIELDS`], then [`LABEL_FIELDS`]), matched
/// exactly first and then ignoring ASCII case.
fn resolve_fields(path: &Path, columns: &[String], opts: &DataOptions) -> Result<Fields> {
    let has = |name: &str| columns.iter().any(|c| c == name);
    let require = |role: FieldRole, name: &Option<String>| -> Result<Option<String>> {
        match name {
            Some(name) if !has(name) => Err(Error::FieldMissing {
                path: path.to_path_buf(),
                role,
                field: name.clone(),
                available: columns.to_vec(),
            }),
            _ => Ok(name.clone()),
        }
    };
    let text_override = require(FieldRole::Text, &opts.text_field)?;
    let detect_text = || {
        TEXT_FIELDS
            .iter()
            .find_map(|name| find_column(columns, name))
            .ok_or_else(|| Error::FieldNotDetected {
                path: path.to_path_buf(),
                role: FieldRole::Text,
                tried: TEXT_FIELDS.iter().map(|s| s.to_string()).collect(),
                available: columns.to_vec(),
            })
    };
    if opts.texts_only {
        let text = match text_override {
            Some(text) => text,
            None => detect_text()?,
        };
        return Ok(Fields {
            text,
            text_pair: None,
            label: String::new(),
        });
    }
    let pair_override = require(FieldRole::TextPair, &opts.text_pair_field)?;
    let label_override = require(FieldRole::Label, &opts.label_field)?;

    let pair = |first: Option<&str>| -> Option<(String, String)> {
        PAIR_FIELDS.iter().find_map(|&(a, b)| {
            if first.is_some_and(|f| f != a) {
                return None;
            }
            let a = find_column(columns, a)?;
            let b = find_column(columns, b)?;
            Some((a, b))
        })
    };
    let (text, text_pair) = match text_override {
        // An explicit text column keeps its conventional partner, if the dataset has it.
        Some(text) => {
            let partner = pair(Some(&text)).map(|(_, b)| b);
            (text, pair_override.or(partner))
        }
        None => match pair(None) {
            Some((a, b)) => (a, Some(pair_override.unwrap_or(b))),
            None => (detect_text()?, pair_override),
        },
    };
    let label = match label_override {
        Some(label) => label,
        None => LABEL_FIELDS
            .iter()
            .find_map(|name| find_column(columns, name))
            .ok_or_else(|| Error::FieldNotDetected {
                path: path.to_path_buf(),
                role: FieldRole::Label,
                tried: LABEL_FIELDS.iter().map(|s| s.to_string()).collect(),
                available: columns.to_vec(),
            })?,
    };
    Ok(Fields {
        text,
        text_pair,
        label,
    })
}

/// A `.txt` file as one document; only documents for a causal LM may be plain text.
fn read_document(path: &Path, opts: &DataOptions) -> Result<(Fields, Vec<Row>)> {
    if !opts.texts_only {
        return Err(Error::TextNeedsCausalLm {
            path: path.to_path_buf(),
        });
    }
    let text = crate::input::read_text(path)?;
    let fields = Fields {
        text: String::new(),
        text_pair: None,
        label: String::new(),
    };
    if text.trim().is_empty() {
        return Ok((fields, Vec::new()));
    }
    let row = Row {
        text,
        pair: None,
        label: Label::Absent,
        position: Position::Line(1),
    };
    Ok((fields, vec![row]))
}

/// The column called `name`, exactly or else ignoring ASCII case.
fn find_column(columns: &[String], name: &str) -> Option<String> {
    columns
        .iter()
        .find(|c| *c == name)
        .or_else(|| columns.iter().find(|c| c.eq_ignore_ascii_case(name)))
        .cloned()
}

/// Builds the error for a cell of the wrong kind.
fn bad_value(
    path: &Path,
    position: Position,
    role: FieldRole,
    field: &str,
    found: impl Into<String>,
) -> Error {
    Error::FieldValue {
        path: path.to_path_buf(),
        position,
        role,
        field: field.to_owned(),
        found: found.into(),
        expected: match role {
            FieldRole::Text | FieldRole::TextPair => "a string",
            FieldRole::Label => "an integer class id or a class name",
        },
    }
}

/// Helpers shared by the format modules' tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};

    use super::{load_file, DataOptions};

    /// The tests' result type.
    pub(crate) type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// Writes `content` to `dir/name`.
    pub(crate) fn file(
        dir: &tempfile::TempDir,
        name: &str,
        content: &str,
    ) -> std::io::Result<PathBuf> {
        let path = dir.path().join(name);
        std::fs::write(&path, content)?;
        Ok(path)
    }

    /// The message of loading `path`, which must fail.
    pub(crate) fn load_err(path: &Path) -> String {
        match load_file(path, &DataOptions::default()) {
            Ok(data) => panic!("expected an error, read {} rows", data.rows.len()),
            Err(err) => err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn detect(names: &[&str]) -> Result<Fields> {
        resolve_fields(Path::new("d.jsonl"), &cols(names), &DataOptions::default())
    }

    #[test]
    fn detects_single_text() -> Result<()> {
        let f = detect(&["idx", "sentence", "label"])?;
        assert_eq!(f.text, "sentence");
        assert_eq!(f.text_pair, None);
        assert_eq!(f.label, "label");
        let f = detect(&["review", "target"])?;
        assert_eq!((f.text.as_str(), f.label.as_str()), ("review", "target"));
        Ok(())
    }

    #[test]
    fn detects_pairs_before_single_texts() -> Result<()> {
        let f = detect(&["premise", "hypothesis", "label"])?;
        assert_eq!(f.text, "premise");
        assert_eq!(f.text_pair.as_deref(), Some("hypothesis"));
        let f = detect(&["text", "text_pair", "y"])?;
        assert_eq!(f.text, "text");
        assert_eq!(f.text_pair.as_deref(), Some("text_pair"));
        assert_eq!(f.label, "y");
        let f = detect(&["question1", "question2", "is_duplicate", "label"])?;
        assert_eq!(f.text_pair.as_deref(), Some("question2"));
        Ok(())
    }

    #[test]
    fn detection_falls_back_to_ascii_case() -> Result<()> {
        let f = detect(&["Text", "Label"])?;
        assert_eq!((f.text.as_str(), f.label.as_str()), ("Text", "Label"));
        Ok(())
    }

    #[test]
    fn overrides_win() -> Result<()> {
        let opts = DataOptions {
            text_field: Some("body".into()),
            label_field: Some("stars".into()),
            ..Default::default()
        };
        let f = resolve_fields(
            Path::new("d.csv"),
            &cols(&["text", "body", "label", "stars"]),
            &opts,
        )?;
        assert_eq!((f.text.as_str(), f.label.as_str()), ("body", "stars"));
        assert_eq!(f.text_pair, None);

        // An explicit first member keeps its partner; an explicit pair replaces it.
        let opts = DataOptions {
            text_field: Some("premise".into()),
            ..Default::default()
        };
        let columns = cols(&["premise", "hypothesis", "other", "label"]);
        let f = resolve_fields(Path::new("d.csv"), &columns, &opts)?;
        assert_eq!(f.text_pair.as_deref(), Some("hypothesis"));
        let opts = DataOptions {
            text_pair_field: Some("other".into()),
            ..Default::default()
        };
        let f = resolve_fields(Path::new("d.csv"), &columns, &opts)?;
        assert_eq!(f.text, "premise");
        assert_eq!(f.text_pair.as_deref(), Some("other"));
        Ok(())
    }

    #[test]
    fn missing_override_lists_columns() {
        let opts = DataOptions {
            label_field: Some("gold".into()),
            ..Default::default()
        };
        let err = resolve_fields(Path::new("d.csv"), &cols(&["text", "label"]), &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains("d.csv"), "{err}");
        assert!(err.contains("\"gold\""), "{err}");
        assert!(err.contains("text, label"), "{err}");
        assert!(err.contains("hint: pass one of those names with --label-field"));
    }

    #[test]
    fn undetected_columns_list_what_was_tried() {
        let err = detect(&["body", "label"]).unwrap_err().to_string();
        assert!(
            err.contains("no text column found among: body, label"),
            "{err}"
        );
        assert!(err.contains("--text-field"), "{err}");
        let err = detect(&["text", "stars"]).unwrap_err().to_string();
        assert!(err.contains("no label column"), "{err}");
        assert!(err.contains("--label-field"), "{err}");
    }

    #[test]
    fn format_from_extension() -> Result<()> {
        assert_eq!(
            DataFormat::from_path(Path::new("a.JSONL"))?,
            DataFormat::Jsonl
        );
        assert_eq!(
            DataFormat::from_path(Path::new("a.json"))?,
            DataFormat::Jsonl
        );
        assert_eq!(DataFormat::from_path(Path::new("a.tab"))?, DataFormat::Tsv);
        assert_eq!(DataFormat::from_path(Path::new("a.csv"))?, DataFormat::Csv);
        assert_eq!(
            DataFormat::from_path(Path::new("x/a.parquet"))?,
            DataFormat::Parquet
        );
        let err = DataFormat::from_path(Path::new("a.xlsx"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.xlsx") && err.contains("\"xlsx\""), "{err}");
        assert!(err.contains("hint:"), "{err}");
        Ok(())
    }

    #[test]
    fn unknown_format_is_reported_before_opening() {
        let err = load_file(Path::new("/nonexistent/a.docx"), &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot tell the format"), "{err}");
        // Plain text is one document for a causal LM, refused for a classifier before opening.
        let err = load_file(Path::new("/nonexistent/a.txt"), &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.txt is plain text"), "{err}");
    }

    #[test]
    fn documents_need_only_a_text_column() -> testing::TestResult {
        let dir = tempfile::tempdir()?;
        let opts = DataOptions {
            texts_only: true,
            ..Default::default()
        };
        let txt = dir.path().join("story.txt");
        std::fs::write(&txt, "line one\nline two\n")?;
        let data = load_file(&txt, &opts)?;
        assert_eq!(data.rows.len(), 1);
        assert_eq!(data.rows[0].text, "line one\nline two\n");
        assert_eq!(data.rows[0].label, Label::Absent);
        let blank = dir.path().join("blank.txt");
        std::fs::write(&blank, " \n")?;
        assert!(load_file(&blank, &opts)
            .unwrap_err()
            .to_string()
            .contains("holds no rows"));
        // Neither a label nor a pair column is looked for, though a pair-like column exists.
        let csv = dir.path().join("d.csv");
        std::fs::write(&csv, "premise,hypothesis,body\na,b,c\n")?;
        let opts_body = DataOptions {
            text_field: Some("body".into()),
            ..opts.clone()
        };
        let data = load_file(&csv, &opts_body)?;
        assert_eq!(data.rows[0].text, "c");
        assert_eq!(
            (data.rows[0].pair.as_deref(), &data.rows[0].label),
            (None, &Label::Absent)
        );
        let jsonl = dir.path().join("d.jsonl");
        std::fs::write(
            &jsonl,
            "{\"text\": \"a\"}\n{\"text\": \"b\", \"label\": 3}\n",
        )?;
        let data = load_file(&jsonl, &opts)?;
        assert_eq!(data.rows.len(), 2);
        assert_eq!(data.fields.label, "");
        Ok(())
    }

    #[test]
    fn missing_file_is_named() {
        let err = load_file(Path::new("/nonexistent/a.csv"), &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/a.csv does not exist"), "{err}");
    }

    #[test]
    fn label_serializes_untagged() -> std::result::Result<(), serde_json::Error> {
        let labels = vec![Label::Id(3), Label::Name("pos".into())];
        assert_eq!(serde_json::to_string(&labels)?, r#"[3,"pos"]"#);
        Ok(())
    }
}
