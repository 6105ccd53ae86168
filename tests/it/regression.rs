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

/// A regression head made from a bundled 3-class classifier: one output, the difference of its
/// `pos` and `neg` logits (a sentiment score), with `problem_type` regression.
pub(crate) fn regression_head(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    use candle::{Device, Tensor};
    let from = crate::common::model(name);
    let to = dir.join(name);
    crate::common::copy_dir(&from, &to);
    let mut tensors =
        candle::safetensors::load(from.join("model.safetensors"), &Device::Cpu).unwrap();
    let w = tensors["classifier.weight"].clone();
    let b = tensors["classifier.bias"].clone();
    let w1 = (w.get(2).unwrap() - w.get(0).unwrap())
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let b1 = (b.get(2).unwrap() - b.get(0).unwrap())
        .unwrap()
        .reshape(1)
        .unwrap();
    tensors.insert("classifier.weight".into(), w1);
    tensors.insert("classifier.bias".into(), b1);
    let refs: std::collections::HashMap<String, Tensor> = tensors;
    candle::safetensors::save(&refs, to.join("model.safetensors")).unwrap();
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(to.join("config.json")).unwrap()).unwrap();
    config["id2label"] = serde_json::json!({"0": "score"});
    config["label2id"] = serde_json::json!({"score": 0});
    config["problem_type"] = "regression".into();
    std::fs::write(to.join("config.json"), config.to_string()).unwrap();
    to
}

#[test]
fn regression_heads_run_from_models_as_their_saved_outputs_score() {
    let dir = tempfile::tempdir().unwrap();
    let (t, st) = (
        regression_head(dir.path(), "teacher_bert"),
        regression_head(dir.path(), "distilbert"),
    );
    // The bundled texts; targets near the teacher's own scores (so that its R² is high), some
    // of them fractional.
    let src = std::fs::read_to_string(crate::common::model("data/test.jsonl")).unwrap();
    let texts: Vec<Value> = src
        .lines()
        .take(120)
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["text"].clone())
        .collect();
    let write_data = |path: &std::path::Path, ys: &[f64]| {
        let lines: String = texts
            .iter()
            .zip(ys)
            .map(|(t, y)| format!("{}\n", serde_json::json!({"text": t, "score": y})))
            .collect();
        std::fs::write(path, lines).unwrap();
    };
    let data = dir.path().join("scores.jsonl");
    write_data(&data, &vec![0.0; texts.len()]);
    let tl = dir.path().join("t.npy");
    let r = run(&[
        "logits",
        "--model",
        s(&t),
        "--data",
        s(&data),
        "--label-field",
        "score",
        "--out",
        s(&tl),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let own: Vec<f32> =
        distill_eval_runner::input::saved::read_logits(s(&tl), &candle::Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
    let ys: Vec<f64> = own
        .iter()
        .enumerate()
        .map(|(i, &p)| f64::from(p).round() + if i % 3 == 0 { 0.25 } else { 0.0 })
        .collect();
    write_data(&data, &ys);
    let targets_file = dir.path().join("targets.jsonl");
    let targets: String = ys.iter().map(|y| format!("[{y}]\n")).collect();
    std::fs::write(&targets_file, targets).unwrap();
    let r = run(&[
        "report",
        "--teacher",
        s(&t),
        "--student",
        s(&st),
        "--data",
        s(&data),
        "--label-field",
        "score",
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    assert_eq!(got["task"], "regression");
    assert_eq!(got["n"], 120);
    assert_eq!(got["teacher_model"]["problem_type"], "regression");
    // The same figures as `score --task regression` on the heads' saved outputs.
    let sl = dir.path().join("s.npy");
    for (m, out) in [(&t, &tl), (&st, &sl)] {
        let r = run(&[
            "logits",
            "--model",
            s(m),
            "--data",
            s(&data),
            "--label-field",
            "score",
            "--out",
            s(out),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let saved = run(&[
        "score",
        "--task",
        "regression",
        "--teacher-logits",
        s(&tl),
        "--student-logits",
        s(&sl),
        "--labels",
        s(&targets_file),
        "--json",
        "-",
    ]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let want = saved.json();
    for side in ["teacher", "student"] {
        for key in ["mae", "rmse", "r2", "pearson", "spearman"] {
            let (a, e) = (
                got[side][key].as_f64().unwrap(),
                want[side][key].as_f64().unwrap(),
            );
            assert!(close(a, e, 1e-9, 1e-12), "{side}.{key}: {a} vs {e}");
        }
    }
    assert_eq!(got["verdict"], want["verdict"]);
    // The terminal report names the models and the target column.
    let r = run(&[
        "report",
        "--teacher",
        s(&t),
        "--student",
        s(&st),
        "--data",
        s(&data),
        "--label-field",
        "score",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("BertForSequenceClassification"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("targets: \"score\""), "{}", r.stdout);
    // compare: one teacher pass, both heads.
    let r = run(&[
        "compare",
        "--teacher",
        s(&t),
        "--student",
        s(&st),
        "--student",
        s(&t),
        "--data",
        s(&data),
        "--label-field",
        "score",
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = r.json();
    assert_eq!(c["students"].as_array().unwrap().len(), 2);
    // The teacher against itself retains all of its R².
    assert!(
        close(
            c["students"][1]["r2_retention"].as_f64().unwrap(),
            1.0,
            1e-12,
            0.0
        ),
        "{c}"
    );
    // A target that is not a number names its row.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"text\": \"a\", \"score\": 1.5}\n{\"text\": \"b\", \"score\": \"high\"}\n",
    )
    .unwrap();
    let r = run(&[
        "report",
        "--teacher",
        s(&t),
        "--student",
        s(&st),
        "--data",
        s(&bad),
        "--label-field",
        "score",
    ]);
    assert_error(
        &r,
        &["bad.jsonl: line 2", "\"high\"", "not a finite number"],
    );
}
