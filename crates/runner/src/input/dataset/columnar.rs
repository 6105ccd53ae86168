//! Parquet datasets, read through the parquet crate's record API (no arrow), one row group at a
//! time and only the columns in use.

use std::panic::AssertUnwindSafe;
use std::path::Path;

use parquet::errors::ParquetError;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;

use super::{bad_value, resolve_fields, DataOptions, FieldRole, Fields, Label, Position, Row};
use crate::{Error, Result};

/// Appends the rows of `path` to `rows` (stopping when `rows` reaches the limit) and returns the
/// columns used. Positions in messages are 0-based row indices within this file.
pub(super) fn read(path: &Path, opts: &DataOptions, rows: &mut Vec<Row>) -> Result<Fields> {
    // NOTE: the parquet crate panics on some corrupt files (out-of-bounds indexing in its
    // decoders, `unwrap`s in its metadata parsing; a single flipped byte is enough), so a
    // panic in here is turned into the error for a corrupt file. `rows` may then hold part of
    // this file, but the caller discards everything on error.
    let len = rows.len();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| read_rows(path, opts, rows)));
    result.unwrap_or_else(|payload| {
        rows.truncate(len);
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::Parquet {
            path: path.to_path_buf(),
            source: ParquetError::General(format!(
                "the file is corrupt (the reader failed: {what})"
            )),
        })
    })
}

fn read_rows(path: &Path, opts: &DataOptions, rows: &mut Vec<Row>) -> Result<Fields> {
    let file = std::fs::File::open(path).map_err(Error::read(path))?;
    let pq = |source| Error::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let reader = SerializedFileReader::new(file).map_err(pq)?;
    let schema = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema();
    let columns: Vec<String> = schema
        .get_fields()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    let fields = resolve_fields(path, &columns, opts)?;

    let in_use = |name: &str| {
        name == fields.text || name == fields.label || fields.text_pair.as_deref() == Some(name)
    };
    let projected = schema
        .get_fields()
        .iter()
        .filter(|f| in_use(f.name()))
        .cloned()
        .collect();
    let projection = Type::group_type_builder(schema.name())
        .with_fields(projected)
        .build()
        .map_err(pq)?;

    let limit = opts.limit.unwrap_or(usize::MAX);
    let mut index = 0u64;
    // Row groups are walked here rather than by `FileReader::get_row_iter`, which panics when a
    // row group cannot be opened.
    for group in 0..reader.num_row_groups() {
        if rows.len() >= limit {
            break;
        }
        let group = reader.get_row_group(group).map_err(pq)?;
        for row in group.get_row_iter(Some(projection.clone())).map_err(pq)? {
            if rows.len() >= limit {
                break;
            }
            let row = row.map_err(pq)?;
            let position = Position::Row(index);
            index += 1;
            let cell = |name: &str| {
                row.get_column_iter()
                    .find(|(column, _)| column.as_str() == name)
                    .map(|(_, value)| value)
            };
            let first = text(
                path,
                position,
                FieldRole::Text,
                &fields.text,
                cell(&fields.text),
            )?;
            let pair = match fields.text_pair.as_deref() {
                Some(name) => Some(text(path, position, FieldRole::TextPair, name, cell(name))?),
                None => None,
            };
            let label = match fields.label.as_str() {
                "" => Label::Absent,
                name => label(path, position, name, cell(name), opts.numeric_labels)?,
            };
            rows.push(Row {
                text: first,
                pair,
                label,
                position,
            });
        }
    }
    Ok(fields)
}

fn text(
    path: &Path,
    position: Position,
    role: FieldRole,
    field: &str,
    value: Option<&Field>,
) -> Result<String> {
    match value {
        Some(Field::Str(s)) => Ok(s.clone()),
        Some(Field::Bytes(b)) => match b.as_utf8() {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(bad_value(
                path,
                position,
                role,
                field,
                "binary data that is not UTF-8",
            )),
        },
        other => Err(bad_value(path, position, role, field, describe(other))),
    }
}

fn label(
    path: &Path,
    position: Position,
    field: &str,
    value: Option<&Field>,
    numeric: bool,
) -> Result<Label> {
    let label = match value {
        Some(Field::Float(v)) if numeric => Some(Label::Number(f64::from(*v))),
        Some(Field::Double(v)) if numeric => Some(Label::Number(*v)),
        Some(Field::Byte(v)) => Some(Label::Id(i64::from(*v))),
        Some(Field::Short(v)) => Some(Label::Id(i64::from(*v))),
        Some(Field::Int(v)) => Some(Label::Id(i64::from(*v))),
        Some(Field::Long(v)) => Some(Label::Id(*v)),
        Some(Field::UByte(v)) => Some(Label::Id(i64::from(*v))),
        Some(Field::UShort(v)) => Some(Label::Id(i64::from(*v))),
        Some(Field::UInt(v)) => Some(Label::Id(i64::from(*v))),
        Some(Field::ULong(v)) => i64::try_from(*v).ok().map(Label::Id),
        Some(Field::Str(s)) => Some(Label::Name(s.clone())),
        Some(Field::Bytes(b)) => b.as_utf8().ok().map(|s| Label::Name(s.to_owned())),
        _ => None,
    };
    label.ok_or_else(|| bad_value(path, position, FieldRole::Label, field, describe(value)))
}

/// A cell's kind and value, for messages: `missing`, `null`, `a float (1.5)`, ...
fn describe(value: Option<&Field>) -> String {
    let Some(value) = value else {
        return "missing".to_owned();
    };
    match value {
        Field::Null => "null".to_owned(),
        Field::Bool(b) => format!("a boolean ({b})"),
        Field::Float16(_) | Field::Float(_) | Field::Double(_) => format!("a float ({value})"),
        Field::Byte(_)
        | Field::Short(_)
        | Field::Int(_)
        | Field::Long(_)
        | Field::UByte(_)
        | Field::UShort(_)
        | Field::UInt(_)
        | Field::ULong(_) => format!("an integer ({value})"),
        Field::Str(_) => "a string".to_owned(),
        Field::Bytes(_) => "binary data".to_owned(),
        Field::Group(_) => "a struct".to_owned(),
        Field::ListInternal(_) => "a list".to_owned(),
        Field::MapInternal(_) => "a map".to_owned(),
        other => format!("a {} ({other})", type_name(other)),
    }
}

/// Names the date, time and decimal kinds, for messages.
fn type_name(value: &Field) -> &'static str {
    match value {
        Field::Decimal(_) => "decimal",
        Field::Date(_) => "date",
        Field::TimeMillis(_) | Field::TimeMicros(_) => "time",
        _ => "timestamp",
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use super::super::{load_file, load_parquet_files, DataFormat, DataOptions, Label};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A nullable column for a test file.
    pub(in crate::input::dataset) enum Col {
        /// BYTE_ARRAY (UTF8)
        Str(&'static str, Vec<Option<&'static str>>),
        /// INT64, as HF `ClassLabel` columns are stored.
        I64(&'static str, Vec<Option<i64>>),
        /// INT32 annotated INT_8.
        I8(&'static str, Vec<Option<i32>>),
        /// DOUBLE
        F64(&'static str, Vec<Option<f64>>),
    }

    impl Col {
        fn schema(&self) -> String {
            match self {
                Col::Str(name, _) => format!("OPTIONAL BYTE_ARRAY {name} (UTF8);"),
                Col::I64(name, _) => format!("OPTIONAL INT64 {name};"),
                Col::I8(name, _) => format!("OPTIONAL INT32 {name} (INT_8);"),
                Col::F64(name, _) => format!("OPTIONAL DOUBLE {name};"),
            }
        }

        fn len(&self) -> usize {
            match self {
                Col::Str(_, v) => v.len(),
                Col::I64(_, v) => v.len(),
                Col::I8(_, v) => v.len(),
                Col::F64(_, v) => v.len(),
            }
        }
    }

    fn levels<T>(values: &[Option<T>]) -> Vec<i16> {
        values.iter().map(|v| i16::from(v.is_some())).collect()
    }

    /// Writes `cols` to `path` with the parquet crate's writer, `group` rows per row group.
    pub(in crate::input::dataset) fn write_parquet(
        path: &std::path::Path,
        cols: &[Col],
        group: usize,
    ) -> TestResult {
        let fields: String = cols.iter().map(Col::schema).collect();
        let schema = Arc::new(parse_message_type(&format!(
            "message schema {{ {fields} }}"
        ))?);
        let props = Arc::new(WriterProperties::builder().build());
        let mut writer = SerializedFileWriter::new(std::fs::File::create(path)?, schema, props)?;
        let rows = cols.first().map_or(0, Col::len);
        for start in (0..rows).step_by(group.max(1)) {
            let range = start..(start + group).min(rows);
            let mut row_group = writer.next_row_group()?;
            for col in cols {
                let mut column = row_group.next_column()?.ok_or("too few columns")?;
                match col {
                    Col::Str(_, v) => {
                        let v = &v[range.clone()];
                        let values: Vec<ByteArray> =
                            v.iter().flatten().map(|s| (*s).into()).collect();
                        column.typed::<ByteArrayType>().write_batch(
                            &values,
                            Some(&levels(v)),
                            None,
                        )?;
                    }
                    Col::I64(_, v) => {
                        let v = &v[range.clone()];
                        let values: Vec<i64> = v.iter().flatten().copied().collect();
                        column
                            .typed::<Int64Type>()
                            .write_batch(&values, Some(&levels(v)), None)?;
                    }
                    Col::I8(_, v) => {
                        let v = &v[range.clone()];
                        let values: Vec<i32> = v.iter().flatten().copied().collect();
                        column
                            .typed::<Int32Type>()
                            .write_batch(&values, Some(&levels(v)), None)?;
                    }
                    Col::F64(_, v) => {
                        let v = &v[range.clone()];
                        let values: Vec<f64> = v.iter().flatten().copied().collect();
                        column.typed::<DoubleType>().write_batch(
                            &values,
                            Some(&levels(v)),
                            None,
                        )?;
                    }
                }
                column.close()?;
            }
            row_group.close()?;
        }
        writer.close()?;
        Ok(())
    }

    fn sst(
        dir: &std::path::Path,
        name: &str,
        texts: Vec<Option<&'static str>>,
        labels: Vec<Option<i64>>,
    ) -> std::result::Result<PathBuf, Box<dyn std::error::Error>> {
        let path = dir.join(name);
        let idx = (0..texts.len() as i64).map(Some).collect();
        write_parquet(
            &path,
            &[
                Col::I64("idx", idx),
                Col::Str("sentence", texts),
                Col::I64("label", labels),
            ],
            2,
        )?;
        Ok(path)
    }

    #[test]
    fn reads_strings_and_class_label_ints_across_row_groups() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = sst(
            dir.path(),
            "test.parquet",
            vec![Some("good"), Some(""), Some("bad"), Some("ok, fine")],
            vec![Some(1), Some(0), Some(0), Some(-1)],
        )?;
        let data = load_file(&path, &DataOptions::default())?;
        assert_eq!(data.format, DataFormat::Parquet);
        assert_eq!(data.fields.text, "sentence");
        assert_eq!(data.fields.label, "label");
        let texts: Vec<&str> = data.rows.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["good", "", "bad", "ok, fine"]);
        let labels: Vec<&Label> = data.rows.iter().map(|r| &r.label).collect();
        assert_eq!(
            labels,
            [&Label::Id(1), &Label::Id(0), &Label::Id(0), &Label::Id(-1)]
        );
        assert!(data.rows.iter().all(|r| r.pair.is_none()));

        let limited = load_file(
            &path,
            &DataOptions {
                limit: Some(3),
                ..Default::default()
            },
        )?;
        assert_eq!(limited.rows.len(), 3);
        Ok(())
    }

    #[test]
    fn reads_pairs_small_ints_and_string_labels() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("mnli.parquet");
        write_parquet(
            &path,
            &[
                Col::Str("premise", vec![Some("a"), Some("b")]),
                Col::Str("hypothesis", vec![Some("c"), Some("d")]),
                Col::I8("label", vec![Some(2), Some(0)]),
                Col::Str("gold", vec![Some("contradiction"), Some("entailment")]),
            ],
            10,
        )?;
        let data = load_file(&path, &DataOptions::default())?;
        assert_eq!(data.fields.text_pair.as_deref(), Some("hypothesis"));
        assert_eq!(data.rows[1].text, "b");
        assert_eq!(data.rows[1].pair.as_deref(), Some("d"));
        assert_eq!(data.rows[0].label, Label::Id(2));

        let opts = DataOptions {
            label_field: Some("gold".into()),
            ..Default::default()
        };
        let data = load_file(&path, &opts)?;
        assert_eq!(data.rows[0].label, Label::Name("contradiction".into()));
        Ok(())
    }

    #[test]
    fn bad_cells_name_the_row_and_field() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = sst(
            dir.path(),
            "a.parquet",
            vec![Some("x"), Some("y"), Some("z")],
            vec![Some(1), Some(0), None],
        )?;
        let err = load_file(&path, &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.parquet: row index 2: the label field \"label\" is null"),
            "{err}"
        );
        assert!(err.contains("\nhint: "), "{err}");

        let path = sst(
            dir.path(),
            "b.parquet",
            vec![Some("x"), None],
            vec![Some(1), Some(0)],
        )?;
        let err = load_file(&path, &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b.parquet: row index 1: the text field \"sentence\" is null"),
            "{err}"
        );

        let path = dir.path().join("c.parquet");
        write_parquet(
            &path,
            &[
                Col::Str("text", vec![Some("x")]),
                Col::F64("label", vec![Some(1.5)]),
            ],
            1,
        )?;
        let err = load_file(&path, &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row index 0: the label field \"label\" is a float (1.5)"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn corrupt_files_are_named() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = sst(
            dir.path(),
            "good.parquet",
            vec![Some("x"); 50],
            vec![Some(1); 50],
        )?;
        let bytes = std::fs::read(&path)?;

        let truncated = dir.path().join("truncated.parquet");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2])?;
        let err = load_file(&truncated, &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read parquet file "), "{err}");
        assert!(err.contains("truncated.parquet"), "{err}");

        let garbage = dir.path().join("garbage.parquet");
        std::fs::write(&garbage, b"not a parquet file at all")?;
        let err = load_file(&garbage, &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("garbage.parquet"), "{err}");
        assert!(err.contains("hint:"), "{err}");

        // Data pages overwritten with noise, footer intact.
        let mut noisy = bytes.clone();
        for b in noisy.iter_mut().skip(4).take(bytes.len() / 3) {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        let noisy_path = dir.path().join("noisy.parquet");
        std::fs::write(&noisy_path, &noisy)?;
        let err = load_file(&noisy_path, &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("noisy.parquet"), "{err}");
        Ok(())
    }

    #[test]
    fn concatenates_shards_in_order() -> TestResult {
        let dir = tempfile::tempdir()?;
        let a = sst(
            dir.path(),
            "a.parquet",
            vec![Some("a0"), Some("a1"), Some("a2")],
            vec![Some(0), Some(1), Some(0)],
        )?;
        let b = sst(
            dir.path(),
            "b.parquet",
            vec![Some("b0"), Some("b1")],
            vec![Some(1), Some(1)],
        )?;
        let data = load_parquet_files(
            "org/sst@test",
            &[a.clone(), b.clone()],
            &DataOptions::default(),
        )?;
        assert_eq!(data.source, "org/sst@test");
        let texts: Vec<&str> = data.rows.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["a0", "a1", "a2", "b0", "b1"]);

        let opts = DataOptions {
            limit: Some(4),
            ..Default::default()
        };
        let data = load_parquet_files("s", &[a.clone(), b.clone()], &opts)?;
        assert_eq!(data.rows.len(), 4);
        let data = load_parquet_files(
            "s",
            &[a.clone(), b],
            &DataOptions {
                limit: Some(2),
                ..Default::default()
            },
        )?;
        assert_eq!(data.rows.len(), 2);

        // A later shard without the first shard's columns is an error naming that shard.
        let c = dir.path().join("c.parquet");
        write_parquet(
            &c,
            &[
                Col::Str("text", vec![Some("c")]),
                Col::I64("label", vec![Some(0)]),
            ],
            1,
        )?;
        let err = load_parquet_files("s", &[a, c], &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.parquet: the text field \"sentence\" is not a column"),
            "{err}"
        );

        let err = load_parquet_files("org/empty", &[], &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("org/empty holds no rows"), "{err}");
        Ok(())
    }

    #[test]
    fn flipped_bytes_never_panic() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("g.parquet");
        let texts = (0..40).map(|i| Some(if i % 3 == 0 { "hello there" } else { "x" }));
        let cols = [
            Col::Str("text", texts.collect()),
            Col::I64("label", (0..40).map(Some).collect()),
        ];
        write_parquet(&path, &cols, 16)?;
        let bytes = std::fs::read(&path)?;
        assert!(bytes.len() < 2000, "{}", bytes.len());
        let corrupt = dir.path().join("corrupt.parquet");
        for pos in 0..bytes.len() {
            for value in [0x00, 0xff] {
                let mut b = bytes.clone();
                b[pos] = value;
                std::fs::write(&corrupt, &b)?;
                // Either the change hit plain data, or it is a clean error naming the file.
                if let Err(err) = load_file(&corrupt, &DataOptions::default()) {
                    let err = err.to_string();
                    assert!(err.contains("corrupt.parquet"), "byte {pos}: {err}");
                }
            }
        }
        Ok(())
    }
}
