//! JSON Lines datasets: one object per non-blank line; a `.json` file may instead hold one array
//! of objects.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::{Map, Value};

use super::{bad_value, resolve_fields, DataOptions, FieldRole, Fields, Label, Position, Row};
use crate::{Error, Result};

/// Reads every record of `path`, resolving the columns on the first one.
pub(super) fn read(path: &Path, opts: &DataOptions) -> Result<(Fields, Vec<Row>)> {
    let file = File::open(path).map_err(Error::read(path))?;
    let mut reader = BufReader::new(file);
    if starts_with_array(&mut reader).map_err(Error::read(path))? {
        return read_array(path, reader, opts);
    }
    let limit = opts.limit.unwrap_or(usize::MAX);
    let mut fields: Option<Fields> = None;
    let mut rows = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        if rows.len() >= limit {
            break;
        }
        let position = Position::Line(index as u64 + 1);
        let line = line.map_err(Error::read_line(path, index as u64 + 1))?;
        // Some Windows tools start UTF-8 files with a byte-order mark.
        let line = match index {
            0 => line.trim_start_matches('\u{feff}'),
            _ => line.as_str(),
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            position,
            source,
        })?;
        rows.push(record(path, position, &value, opts, &mut fields)?);
    }
    Ok((fields.unwrap_or_else(|| placeholder(opts)), rows))
}

/// A file holding one JSON array of objects (what `pandas.to_json(orient="records")` writes).
fn read_array(path: &Path, reader: impl Read, opts: &DataOptions) -> Result<(Fields, Vec<Row>)> {
    let values: Vec<Value> = serde_json::from_reader(reader).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        position: Position::Line(source.line() as u64),
        source,
    })?;
    let limit = opts.limit.unwrap_or(usize::MAX);
    let mut fields: Option<Fields> = None;
    let rows = values
        .iter()
        .take(limit)
        .enumerate()
        .map(|(index, value)| record(path, Position::Row(index as u64), value, opts, &mut fields))
        .collect::<Result<Vec<_>>>()?;
    Ok((fields.unwrap_or_else(|| placeholder(opts)), rows))
}

/// Converts one record, resolving the columns on the first.
fn record(
    path: &Path,
    position: Position,
    value: &Value,
    opts: &DataOptions,
    fields: &mut Option<Fields>,
) -> Result<Row> {
    let Value::Object(object) = value else {
        return Err(Error::NotAnObject {
            path: path.to_path_buf(),
            position,
            found: kind(value),
        });
    };
    let fields = match fields {
        Some(fields) => fields,
        None => {
            let columns: Vec<String> = object.keys().cloned().collect();
            fields.insert(resolve_fields(path, &columns, opts)?)
        }
    };
    Ok(Row {
        text: text(path, position, object, FieldRole::Text, &fields.text)?,
        pair: fields
            .text_pair
            .as_deref()
            .map(|name| text(path, position, object, FieldRole::TextPair, name))
            .transpose()?,
        label: match fields.label.as_str() {
            "" => Label::Absent,
            name => label(path, position, object, name, opts.numeric_labels)?,
        },
        position,
    })
}

/// The fields reported for a file without records (it is rejected as empty by the caller).
fn placeholder(opts: &DataOptions) -> Fields {
    Fields {
        text: opts.text_field.clone().unwrap_or_default(),
        text_pair: opts.text_pair_field.clone(),
        label: opts.label_field.clone().unwrap_or_default(),
    }
}

fn text(
    path: &Path,
    position: Position,
    object: &Map<String, Value>,
    role: FieldRole,
    field: &str,
) -> Result<String> {
    match object.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        other => Err(bad_value(path, position, role, field, describe(other))),
    }
}

fn label(
    path: &Path,
    position: Position,
    object: &Map<String, Value>,
    field: &str,
    numeric: bool,
) -> Result<Label> {
    match object.get(field) {
        Some(Value::String(s)) => Ok(Label::Name(s.clone())),
        Some(Value::Number(n)) if numeric && n.as_i64().is_none() => n
            .as_f64()
            .map(Label::Number)
            .ok_or_else(|| bad_value(path, position, FieldRole::Label, field, n.to_string())),
        other => match other.and_then(Value::as_i64) {
            Some(id) => Ok(Label::Id(id)),
            None => Err(bad_value(
                path,
                position,
                FieldRole::Label,
                field,
                describe(other),
            )),
        },
    }
}

/// Whether the first non-whitespace byte of the buffered start of the file is `[`. Nothing is
/// consumed, so line numbers in later errors count from the top of the file.
fn starts_with_array(reader: &mut impl BufRead) -> std::io::Result<bool> {
    let buf = reader.fill_buf()?;
    Ok(buf.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'['))
}

/// The kind of a JSON value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A cell's kind and value, for messages: `missing`, `null`, `a float (1.5)`, ...
fn describe(value: Option<&Value>) -> String {
    match value {
        None => "missing".to_owned(),
        Some(v @ (Value::Bool(_) | Value::Number(_))) => format!("{} ({v})", kind(v)),
        Some(v) => kind(v).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{load_file, DataFormat, DataOptions, Label};

    use super::super::testing::{file, load_err, TestResult};

    #[test]
    fn reads_objects_with_ids_and_names() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(
            &dir,
            "d.jsonl",
            "\u{feff}{\"text\": \"great\", \"label\": 1}\n\n{\"text\": \"\", \"label\": \"neg\", \"extra\": [1]}\n{\"text\": \"meh\", \"label\": -3}\n",
        )?;
        let data = load_file(&path, &DataOptions::default())?;
        assert_eq!(data.format, DataFormat::Jsonl);
        assert_eq!(data.source, path.display().to_string());
        let labels: Vec<_> = data.rows.iter().map(|r| r.label.clone()).collect();
        assert_eq!(
            labels,
            [Label::Id(1), Label::Name("neg".into()), Label::Id(-3)]
        );
        assert_eq!(data.rows[1].text, "");
        Ok(())
    }

    #[test]
    fn reads_pairs_and_stops_at_the_limit() -> TestResult {
        let dir = tempfile::tempdir()?;
        let lines: String = (0..5)
            .map(|i| {
                format!("{{\"premise\": \"p{i}\", \"hypothesis\": \"h{i}\", \"label\": {i}}}\n")
            })
            .collect();
        let path = file(&dir, "nli.jsonl", &lines)?;
        let opts = DataOptions {
            limit: Some(2),
            ..Default::default()
        };
        let data = load_file(&path, &opts)?;
        assert_eq!(data.rows.len(), 2);
        assert_eq!(data.rows[1].text, "p1");
        assert_eq!(data.rows[1].pair.as_deref(), Some("h1"));
        Ok(())
    }

    #[test]
    fn reads_a_json_array_of_objects() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(
            &dir,
            "d.json",
            " [{\"sentence\": \"a\", \"label\": 0},\n {\"sentence\": \"b\", \"label\": 1}]",
        )?;
        let data = load_file(&path, &DataOptions::default())?;
        assert_eq!(data.rows.len(), 2);
        assert_eq!(data.rows[1].label, Label::Id(1));

        let path = file(
            &dir,
            "bad.json",
            "[{\"sentence\": \"a\", \"label\": 0},\n {\"sentence\": \"b\", \"label\": null}]",
        )?;
        let err = load_err(&path);
        assert!(
            err.contains("bad.json: row index 1: the label field \"label\" is null"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn malformed_json_names_the_line() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(
            &dir,
            "d.jsonl",
            "{\"text\": \"a\", \"label\": 0}\n\n{\"text\": \"b\", \"label\": 1\n",
        )?;
        let err = load_err(&path);
        assert!(err.contains("d.jsonl: line 3: invalid JSON"), "{err}");
        assert!(err.contains("\nhint: "), "{err}");
        let path = file(&dir, "e.jsonl", "{\"text\": \"a\", \"label\": 0}\n[1, 2]\n")?;
        let err = load_err(&path);
        assert!(
            err.contains("e.jsonl: line 2: expected a JSON object but found an array"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn bad_labels_name_the_line_and_field() -> TestResult {
        let dir = tempfile::tempdir()?;
        for (label, found) in [
            ("1.5", "a float (1.5)"),
            ("1.0", "a float (1.0)"),
            ("true", "a boolean (true)"),
            ("null", "null"),
            ("[1]", "an array"),
        ] {
            let content = format!(
                "{{\"text\": \"a\", \"label\": 0}}\n{{\"text\": \"b\", \"label\": {label}}}\n"
            );
            let path = file(&dir, "d.jsonl", &content)?;
            let err = load_err(&path);
            assert!(
                err.contains(&format!(
                    "d.jsonl: line 2: the label field \"label\" is {found}"
                )),
                "{err}"
            );
            assert!(
                err.contains("hint: labels must be integer class ids or class names"),
                "{err}"
            );
        }
        let path = file(
            &dir,
            "m.jsonl",
            "{\"text\": \"a\", \"label\": 0}\n{\"text\": \"b\"}\n",
        )?;
        let err = load_err(&path);
        assert!(
            err.contains("line 2: the label field \"label\" is missing"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn bad_text_names_the_line() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(
            &dir,
            "d.jsonl",
            "{\"text\": \"a\", \"label\": 0}\n{\"text\": null, \"label\": 1}\n",
        )?;
        let err = load_err(&path);
        assert!(
            err.contains("d.jsonl: line 2: the text field \"text\" is null but must be a string"),
            "{err}"
        );
        let path = file(
            &dir,
            "m.jsonl",
            "{\"text\": \"a\", \"label\": 0}\n{\"label\": 1}\n",
        )?;
        let err = load_err(&path);
        assert!(
            err.contains("m.jsonl: line 2: the text field \"text\" is missing"),
            "{err}"
        );
        let path = file(&dir, "n.jsonl", "{\"text\": 7, \"label\": 0}\n")?;
        let err = load_err(&path);
        assert!(
            err.contains("line 1: the text field \"text\" is an integer (7)"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn empty_files_are_empty_data() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(&dir, "d.jsonl", "\n  \n")?;
        let err = load_err(&path);
        assert!(err.contains("d.jsonl holds no rows"), "{err}");
        assert!(err.contains("\nhint: "), "{err}");
        let path = file(&dir, "d.json", "[]")?;
        assert!(load_err(&path).contains("holds no rows"));
        Ok(())
    }
}
