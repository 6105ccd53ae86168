//! One table of bad inputs, each row the arguments, the exit code and words the one-line
//! message must contain: flag ranges, hub dataset ids, checkpoints, data, logits, numbers at the
//! edges and outputs that must not destroy anything.

use std::path::Path;

use candle::{Device, Tensor};

use crate::common::{assert_error, root, run, s};

/// A case: what it exercises, its arguments, and the words its message must contain.
struct Case {
    what: &'static str,
    args: Vec<String>,
    needles: Vec<&'static str>,
}

fn case(what: &'static str, args: &[&str], needles: &[&'static str]) -> Case {
    Case {
        what,
        args: args.iter().map(|a| a.to_string()).collect(),
        needles: needles.to_vec(),
    }
}

fn npy(dir: &Path, name: &str, t: &Tensor) -> String {
    let p = dir.join(name);
    t.write_npy(&p).unwrap();
    s(&p).to_owned()
}

/// A copy of a bundled model whose config.json `edit` changes.
fn model_copy(dir: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> String {
    let to = dir.join(name);
    std::fs::create_dir_all(&to).unwrap();
    let from = root().join("models/teacher_bert");
    for f in std::fs::read_dir(&from).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
    }
    let cfg = to.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&cfg, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    s(&to).to_owned()
}

#[test]
fn every_bad_input_exits_2_with_one_clear_message() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let dev = &Device::Cpu;
    let t = npy(
        dir,
        "t.npy",
        &Tensor::new(&[[1f32, 2., 3.], [3., 2., 1.]], dev).unwrap(),
    );
    let st = npy(
        dir,
        "s.npy",
        &Tensor::new(&[[1f32, 2., 2.], [3., 1., 1.]], dev).unwrap(),
    );
    let nan = npy(
        dir,
        "nan.npy",
        &Tensor::new(&[[1f32, 2., 3.], [f32::NAN, 1., 1.]], dev).unwrap(),
    );
    let big = npy(
        dir,
        "big.npy",
        &Tensor::new(&[[1e308f64, 0., 1.], [1., 2., 3.]], dev).unwrap(),
    );
    let y = npy(dir, "y.npy", &Tensor::new(&[2i64, 0], dev).unwrap());
    let y_bad = npy(dir, "y_bad.npy", &Tensor::new(&[2i64, 3], dev).unwrap());
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let empty = s(&empty).to_owned();
    let corrupt = dir.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(root().join("models/teacher_bert").join(f), corrupt.join(f)).unwrap();
    }
    std::fs::write(
        corrupt.join("model.safetensors"),
        b"\x10\0\0\0\0\0\0\0{\"a\":",
    )
    .unwrap();
    let corrupt = s(&corrupt).to_owned();
    let unknown = model_copy(dir, "unknown", |v| {
        v["model_type"] = "not-a-model".into();
        v["architectures"] = serde_json::json!(["NotAModelForSequenceClassification"]);
    });
    let duplicate = model_copy(dir, "duplicate", |v| {
        v["id2label"] = serde_json::json!({"0": "neg", "1": "neg", "2": "pos"});
        v["label2id"] = serde_json::json!({"neg": 0, "pos": 2});
    });
    let data = "models/data/test.jsonl";
    let score = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "score",
            "--teacher-logits",
            &t,
            "--student-logits",
            &st,
            "--labels",
            &y,
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    // The demo's models and data, with some flags replaced or added.
    let report = |extra: &[(&str, &str)]| -> Vec<String> {
        let mut flags = vec![
            ("--teacher", "models/teacher_bert"),
            ("--student", "models/distilbert"),
            ("--data", data),
            ("--limit", "8"),
        ];
        for &(k, v) in extra {
            match flags.iter_mut().find(|(f, _)| *f == k) {
                Some(slot) => slot.1 = v,
                None => flags.push((k, v)),
            }
        }
        let mut a = vec!["report".to_owned()];
        for (k, v) in flags {
            a.push(k.to_owned());
            a.push(v.to_owned());
        }
        a
    };
    let with = |mut c: Case, extra: Vec<String>| {
        c.args.extend(extra);
        c
    };

    let mut cases = vec![
        // Flag ranges, checked before any work.
        with(
            case("bins 0", &[], &["--bins", "hint:"]),
            score(&["--bins", "0"]),
        ),
        with(
            case("bins beyond usize", &[], &["--bins", "hint:"]),
            score(&["--bins", "18446744073709551615"]),
        ),
        with(
            case("bins huge", &[], &["--bins", "10000"]),
            score(&["--bins", "100000000"]),
        ),
        with(
            case("bootstrap huge", &[], &["--bootstrap", "hint:"]),
            score(&["--bootstrap", "100000000000"]),
        ),
        with(
            case("negative temperature", &[], &["temperature", "hint:"]),
            score(&["--temperature", "-1"]),
        ),
        with(
            case("NaN gate", &[], &["--max-kl", "hint:"]),
            score(&["--max-kl", "NaN"]),
        ),
        with(
            case("batch size 0", &[], &["--batch-size", "hint:"]),
            report(&[("--batch-size", "0")]),
        ),
        with(
            case("max length 0", &[], &["--max-length", "hint:"]),
            report(&[("--max-length", "0")]),
        ),
        case(
            "bench iters 0",
            &["bench", "--model", "models/distilbert", "--iters", "0"],
            &["--iters", "hint:"],
        ),
        case(
            "bench seq-len 0",
            &["bench", "--model", "models/distilbert", "--seq-len", "0"],
            &["--seq-len", "hint:"],
        ),
        case(
            "bench batch huge",
            &[
                "bench",
                "--model",
                "models/distilbert",
                "--batch-sizes",
                "100000000",
            ],
            &["batch", "hint:"],
        ),
        with(
            case("limit 0", &[], &["--limit", "hint:"]),
            report(&[("--limit", "0")]),
        ),
        case(
            "bench batch beyond memory",
            &[
                "bench",
                "--model",
                "models/distilbert",
                "--batch-sizes",
                "65536",
                "--seq-len",
                "128",
            ],
            &["attention entries", "--batch-sizes of at most", "hint:"],
        ),
        // Hub dataset ids.
        with(
            case("empty hub id", &[], &["hf://datasets/", "hint:"]),
            report(&[("--data", "hf://datasets/")]),
        ),
        with(
            case("empty revision", &[], &["revision", "hint:"]),
            report(&[("--data", "hf://datasets/a/b@")]),
        ),
        with(
            case("dotted hub id", &[], &["..", "hint:"]),
            report(&[("--data", "hf://datasets/../..")]),
        ),
        // Checkpoints.
        with(
            case("model is a file", &[], &["config.json", "file", "hint:"]),
            report(&[("--teacher", "models/teacher_bert/config.json")]),
        ),
        with(
            case("missing model", &[], &["no/such/dir/here", "hint:"]),
            report(&[("--student", "no/such/dir/here")]),
        ),
        with(
            case("corrupt weights", &[], &["model.safetensors", "hint:"]),
            report(&[("--student", &corrupt)]),
        ),
        with(
            case(
                "unknown architecture",
                &[],
                &["NotAModelForSequenceClassification", "hint:"],
            ),
            report(&[("--student", &unknown)]),
        ),
        with(
            case("duplicate label names", &[], &["neg", "id2label", "hint:"]),
            report(&[("--student", &duplicate)]),
        ),
        // Data.
        with(
            case("missing data", &[], &["no-such-data.jsonl", "hint:"]),
            report(&[("--data", "no-such-data.jsonl")]),
        ),
        with(
            case("empty data", &[], &["empty.jsonl", "hint:"]),
            report(&[("--data", &empty)]),
        ),
        with(
            case("unknown text field", &[], &["nope", "hint:"]),
            report(&[("--data", data), ("--text-field", "nope")]),
        ),
        // Logits and labels.
        case(
            "NaN logits",
            &[
                "score",
                "--teacher-logits",
                &t,
                "--student-logits",
                &nan,
                "--labels",
                &y,
            ],
            &["row 1", "student", "hint:"],
        ),
        case(
            "label out of range",
            &[
                "score",
                "--teacher-logits",
                &t,
                "--student-logits",
                &st,
                "--labels",
                &y_bad,
            ],
            &["y_bad.npy", "3", "hint:"],
        ),
        case(
            "overflow after T",
            &[
                "score",
                "--teacher-logits",
                &big,
                "--student-logits",
                &st,
                "--labels",
                &y,
                "--temperature",
                "0.1",
            ],
            &["teacher", "row 0", "temperature", "hint:"],
        ),
        // Outputs.
        with(
            case("output names an input", &[], &["t.npy", "input", "hint:"]),
            score(&["--json", &t]),
        ),
        with(
            case("two outputs on stdout", &[], &["standard output", "hint:"]),
            score(&["--json", "-", "--html", "-"]),
        ),
    ];
    if Path::new("/dev/full").exists() {
        cases.push(with(
            case("disk full", &[], &["/dev/full", "hint:"]),
            score(&["--json", "/dev/full"]),
        ));
    }

    let t_before = std::fs::read(&t).unwrap();
    // Every case runs; the failures are reported together.
    let mut failures = Vec::new();
    for c in &cases {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let r = run(&args);
        let missing: Vec<&str> = c
            .needles
            .iter()
            .copied()
            .filter(|n| !r.stderr.contains(n))
            .collect();
        let clean = r.code == 2
            && r.stderr.starts_with("distill-eval: ")
            && !r.stderr.contains("panicked")
            && missing.is_empty();
        if !clean {
            failures.push(format!(
                "{}: exit {}, missing {missing:?}\n{}",
                c.what, r.code, r.stderr
            ));
        } else {
            assert_error(&r, &c.needles);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
    assert_eq!(
        std::fs::read(&t).unwrap(),
        t_before,
        "an input was overwritten"
    );
    if Path::new("/dev/full").exists() {
        use std::os::unix::fs::FileTypeExt;
        let kind = std::fs::metadata("/dev/full").unwrap().file_type();
        assert!(
            kind.is_char_device(),
            "/dev/full was replaced by a regular file"
        );
    }
}
