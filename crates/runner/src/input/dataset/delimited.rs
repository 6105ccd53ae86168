//! CSV and TSV datasets: a header row, then one record per row; quoted fields may hold the
//! delimiter and newlines.

use std::path::Path;

use super::{bad_value, resolve_fields, DataOptions, FieldRole, Fields, Label, Position, Row};
use crate::{Error, Result};

/// Reads every record of `path`, split on `delimiter`.
pub(super) fn read(path: &Path, delimiter: u8, opts: &DataOptions) -> Result<(Fields, Vec<Row>)> {
    let file = std::fs::File::open(path).map_err(Error::read(path))?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(file);
    let csv_err = |source: csv::Error| match source.kind() {
        csv::ErrorKind::Utf8 { pos: Some(pos), .. } => Error::NotUtf8 {
            path: path.to_path_buf(),
            position: Position::Line(pos.line()),
        },
        _ => Error::Csv {
            path: path.to_path_buf(),
            source,
        },
    };
    let columns: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(str::to_owned)
        .collect();
    let fields = resolve_fields(path, &columns, opts)?;
    let index = |name: &str| columns.iter().position(|c| c == name).unwrap_or(usize::MAX);
    let text_at = index(&fields.text);
    let pair_at = fields.text_pair.as_deref().map(index);
    let label_at = index(&fields.label);

    let limit = opts.limit.unwrap_or(usize::MAX);
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while rows.len() < limit && reader.read_record(&mut record).map_err(csv_err)? {
        let position = Position::Line(record.position().map_or(0, |p| p.line()));
        let cell = |role: FieldRole, at: usize, name: &str| {
            record
                .get(at)
                .ok_or_else(|| bad_value(path, position, role, name, "missing"))
        };
        let text = cell(FieldRole::Text, text_at, &fields.text)?.to_owned();
        let pair = match (pair_at, fields.text_pair.as_deref()) {
            (Some(at), Some(name)) => Some(cell(FieldRole::TextPair, at, name)?.to_owned()),
            _ => None,
        };
        if fields.label.is_empty() {
            rows.push(Row {
                text,
                pair,
                label: Label::Absent,
                position,
            });
            continue;
        }
        let raw = cell(FieldRole::Label, label_at, &fields.label)?.trim();
        if raw.is_empty() {
            return Err(bad_value(
                path,
                position,
                FieldRole::Label,
                &fields.label,
                "empty",
            ));
        }
        let label = match raw.parse::<i64>() {
            Ok(id) => Label::Id(id),
            Err(_) => Label::Name(raw.to_owned()),
        };
        rows.push(Row {
            text,
            pair,
            label,
            position,
        });
    }
    Ok((fields, rows))
}

#[cfg(test)]
mod tests {
    use super::super::{load_file, DataFormat, DataOptions, Label};

    use super::super::testing::{file, load_err, TestResult};

    #[test]
    fn quoted_fields_keep_commas_and_newlines() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(
            &dir,
            "d.csv",
            "id,text,label\n1,\"good, really\",1\n2,\"two\nlines\",neg\n3,,0\n4,plain, 2 \n",
        )?;
        let data = load_file(&path, &DataOptions::default())?;
        assert_eq!(data.format, DataFormat::Csv);
        let texts: Vec<&str> = data.rows.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["good, really", "two\nlines", "", "plain"]);
        let labels: Vec<_> = data.rows.iter().map(|r| r.label.clone()).collect();
        assert_eq!(
            labels,
            [
                Label::Id(1),
                Label::Name("neg".into()),
                Label::Id(0),
                Label::Id(2)
            ]
        );
        Ok(())
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(&dir, "bom.csv", "\u{feff}text,label\nx,1\n")?;
        assert_eq!(
            load_file(&path, &DataOptions::default())?.fields.text,
            "text"
        );
        Ok(())
    }

    #[test]
    fn reads_tsv_pairs() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(
            &dir,
            "d.tsv",
            "sentence1\tsentence2\tlabel\na, b\tc\t1\nd\te\t-1\n",
        )?;
        let data = load_file(&path, &DataOptions::default())?;
        assert_eq!(data.format, DataFormat::Tsv);
        assert_eq!(data.rows[0].text, "a, b");
        assert_eq!(data.rows[0].pair.as_deref(), Some("c"));
        assert_eq!(data.rows[1].label, Label::Id(-1));
        let opts = DataOptions {
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(load_file(&path, &opts)?.rows.len(), 1);
        Ok(())
    }

    #[test]
    fn an_empty_label_names_the_record_line() -> TestResult {
        let dir = tempfile::tempdir()?;
        // The bad record starts on line 4: the quoted text of line 2 spans two lines.
        let path = file(&dir, "d.csv", "text,label\n\"a\nb\",1\n c ,\n")?;
        let err = load_err(&path);
        assert!(
            err.contains("d.csv: line 4: the label field \"label\" is empty"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn short_rows_are_csv_errors_with_the_line() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(&dir, "d.csv", "text,label\na,1\nb\n")?;
        let err = load_err(&path);
        assert!(err.starts_with("cannot parse "), "{err}");
        assert!(err.contains("d.csv"), "{err}");
        assert!(err.contains("line: 3"), "{err}");
        assert!(err.contains("\nhint: "), "{err}");
        Ok(())
    }

    #[test]
    fn header_only_is_empty() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = file(&dir, "d.csv", "text,label\n")?;
        assert!(load_err(&path).contains("d.csv holds no rows"));
        let path = file(&dir, "e.csv", "")?;
        let err = load_err(&path);
        assert!(err.contains("no text column found among: nothing"), "{err}");
        Ok(())
    }
}
