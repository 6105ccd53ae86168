//! `distill-eval report --task ranking`: two cross-encoders (one-output heads) score a pairs
//! file, ranked exactly as `score --task ranking` ranks the same scores.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{assert_error, close, run, s};
use crate::regression::regression_head;

/// Four queries, six passages each (the bundled texts), graded 0, 1 or 2 by a fixed pattern.
fn pairs(dir: &Path) -> (PathBuf, Vec<(String, u32)>) {
    let src = std::fs::read_to_string(crate::common::model("data/test.jsonl")).unwrap();
    let texts: Vec<String> = src
        .lines()
        .take(24)
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let queries = ["a good film", "a dull plot", "great acting", "not worth it"];
    let mut keys = Vec::new();
    let mut lines = String::new();
    for (i, passage) in texts.iter().enumerate() {
        let query = queries[i / 6];
        let relevance = ((i * 7) % 5 % 3) as u32;
        keys.push((query.to_owned(), relevance));
        lines += &format!(
            "{}\n",
            serde_json::json!({"query": query, "passage": passage, "relevance": relevance})
        );
    }
    let path = dir.join("pairs.jsonl");
    std::fs::write(&path, lines).unwrap();
    (path, keys)
}

fn rerank(teacher: &Path, student: &Path, data: &Path, extra: &[&str]) -> crate::common::Run {
    let mut args = vec![
        "report",
        "--task",
        "ranking",
        "--teacher",
        s(teacher),
        "--student",
        s(student),
        "--data",
        s(data),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Each pair's score by `model`, through `distill-eval logits`.
fn scores(model: &Path, data: &Path, out: &Path) -> Vec<f64> {
    let r = run(&[
        "logits",
        "--model",
        s(model),
        "--data",
        s(data),
        "--text-field",
        "query",
        "--text-pair-field",
        "passage",
        "--label-field",
        "relevance",
        "--out",
        s(out),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = distill_eval_runner::input::saved::read_logits(s(out), &candle::Device::Cpu).unwrap();
    assert_eq!(t.dims(), &[24, 1]);
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Every number of `got` equals the one at the same place in `want`.
fn same_numbers(path: &str, got: &Value, want: &Value, seen: &mut usize) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or_else(|| panic!("{path}.{k} missing"));
                same_numbers(&format!("{path}.{k}"), gv, wv, seen);
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{path}");
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                same_numbers(&format!("{path}[{i}]"), gv, wv, seen);
            }
        }
        (Value::Number(_), Value::Number(_)) => {
            let (a, e) = (got.as_f64().unwrap(), want.as_f64().unwrap());
            assert!(close(a, e, 1e-9, 1e-12), "{path}: {a} vs {e}");
            *seen += 1;
        }
        _ => assert_eq!(got, want, "{path}"),
    }
}

#[test]
fn cross_encoders_rank_as_their_saved_scores_score() {
    let dir = tempfile::tempdir().unwrap();
    let (t, st) = (
        regression_head(dir.path(), "teacher_bert"),
        regression_head(dir.path(), "distilbert"),
    );
    let (data, keys) = pairs(dir.path());
    let r = rerank(&t, &st, &data, &["--k", "1,3", "--json", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    assert_eq!(got["task"], "ranking");
    // The extra cut-offs are reported beside NDCG@5 and @10.
    for key in ["ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10"] {
        assert!(got["student"][key].is_number(), "{key}: {}", got["student"]);
    }
    assert_eq!(got["queries"], 4);
    assert_eq!(got["teacher_model"]["problem_type"], "regression");
    assert_eq!(got["student_model"]["problem_type"], "regression");
    // The same numbers written as a `score --task ranking` rows file.
    let ts = scores(&t, &data, &dir.path().join("t.npy"));
    let ss = scores(&st, &data, &dir.path().join("s.npy"));
    let rows: String = keys
        .iter()
        .zip(ts.iter().zip(&ss))
        .map(|((q, rel), (a, b))| {
            format!(
                "{}\n",
                serde_json::json!({"query": q, "relevance": rel, "teacher": a, "student": b})
            )
        })
        .collect();
    let rows_file = dir.path().join("rows.jsonl");
    std::fs::write(&rows_file, rows).unwrap();
    let saved = run(&[
        "score",
        "--task",
        "ranking",
        "--data",
        s(&rows_file),
        "--k",
        "1,3",
        "--json",
        "-",
    ]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let want = saved.json();
    let mut seen = 0;
    for key in [
        "queries",
        "teacher",
        "student",
        "ndcg@10_retention",
        "teacher_student_kendall",
        "per_query",
        "bootstrap",
    ] {
        assert!(want.get(key).is_some(), "score's report lacks {key}");
        same_numbers(key, &got[key], &want[key], &mut seen);
    }
    assert!(seen > 20, "only {seen} numbers compared");
    assert_eq!(got["verdict"], want["verdict"]);
    // The terminal report names both models.
    let r = rerank(&t, &st, &data, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("NDCG@10"), "{}", r.stdout);
}

#[test]
fn bad_rerank_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let head = regression_head(dir.path(), "teacher_bert");
    let classifier = crate::common::model("distilbert");
    let (data, _) = pairs(dir.path());
    // A three-label classifier as either model.
    for (t, st) in [(&head, &classifier), (&classifier, &head)] {
        assert_error(
            &rerank(t, st, &data, &[]),
            &["3 labels", "not a cross-encoder", "hint:"],
        );
    }
    // A row without its passage.
    let missing = dir.path().join("missing.jsonl");
    std::fs::write(
        &missing,
        "{\"query\": \"q\", \"passage\": \"p\", \"relevance\": 1}\n\
         {\"query\": \"q\", \"relevance\": 0}\n",
    )
    .unwrap();
    assert_error(
        &rerank(&head, &head, &missing, &[]),
        &["\"passage\"", "hint:"],
    );
    // A negative grade.
    let negative = dir.path().join("negative.jsonl");
    std::fs::write(
        &negative,
        "{\"query\": \"q\", \"passage\": \"p\", \"relevance\": -1}\n",
    )
    .unwrap();
    assert_error(
        &rerank(&head, &head, &negative, &[]),
        &["\"relevance\"", "-1", "at least 0", "hint:"],
    );
    // A generation flag does not apply.
    assert_error(
        &rerank(&head, &head, &data, &["--prompt-field", "q"]),
        &[
            "--prompt-field does not apply to report --task ranking",
            "hint:",
        ],
    );
    // Cut-offs without --task ranking.
    let (t, st) = (s(&head), s(&head));
    let r = run(&[
        "report",
        "--teacher",
        t,
        "--student",
        st,
        "--data",
        s(&data),
        "--k",
        "3",
    ]);
    assert_error(&r, &["--k applies to report --task ranking only", "hint:"]);
}
