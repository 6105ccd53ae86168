//! `distill-eval score --task regression` on the conformance vectors and on bad input.

use serde_json::Value;

use crate::common::{assert_error, close, fixture, run, s};

fn score(dir: &std::path::Path, extra: &[&str]) -> crate::common::Run {
    let (t, st, y) = (
        dir.join("teacher.npy"),
        dir.join("student.npy"),
        dir.join("targets.npy"),
    );
    let mut args = vec![
        "score",
        "--task",
        "regression",
        "--teacher-logits",
        s(&t),
        "--student-logits",
        s(&st),
        "--labels",
        s(&y),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn conformance_figures_match_the_references() {
    let dir = fixture("tasks/regression");
    let r = score(&dir, &["--json", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let want: Value = serde_json::from_str(&text).unwrap();
    for side in ["teacher", "student"] {
        for key in ["mae", "rmse", "r2", "pearson", "spearman"] {
            let (a, e) = (
                got[side][key].as_f64().unwrap(),
                want[side][key].as_f64().unwrap(),
            );
            assert!(close(a, e, 1e-6, 1e-6), "{side}.{key}: {a} vs {e}");
        }
    }
    for key in ["r2_retention", "teacher_student_pearson"] {
        let (a, e) = (got[key].as_f64().unwrap(), want[key].as_f64().unwrap());
        assert!(close(a, e, 1e-6, 1e-6), "{key}: {a} vs {e}");
    }
    // R² retention 0.913 is above 0.90 and below 0.92: ACCEPTABLE by the default thresholds.
    assert_eq!(got["verdict"], "ACCEPTABLE");
    assert_eq!(got["task"], "regression");
}

#[test]
fn text_report_and_retention_gate() {
    let dir = fixture("tasks/regression");
    let r = score(&dir, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("R² retention: 91.3%"), "{}", r.stdout);
    let r = score(&dir, &["--min-retention", "0.95"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("R² retention 0.9129 is below 0.95"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_regression_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let two = dir.path().join("two.jsonl");
    std::fs::write(&two, "[1.0, 2.0]\n[3.0, 4.0]\n").unwrap();
    let one = dir.path().join("one.jsonl");
    std::fs::write(&one, "[1.0]\n[2.0]\n").unwrap();
    let three = dir.path().join("three.jsonl");
    std::fs::write(&three, "[1.0]\n[2.0]\n[3.0]\n").unwrap();
    let nan = dir.path().join("nan.npy");
    std::fs::write(&nan, npy_f64(&[1.0, f64::NAN])).unwrap();
    let base = |t: &std::path::Path, st: &std::path::Path, y: &std::path::Path| {
        run(&[
            "score",
            "--task",
            "regression",
            "--teacher-logits",
            s(t),
            "--student-logits",
            s(st),
            "--labels",
            s(y),
        ])
    };
    assert_error(
        &base(&two, &one, &one),
        &["two.jsonl has 2 columns", "hint:"],
    );
    assert_error(&base(&one, &three, &one), &["3", "2", "hint:"]);
    assert_error(&base(&one, &nan, &one), &["row 1", "NaN", "hint:"]);
}

/// A 1-D little-endian float64 `.npy` file.
fn npy_f64(values: &[f64]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
        values.len()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}
