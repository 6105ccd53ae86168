//! Per-row records of the task families read from `--data` (ranking: query, relevance and both
//! models' scores; generation: reference and both models' texts): JSON Lines, one object per
//! non-blank line, each field taken by name and checked where it is read, so that every error
//! names the file, the line and the field (with the flag that renames it).

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, RecordField, Result};
use crate::location::Position;

/// One record and where it sits in the file.
#[derive(Debug)]
pub struct Record {
    /// Its line.
    pub position: Position,
    /// Its fields.
    pub fields: Map<String, Value>,
}

/// A field of the records: its name and the flag that renames it.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// The key in each record.
    pub name: &'a str,
    /// The flag that names another key, e.g. `--query-field`.
    pub flag: &'static str,
}

/// Reads every non-blank line of `path` as a JSON object.
pub fn read(path: &Path) -> Result<Vec<Record>> {
    let file = std::fs::File::open(path).map_err(Error::read(path))?;
    let mut out = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let number = index as u64 + 1;
        let line = line.map_err(Error::read_line(path, number))?;
        let line = if index == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line.as_str()
        };
        if line.trim().is_empty() {
            continue;
        }
        let position = Position::Line(number);
        let value: Value = serde_json::from_str(line).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            position,
            source,
        })?;
        let Value::Object(fields) = value else {
            return Err(Error::RecordNotObject {
                path: path.to_path_buf(),
                position,
            });
        };
        out.push(Record { position, fields });
    }
    if out.is_empty() {
        return Err(Error::EmptyData {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

/// What a JSON value is, for messages.
fn kind(v: Option<&Value>) -> String {
    match v {
        None => "missing".to_owned(),
        Some(Value::Null) => "null".to_owned(),
        Some(Value::Bool(b)) => format!("a boolean ({b})"),
        Some(Value::Number(n)) => format!("a number ({n})"),
        Some(Value::String(s)) if s.chars().count() > 40 => "a string".to_owned(),
        Some(Value::String(s)) => format!("a string ({s:?})"),
        Some(Value::Array(_)) => "an array".to_owned(),
        Some(Value::Object(_)) => "an object".to_owned(),
    }
}

impl Record {
    fn bad(&self, path: &Path, field: Field<'_>, expected: &'static str) -> Error {
        Error::RecordField(Box::new(RecordField {
            path: path.to_path_buf(),
            position: self.position,
            field: field.name.to_owned(),
            found: kind(self.fields.get(field.name)),
            expected,
            flag: field.flag,
            available: if self.fields.contains_key(field.name) {
                Vec::new()
            } else {
                self.fields.keys().cloned().collect()
            },
        }))
    }

    /// The field as a finite number.
    pub fn number(&self, path: &Path, field: Field<'_>) -> Result<f64> {
        match self.fields.get(field.name) {
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| self.bad(path, field, "a finite number")),
            _ => Err(self.bad(path, field, "a finite number")),
        }
    }

    /// The field as a string.
    pub fn string(&self, path: &Path, field: Field<'_>) -> Result<&str> {
        match self.fields.get(field.name) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(self.bad(path, field, "a string")),
        }
    }

    /// The field as a query id: a string, or an integer written as one.
    pub fn key(&self, path: &Path, field: Field<'_>) -> Result<String> {
        match self.fields.get(field.name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            _ => Err(self.bad(path, field, "a string or an integer")),
        }
    }

    /// An error about this record's `field` holding a value it must not.
    pub fn invalid(
        &self,
        path: &Path,
        field: Field<'_>,
        found: String,
        expected: &'static str,
    ) -> Error {
        Error::RecordField(Box::new(RecordField {
            path: path.to_path_buf(),
            position: self.position,
            field: field.name.to_owned(),
            found,
            expected,
            flag: field.flag,
            available: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_where_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rows.jsonl");
        std::fs::write(
            &p,
            "\n{\"q\": 3, \"s\": \"x\", \"r\": 1.5}\n\n{\"q\": \"a\", \"r\": null}\n",
        )
        .unwrap();
        let rows = read(&p).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].position, Position::Line(2));
        let q = Field {
            name: "q",
            flag: "--query-field",
        };
        let r = Field {
            name: "r",
            flag: "--relevance-field",
        };
        assert_eq!(rows[0].key(&p, q).unwrap(), "3");
        assert_eq!(rows[0].number(&p, r).unwrap(), 1.5);
        let err = rows[1].number(&p, r).unwrap_err().to_string();
        assert!(
            err.contains("line 4") && err.contains("null") && err.contains("--relevance-field"),
            "{err}"
        );
        let err = rows[0]
            .string(
                &p,
                Field {
                    name: "t",
                    flag: "--teacher-field",
                },
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing") && err.contains("fields ") && err.contains("s"),
            "{err}"
        );
        std::fs::write(&p, "[1, 2]\n").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("line 1"));
    }
}
