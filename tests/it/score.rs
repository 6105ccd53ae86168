//! `distill-eval score` on the conformance vectors and on bad input.

use std::path::{Path, PathBuf};

use candle::{Device, Tensor};
use serde_json::Value;

use crate::common::{assert_error, close, cmd, fixture, run, run_with, s};

/// The conformance set's four cases, then two of 100 classes made by `make_wide.py`.
const CASES: [&str; 6] = [
    "binary",
    "multiclass",
    "ties",
    "saturated",
    "wide",
    "wide_saturated",
];

/// Tolerances of the conformance contract, by key.
fn tolerance(key: &str) -> (f64, f64) {
    match key {
        k if k.ends_with("_p") || k == "p_value" => (1e-3, 0.0),
        "kl_divergence" => (1e-5, 0.0),
        "spearman" | "kendall" => (0.0, 1e-5),
        _ => (0.0, 1e-6),
    }
}

/// Every value in `expected` is in `actual`, numbers within the key's tolerance, integers exact.
fn assert_matches(actual: &Value, expected: &Value, path: &str, key: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let av = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}.{k} missing from the report"));
                assert_matches(av, v, &format!("{path}.{k}"), k);
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{path}: length");
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                assert_matches(av, ev, &format!("{path}[{i}]"), key);
            }
        }
        (Value::Number(e), Value::Number(a))
            if e.is_u64() && key != "bins" && key != "temperature" =>
        {
            assert_eq!(e.as_u64(), a.as_u64(), "{path}: count");
        }
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (
                e.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            if e == 0.0 && (key.ends_with("_p") || key == "p_value") {
                assert!(
                    a < 1e-300,
                    "{path}: expected an underflowed p-value, got {a}"
                );
            } else {
                let (rel, abs) = tolerance(key);
                assert!(close(a, e, rel, abs), "{path}: {a} vs expected {e}");
            }
        }
        (e, a) => assert_eq!(e, a, "{path}"),
    }
}

#[test]
fn conformance_cases_match_the_references() {
    for case in CASES {
        let dir = fixture(&format!("score/{case}"));
        let args: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("args.json")).unwrap()).unwrap();
        let t = args["temperature"].as_f64().unwrap().to_string();
        let b = args["bins"].as_u64().unwrap().to_string();
        // The references were made with PyTorch's AVX-512 kernels: sum softmax rows in their
        // order whatever this CPU has (it only matters from 16 classes on).
        let mut c = cmd();
        c.env("ATEN_CPU_CAPABILITY", "avx512");
        let r = run_with(
            c,
            &[
                "score",
                "--teacher-logits",
                s(&dir.join("teacher.npy")),
                "--student-logits",
                s(&dir.join("student.npy")),
                "--labels",
                s(&dir.join("labels.npy")),
                "--temperature",
                &t,
                "--bins",
                &b,
                "--device",
                "cpu",
                "--json",
                "-",
            ],
        );
        assert_eq!(r.code, 0, "{case}: {}", r.stderr);
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        let got = r.json();
        assert_matches(&got, &expected, case, "");
        // The FAQ's distances, from scikit-learn and SciPy (`make_distances.py`).
        let distances: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("distances.json")).unwrap())
                .unwrap();
        for key in ["cosine_distance", "wasserstein_confidence"] {
            let (a, e) = (got[key].as_f64().unwrap(), distances[key].as_f64().unwrap());
            // Float32 confidences summed in another order: equal to ~1e-8 relative.
            assert!(close(a, e, 1e-6, 1e-12), "{case} {key}: {a} vs {e}");
        }
    }
}

#[test]
fn terminal_report_has_every_section() {
    let dir = fixture("score/binary");
    let r = run(&[
        "score",
        "--teacher-logits",
        s(&dir.join("teacher.npy")),
        "--student-logits",
        s(&dir.join("student.npy")),
        "--labels",
        s(&dir.join("labels.npy")),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for section in [
        "1. ACCURACY",
        "2. KL DIVERGENCE",
        "3. RANKING CORRELATION",
        "4. CALIBRATION",
        "5. ERROR ANALYSIS",
        "6. OVERALL ASSESSMENT",
        "STATUS: EXCELLENT",
        "RECOMMENDATION:",
        "McNemar",
    ] {
        assert!(
            r.stdout.contains(section),
            "missing {section}:\n{}",
            r.stdout
        );
    }
}

#[test]
fn json_and_markdown_files_are_written() {
    let dir = fixture("score/multiclass");
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("r.json");
    let md = out.path().join("r.md");
    let r = run(&[
        "score",
        "--teacher-logits",
        s(&dir.join("teacher.npy")),
        "--student-logits",
        s(&dir.join("student.npy")),
        "--labels",
        s(&dir.join("labels.npy")),
        "--json",
        s(&json),
        "--markdown",
        s(&md),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in [
        "schema_version",
        "n_examples",
        "num_classes",
        "temperature",
        "bins",
        "accuracy_retention",
        "f1_retention",
        "kl_divergence",
        "reverse_kl_divergence",
        "js_divergence",
        "kl_percentiles",
        "agreement",
        "ranking",
        "errors",
        "mcnemar",
        "verdict",
        "recommendation",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "JSON lacks {key}");
    }
    for key in [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "ece",
        "mce",
        "nll",
        "brier",
        "ece_bins",
        "per_class",
        "confusion_matrix",
    ] {
        assert!(v["student"].get(key).is_some(), "student lacks {key}");
    }
    for key in ["p50", "p90", "p95", "p99", "max"] {
        assert!(v["kl_percentiles"].get(key).is_some());
    }
    // Percentiles are ordered and the mean lies within [0, max].
    let q = &v["kl_percentiles"];
    let qs: Vec<f64> = ["p50", "p90", "p95", "p99", "max"]
        .iter()
        .map(|k| q[k].as_f64().unwrap())
        .collect();
    assert!(qs.windows(2).all(|w| w[0] <= w[1]), "{qs:?}");
    let confusion_total: u64 = v["teacher"]["confusion_matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()))
        .sum();
    assert_eq!(confusion_total, 5000);
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("## Distillation report: WEAK"), "{text}");
    assert!(text.contains("| Accuracy |"), "{text}");
}

// ---- bad input -------------------------------------------------------------------------------

fn write_npy(dir: &Path, name: &str, t: &Tensor) -> PathBuf {
    let p = dir.join(name);
    t.write_npy(&p).unwrap();
    p
}

fn logits(rows: &[[f32; 3]]) -> Tensor {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (rows.len(), 3), &Device::Cpu).unwrap()
}

/// Runs `score` on the given files with a JSON output that must not appear.
fn score_err(teacher: &Path, student: &Path, labels: &Path, needles: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("report.json");
    let r = run(&[
        "score",
        "--teacher-logits",
        s(teacher),
        "--student-logits",
        s(student),
        "--labels",
        s(labels),
        "--json",
        s(&json),
    ]);
    assert_error(&r, needles);
    assert!(!json.exists(), "nothing may be written on error");
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "no temporary file may be left behind"
    );
}

#[test]
fn bad_inputs_exit_2_with_a_clear_message() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let good = write_npy(
        dir,
        "good.npy",
        &logits(&[[1., 2., 3.], [3., 2., 1.], [0., 0., 1.]]),
    );
    let labels = write_npy(
        dir,
        "labels.npy",
        &Tensor::new(&[2i64, 0, 2], &Device::Cpu).unwrap(),
    );

    // NaN and infinities name the row.
    let nan = write_npy(
        dir,
        "nan.npy",
        &logits(&[[1., 2., 3.], [3., f32::NAN, 1.], [0., 0., 1.]]),
    );
    score_err(&good, &nan, &labels, &["row 1", "student"]);
    let inf = write_npy(
        dir,
        "inf.npy",
        &logits(&[[1., 2., 3.], [3., 2., 1.], [0., f32::NEG_INFINITY, 1.]]),
    );
    score_err(&inf, &good, &labels, &["row 2", "teacher"]);

    // Row and class count mismatches.
    let two_rows = write_npy(dir, "two.npy", &logits(&[[1., 2., 3.], [3., 2., 1.]]));
    score_err(&good, &two_rows, &labels, &["two.npy", "3", "2"]);
    let four_cls = write_npy(
        dir,
        "four.npy",
        &Tensor::new(
            &[[1f32, 2., 3., 4.], [1., 2., 3., 4.], [1., 2., 3., 4.]],
            &Device::Cpu,
        )
        .unwrap(),
    );
    score_err(&good, &four_cls, &labels, &["four.npy", "4", "3"]);
    let short_labels = write_npy(
        dir,
        "short.npy",
        &Tensor::new(&[2i64, 0], &Device::Cpu).unwrap(),
    );
    score_err(&good, &good, &short_labels, &["short.npy"]);

    // Labels out of range, negative, non-integer.
    let big = write_npy(
        dir,
        "big.npy",
        &Tensor::new(&[2i64, 3, 0], &Device::Cpu).unwrap(),
    );
    score_err(&good, &good, &big, &["big.npy", "3"]);
    let neg = write_npy(
        dir,
        "neg.npy",
        &Tensor::new(&[2i64, -1, 0], &Device::Cpu).unwrap(),
    );
    score_err(&good, &good, &neg, &["neg.npy", "-1"]);
    let txt = dir.join("labels.txt");
    std::fs::write(&txt, "2\n1.5\n0\n").unwrap();
    score_err(&good, &good, &txt, &["labels.txt", "1.5"]);
    let float_labels = write_npy(
        dir,
        "flabels.npy",
        &Tensor::new(&[2f32, 1., 0.], &Device::Cpu).unwrap(),
    );
    score_err(&good, &good, &float_labels, &["flabels.npy"]);

    // Empty input, 1-D logits.
    let empty = write_npy(
        dir,
        "empty.npy",
        &Tensor::zeros((0, 3), candle::DType::F32, &Device::Cpu).unwrap(),
    );
    let empty_labels = dir.join("empty.txt");
    std::fs::write(&empty_labels, "").unwrap();
    score_err(&empty, &empty, &empty_labels, &["empty"]);
    let one_d = write_npy(
        dir,
        "oned.npy",
        &Tensor::new(&[1f32, 2., 3.], &Device::Cpu).unwrap(),
    );
    score_err(&one_d, &good, &labels, &["oned.npy"]);

    // Truncated, not an npy at all, missing.
    let bytes = std::fs::read(&good).unwrap();
    let trunc = dir.join("trunc.npy");
    std::fs::write(&trunc, &bytes[..bytes.len() - 5]).unwrap();
    score_err(&trunc, &good, &labels, &["trunc.npy"]);
    let not_npy = dir.join("notnpy.npy");
    std::fs::write(&not_npy, "hello, world").unwrap();
    score_err(&not_npy, &good, &labels, &["notnpy.npy"]);
    score_err(&dir.join("missing.npy"), &good, &labels, &["missing.npy"]);
}

#[test]
fn jsonl_and_safetensors_logits_score_like_npy() {
    let d = tempfile::tempdir().unwrap();
    let dir = fixture("score/ties");
    let teacher = Tensor::read_npy(dir.join("teacher.npy")).unwrap();
    // The student as JSONL, the teacher as safetensors under a name.
    let jsonl = d.path().join("student.jsonl");
    let rows = Tensor::read_npy(dir.join("student.npy"))
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let text: String = rows
        .iter()
        .map(|r| format!("{}\n", serde_json::to_string(r).unwrap()))
        .collect();
    std::fs::write(&jsonl, text).unwrap();
    let st = d.path().join("teacher.safetensors");
    candle::safetensors::save(
        &std::collections::HashMap::from([("logits".to_owned(), teacher)]),
        &st,
    )
    .unwrap();
    let spec = format!("{}:logits", s(&st));
    let r = run(&[
        "score",
        "--teacher-logits",
        &spec,
        "--student-logits",
        s(&jsonl),
        "--labels",
        s(&dir.join("labels.npy")),
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert_matches(&r.json(), &expected, "ties", "");

    // One JSONL file of {"logits": [...], "label": k} records serves as logits and labels.
    let labels = Tensor::read_npy(dir.join("labels.npy"))
        .unwrap()
        .to_vec1::<i64>()
        .unwrap();
    let records = d.path().join("student_records.jsonl");
    let text: String = rows
        .iter()
        .zip(&labels)
        .map(|(r, l)| {
            format!(
                "{}\n",
                serde_json::json!({"id": "x", "logits": r, "label": l})
            )
        })
        .collect();
    std::fs::write(&records, text).unwrap();
    let r = run(&[
        "score",
        "--teacher-logits",
        &spec,
        "--student-logits",
        s(&records),
        "--labels",
        s(&records),
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_matches(&r.json(), &expected, "ties (records)", "");
}

#[test]
fn many_classes_report_confusions_as_their_non_zero_cells() {
    // 150 classes: above the dense limit, the confusion counts are the non-zero cells only, and
    // the terminal lists the student's most frequent confusions.
    let (n, c) = (300usize, 150usize);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let labels: Vec<i64> = (0..n).map(|i| (i * 7 % c) as i64).collect();
    let mut t = vec![0f32; n * c];
    let mut st = vec![0f32; n * c];
    for (i, &l) in labels.iter().enumerate() {
        t[i * c + l as usize] = 5.0;
        // The student mistakes every third example for the next class.
        let p = if i % 3 == 0 {
            (l as usize + 1) % c
        } else {
            l as usize
        };
        st[i * c + p] = 4.0;
    }
    let tp = write_npy(
        dir,
        "t.npy",
        &Tensor::from_vec(t, (n, c), &Device::Cpu).unwrap(),
    );
    let sp = write_npy(
        dir,
        "s.npy",
        &Tensor::from_vec(st, (n, c), &Device::Cpu).unwrap(),
    );
    let lp = write_npy(
        dir,
        "y.npy",
        &Tensor::new(labels.as_slice(), &Device::Cpu).unwrap(),
    );
    let json = dir.join("r.json");
    let r = run(&[
        "score",
        "--teacher-logits",
        s(&tp),
        "--student-logits",
        s(&sp),
        "--labels",
        s(&lp),
        "--bootstrap",
        "0",
        "--json",
        s(&json),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("most frequent confusions"),
        "{}",
        r.stdout
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for side in ["teacher", "student"] {
        assert!(
            v[side].get("confusion_matrix").is_none(),
            "{side}: dense matrix at {c} classes"
        );
        let pairs = v[side]["confusion_pairs"].as_array().unwrap();
        let total: u64 = pairs.iter().map(|p| p["count"].as_u64().unwrap()).sum();
        assert_eq!(total, n as u64, "{side}");
        assert_eq!(v[side]["per_class"].as_array().unwrap().len(), c);
    }
    // Teacher: every example on the diagonal; student: 100 mistakes, each its own cell.
    let student = v["student"]["confusion_pairs"].as_array().unwrap();
    let wrong: u64 = student
        .iter()
        .filter(|p| p["true"] != p["predicted"])
        .map(|p| p["count"].as_u64().unwrap())
        .sum();
    assert_eq!(wrong, 100);
    assert!(v["teacher"]["confusion_pairs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["true"] == p["predicted"]));
}
