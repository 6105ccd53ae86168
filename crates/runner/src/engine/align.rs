//! Label alignment by name: the student's classes are reordered to the teacher's, and the
//! dataset's labels (names or ids) become teacher ids.

use candle::Tensor;

use crate::error::{Error, Result};
use crate::input::dataset::{Label, Row};
#[cfg(test)]
use crate::location::Position;

/// For each teacher class, the index of the same-named student class.
///
/// Fails when the two label sets differ (names are compared exactly; an unnamed config's
/// `LABEL_i` names match only each other).
pub fn permutation(
    teacher: &[String],
    student: &[String],
    teacher_id: &str,
    student_id: &str,
) -> Result<Vec<u32>> {
    let mismatch = || Error::LabelSetMismatch {
        teacher: teacher_id.to_owned(),
        teacher_labels: teacher.to_vec(),
        student: student_id.to_owned(),
        student_labels: student.to_vec(),
    };
    if teacher.len() != student.len() {
        return Err(mismatch());
    }
    teacher
        .iter()
        .map(|name| {
            student
                .iter()
                .position(|s| s == name)
                .map(|i| i as u32)
                .ok_or_else(mismatch)
        })
        .collect()
}

/// Reorders the columns of `(n, C)` logits by `perm` (no-op for the identity), on the device.
pub fn reorder(logits: &Tensor, perm: &[u32]) -> Result<Tensor> {
    if perm.iter().enumerate().all(|(i, &p)| p as usize == i) {
        return Ok(logits.clone());
    }
    let idx = Tensor::new(perm, logits.device())?;
    Ok(logits.index_select(&idx, 1)?) // (n, C)
}

/// Turns each row's label into a class id of `names` (the teacher's order).
///
/// A name must be one of `names`; an id must be in `0..names.len()`; `source` names the data in
/// errors.
pub fn label_ids(rows: &[Row], names: &[String], source: &str, field: &str) -> Result<Vec<i64>> {
    rows.iter()
        .map(|r| match &r.label {
            Label::Id(id) => {
                if *id < 0 || *id as usize >= names.len() {
                    Err(Error::LabelOutOfRange {
                        source_name: source.to_owned(),
                        at: r.position,
                        label: *id,
                        num_classes: names.len(),
                    })
                } else {
                    Ok(*id)
                }
            }
            Label::Absent | Label::Number(_) => Err(Error::UnknownLabel {
                source_name: source.to_owned(),
                at: r.position,
                field: field.to_owned(),
                label: r.label.to_string(),
                known: names.to_vec(),
            }),
            Label::Name(name) => names
                .iter()
                .position(|n| n == name)
                .map(|i| i as i64)
                .or_else(|| {
                    // "0", "1"... written as strings are ids.
                    name.trim()
                        .parse::<i64>()
                        .ok()
                        .filter(|&i| i >= 0 && (i as usize) < names.len())
                })
                .ok_or_else(|| Error::UnknownLabel {
                    source_name: source.to_owned(),
                    at: r.position,
                    field: field.to_owned(),
                    label: name.clone(),
                    known: names.to_vec(),
                }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn permutation_aligns_by_name() {
        let t = names(&["neg", "neu", "pos"]);
        let s = names(&["pos", "neg", "neu"]);
        assert_eq!(permutation(&t, &s, "t", "s").unwrap(), vec![1, 2, 0]);
        let logits = Tensor::new(&[[10f32, 20., 30.]], &candle::Device::Cpu).unwrap();
        let r = reorder(&logits, &[1, 2, 0]).unwrap();
        assert_eq!(r.to_vec2::<f32>().unwrap(), vec![vec![20., 30., 10.]]);
    }

    #[test]
    fn different_label_sets_are_refused() {
        let t = names(&["neg", "pos"]);
        let s = names(&["negative", "positive"]);
        let err = permutation(&t, &s, "teacher", "student").unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
    }

    #[test]
    fn dataset_labels_by_name_or_id() {
        let n = names(&["neg", "neu", "pos"]);
        let row = |l: Label| Row {
            text: String::new(),
            pair: None,
            label: l,
            position: Position::Line(7),
        };
        let rows = vec![
            row(Label::Name("pos".into())),
            row(Label::Id(1)),
            row(Label::Name("0".into())),
        ];
        assert_eq!(label_ids(&rows, &n, "d", "label").unwrap(), vec![2, 1, 0]);
        let bad = vec![row(Label::Name("great".into()))];
        let err = label_ids(&bad, &n, "d.jsonl", "label")
            .unwrap_err()
            .to_string();
        assert!(err.contains("great") && err.contains("d.jsonl"), "{err}");
        // The message points at the record's line in the file, not at an example index.
        assert!(err.contains("d.jsonl: line 7: "), "{err}");
        let bad = vec![row(Label::Id(3))];
        let err = label_ids(&bad, &n, "d", "label").unwrap_err().to_string();
        assert!(err.contains("line 7") && err.contains("label 3"), "{err}");
    }
}
