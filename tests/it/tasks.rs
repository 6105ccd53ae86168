//! `distill-eval score --task ranking | generation | detection` end to end: the JSON of the
//! binary against the conformance vectors of `tests/fixtures/tasks/` (the shared cases and the
//! generated harder ones; see that folder's README for their provenance), every human format,
//! the verdict and gates, and bad input.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{assert_error, fixture, run, s};

/// Collects mismatches between the binary's JSON and a reference object, key by key (1e-6
/// relative to max(1, |x|), 1e-4 for BLEU and chrF; `null` must match `null`).
#[derive(Default)]
struct Checker {
    mismatches: Vec<String>,
    compared: usize,
}

impl Checker {
    fn tolerance(key: &str) -> f64 {
        match key {
            "bleu" | "chrf" | "bleu_retention" | "teacher_student_bleu" => 1e-4,
            _ => 1e-6,
        }
    }

    fn compare(&mut self, path: &str, found: &Value, expected: &Value, tol: f64) {
        match (expected, found) {
            (Value::Object(e), Value::Object(f)) => {
                for (key, ev) in e {
                    let p = format!("{path}.{key}");
                    match f.get(key) {
                        Some(fv) => self.compare(&p, fv, ev, tol.max(Self::tolerance(key))),
                        None => self.mismatches.push(format!("{p}: missing")),
                    }
                }
            }
            (Value::Array(e), Value::Array(f)) if e.len() == f.len() => {
                for (i, (ev, fv)) in e.iter().zip(f).enumerate() {
                    self.compare(&format!("{path}[{i}]"), fv, ev, tol);
                }
            }
            (Value::Number(e), Value::Number(f)) => {
                self.compared += 1;
                let (e, f) = (e.as_f64().unwrap(), f.as_f64().unwrap());
                if (e - f).abs() > tol * e.abs().max(1.0) {
                    self.mismatches.push(format!("{path}: {f} != {e}"));
                }
            }
            (e, f) if e == f => self.compared += 1,
            (e, f) => self.mismatches.push(format!("{path}: {f} != {e}")),
        }
    }

    fn finish(self, what: &str, at_least: usize) {
        assert!(
            self.compared >= at_least,
            "{what}: only {} values compared",
            self.compared
        );
        let n = self.mismatches.len();
        assert!(
            n == 0,
            "{what}: {n} mismatches, first five:\n{}",
            self.mismatches[..n.min(5)].join("\n")
        );
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes `rows` as JSON Lines.
fn write_jsonl(path: &Path, rows: &[Value]) {
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// A 1-D `.npy` column of `<i4`, `|u1` or `<f4` values, widened to f64.
fn npy_column(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    let data = &bytes[10 + header_len..];
    if header.contains("'<i4'") {
        data.chunks_exact(4)
            .map(|c| f64::from(i32::from_le_bytes(c.try_into().unwrap())))
            .collect()
    } else if header.contains("'|u1'") {
        data.iter().map(|&b| f64::from(b)).collect()
    } else if header.contains("'<f4'") {
        data.chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())))
            .collect()
    } else {
        panic!("{}: unexpected dtype in {header}", path.display())
    }
}

/// The shared ranking case as the JSON Lines it was made as (`query` `q17`, graded relevance,
/// float32 scores), from the `.npy` columns it is stored as.
fn shared_ranking_rows(dir: &Path) -> PathBuf {
    let src = fixture("tasks/ranking");
    let [q, rel, t, st] = ["query", "relevance", "teacher", "student"]
        .map(|c| npy_column(&src.join(format!("{c}.npy"))));
    let rows: Vec<Value> = (0..q.len())
        .map(|i| {
            json!({"query": format!("q{}", q[i] as i64), "relevance": rel[i] as i64,
                   "teacher": t[i], "student": st[i]})
        })
        .collect();
    let path = dir.join("scores.jsonl");
    write_jsonl(&path, &rows);
    path
}

fn score(task: &str, args: &[&str]) -> crate::common::Run {
    let mut all = vec!["score", "--task", task];
    all.extend_from_slice(args);
    run(&all)
}

// ---- ranking ----

#[test]
fn ranking_matches_the_shared_references() {
    let dir = tempfile::tempdir().unwrap();
    let rows = shared_ranking_rows(dir.path());
    let r = score("ranking", &["--data", s(&rows), "--json", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    let mut check = Checker::default();
    let want = read_json(&fixture("tasks/ranking/expected.json"));
    check.compare("", &got, &want, 1e-6);
    check.finish("shared ranking", 9);
    assert_eq!(got["task"], "ranking");
    // NDCG@10 retention 0.9575 is above 0.95: EXCELLENT by the default thresholds.
    assert_eq!(got["verdict"], "EXCELLENT");
    assert_eq!(
        got["queries"].as_u64(),
        Some(got["per_query"].as_array().unwrap().len() as u64)
    );
    let tau = got["teacher_student_kendall"].as_f64().unwrap();
    assert!(tau > -1.0 && tau < 1.0, "{tau}");
}

#[test]
fn ranking_matches_the_generated_references() {
    let cases = read_json(&fixture("tasks/ranking/generated.json"));
    let dir = tempfile::tempdir().unwrap();
    let mut check = Checker::default();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let path = dir.path().join(format!("{name}.jsonl"));
        write_jsonl(&path, case["rows"].as_array().unwrap());
        let k: Vec<String> = case["cutoffs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
        let k = k.join(",");
        let r = score("ranking", &["--data", s(&path), "--k", &k, "--json", "-"]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let mut got = r.json();
        // The reference lists per-query tau as an array; ours is inside each query's figures.
        let taus: Vec<Value> = got["per_query"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["kendall_tau"].clone())
            .collect();
        got["per_query_kendall"] = Value::Array(taus);
        check.compare(name, &got, &case["expected"], 1e-6);
    }
    check.finish("generated ranking", 40);
}

#[test]
fn ranking_reports_in_every_format_and_warns_of_queries_without_relevant_documents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    // q1: the student swaps the two documents; q2 has no relevant document.
    write_jsonl(
        &path,
        &[
            json!({"qid": 1, "grade": 2, "t": 0.9, "s": 0.1}),
            json!({"qid": 1, "grade": 0, "t": 0.2, "s": 0.8}),
            json!({"qid": 2, "grade": 0, "t": 0.5, "s": 0.4}),
            json!({"qid": 2, "grade": 0, "t": 0.1, "s": 0.3}),
        ],
    );
    let md = dir.path().join("r.md");
    let html = dir.path().join("r.html");
    let r = score(
        "ranking",
        &[
            "--data",
            s(&path),
            "--query-field",
            "qid",
            "--relevance-field",
            "grade",
            "--teacher-field",
            "t",
            "--student-field",
            "s",
            "--markdown",
            s(&md),
            "--html",
            s(&html),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // q1: teacher NDCG@10 1, student 2/log2(3) / 2 = 0.6309; q2 scores 0: means 0.5 and 0.3155.
    assert!(
        r.stdout.contains("NDCG@10 retention: 63.1%"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("1 of 2 queries have no relevant document"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("STATUS: WEAK"), "{}", r.stdout);
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("| NDCG@10 | 0.5000 | 0.3155 |"), "{md}");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(
        html.contains("badge WEAK") && html.contains("NDCG@10 retention"),
        "{html}"
    );
    // The gate on the retained figure; KL does not apply.
    let r = score(
        "ranking",
        &[
            "--data",
            s(&path),
            "--query-field",
            "qid",
            "--relevance-field",
            "grade",
            "--teacher-field",
            "t",
            "--student-field",
            "s",
            "--min-retention",
            "0.9",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("NDCG@10 retention 0.6309 is below 0.9"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_ranking_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let missing = write(
        "missing.jsonl",
        "{\"query\": \"a\", \"relevance\": 1, \"teacher\": 0.5, \"student\": 0.1}\n\
         {\"query\": \"a\", \"relevance\": 0, \"teacher\": 0.5}\n",
    );
    assert_error(
        &score("ranking", &["--data", s(&missing)]),
        &[
            "missing.jsonl: line 2",
            "\"student\"",
            "missing",
            "--student-field",
        ],
    );
    let negative = write(
        "negative.jsonl",
        "{\"query\": \"a\", \"relevance\": -1, \"teacher\": 0.5, \"student\": 0.1}\n",
    );
    assert_error(
        &score("ranking", &["--data", s(&negative)]),
        &["line 1", "relevance", "at least 0"],
    );
    let text = write(
        "text.jsonl",
        "{\"query\": \"a\", \"relevance\": 1, \"teacher\": \"high\", \"student\": 0.1}\n",
    );
    assert_error(
        &score("ranking", &["--data", s(&text)]),
        &["line 1", "\"teacher\"", "a finite number", "hint:"],
    );
    let huge = write(
        "huge.jsonl",
        "{\"query\": \"a\", \"relevance\": 1, \"teacher\": 1e999, \"student\": 0.1}\n",
    );
    assert_error(
        &score("ranking", &["--data", s(&huge)]),
        &["line 1", "hint:"],
    );
    assert_error(
        &score("ranking", &["--data", s(&text), "--labels", s(&text)]),
        &["--labels does not apply to score --task ranking", "hint:"],
    );
    assert_error(&score("ranking", &[]), &["needs --data", "hint:"]);
    assert_error(
        &score("ranking", &["--data", s(&text), "--calibrate"]),
        &[
            "--calibrate does not apply to score --task ranking",
            "hint:",
        ],
    );
    assert_error(
        &score("ranking", &["--data", s(&text), "--k", "0"]),
        &["--k", "hint:"],
    );
}

// ---- generation ----

#[test]
fn generation_matches_the_shared_references() {
    let rows = fixture("tasks/generation/generations.jsonl");
    let r = score("generation", &["--data", s(&rows), "--json", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    let mut check = Checker::default();
    let want = read_json(&fixture("tasks/generation/expected.json"));
    check.compare("", &got, &want, 1e-6);
    check.finish("shared generation", 12);
    assert_eq!(got["task"], "generation");
    // BLEU retention 0.655: WEAK.
    assert_eq!(got["verdict"], "WEAK");
    let drops = got["largest_drops"].as_array().unwrap();
    assert!(!drops.is_empty() && drops.len() <= 10);
    for d in drops {
        assert!(
            d["student_rouge_l"].as_f64() < d["teacher_rouge_l"].as_f64(),
            "{d}"
        );
    }
}

#[test]
fn generation_matches_the_generated_references() {
    let cases = read_json(&fixture("tasks/generation/generated.json"));
    let dir = tempfile::tempdir().unwrap();
    let mut check = Checker::default();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let col = |k: &str| case[k].as_array().unwrap().clone();
        let (refs, t, st) = (col("references"), col("teacher"), col("student"));
        let rows: Vec<Value> = (0..refs.len())
            .map(|i| json!({"ref": refs[i], "teacher": t[i], "student": st[i]}))
            .collect();
        let path = dir.path().join(format!("{name}.jsonl"));
        write_jsonl(&path, &rows);
        let r = score(
            "generation",
            &[
                "--data",
                s(&path),
                "--reference-field",
                "ref",
                "--allow-empty-hypotheses",
                "--json",
                "-",
            ],
        );
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        check.compare(name, &r.json(), &case["expected"], 1e-6);
    }
    check.finish("generated generation", 40);
}

#[test]
fn generation_refuses_empty_hypotheses_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gen.jsonl");
    write_jsonl(
        &path,
        &[
            json!({"reference": "the cat sat on the mat", "teacher": "the cat sat on the mat", "student": "the cat sat"}),
            json!({"reference": "a dog ran", "teacher": "a dog ran", "student": " \t"}),
        ],
    );
    assert_error(
        &score("generation", &["--data", s(&path)]),
        &[
            "gen.jsonl: line 2",
            "student",
            "empty",
            "--allow-empty-hypotheses",
        ],
    );
    let md = dir.path().join("g.md");
    let r = score(
        "generation",
        &[
            "--data",
            s(&path),
            "--allow-empty-hypotheses",
            "--markdown",
            s(&md),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("1 of the student's texts are empty"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("BLEU retention: "), "{}", r.stdout);
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("| BLEU | 100.0000 |"), "{md}");
    // Texts reach the HTML escaped.
    let script = dir.path().join("script.jsonl");
    write_jsonl(
        &script,
        &[json!({"reference": "a b c d", "teacher": "a b c d", "student": "<script>x</script>"})],
    );
    let r = score("generation", &["--data", s(&script), "--html", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("&lt;script&gt;x"), "{}", r.stdout);
    assert!(!r.stdout.contains("<script>"), "{}", r.stdout);
    let ragged = dir.path().join("ragged.jsonl");
    std::fs::write(&ragged, "{\"reference\": \"a\", \"teacher\": \"a\"}\n").unwrap();
    assert_error(
        &score("generation", &["--data", s(&ragged)]),
        &["line 1", "\"student\"", "missing", "--student-field"],
    );
    let number = dir.path().join("number.jsonl");
    std::fs::write(
        &number,
        "{\"reference\": \"a\", \"teacher\": 3, \"student\": \"a\"}\n",
    )
    .unwrap();
    assert_error(
        &score("generation", &["--data", s(&number)]),
        &["line 1", "\"teacher\"", "a string"],
    );
    assert_error(
        &score("generation", &["--data", s(&path), "--k", "3"]),
        &["--k does not apply to score --task generation"],
    );
}

// ---- detection ----

fn detect(dir: &Path, gt: &str, t: &str, st: &str, extra: &[&str]) -> crate::common::Run {
    let [gt, t, st] = [gt, t, st].map(|f| dir.join(f));
    let mut args = vec![
        "--ground-truth",
        s(&gt),
        "--teacher-detections",
        s(&t),
        "--student-detections",
        s(&st),
    ];
    args.extend_from_slice(extra);
    score("detection", &args)
}

#[test]
fn detection_matches_the_shared_references() {
    let dir = fixture("tasks/detection");
    let r = detect(
        &dir,
        "ground_truth.json",
        "teacher.json",
        "student.json",
        &["--json", "-"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    let mut check = Checker::default();
    check.compare("", &got, &read_json(&dir.join("expected.json")), 1e-6);
    check.finish("shared detection", 27);
    assert_eq!(got["task"], "detection");
    assert_eq!(got["verdict"], "WEAK"); // mAP retention 0.329
    assert!(!got["teacher"]["per_class"].as_array().unwrap().is_empty());
}

#[test]
fn detection_matches_the_generated_references() {
    let cases = read_json(&fixture("tasks/detection/generated.json"));
    let dir = tempfile::tempdir().unwrap();
    let mut check = Checker::default();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        for part in ["ground_truth", "teacher", "student"] {
            std::fs::write(
                dir.path().join(format!("{part}.json")),
                case[part].to_string(),
            )
            .unwrap();
        }
        let r = detect(
            dir.path(),
            "ground_truth.json",
            "teacher.json",
            "student.json",
            &["--json", "-"],
        );
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let mut got = r.json();
        // The reference lists per-class AP as an array in category id order.
        for side in ["teacher", "student"] {
            let aps: Vec<Value> = got[side]["per_class"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["ap"].clone())
                .collect();
            got[side]["per_class_ap"] = Value::Array(aps);
        }
        check.compare(name, &got, &case["expected"], 1e-6);
    }
    check.finish("generated detection", 50);
}

#[test]
fn detection_reports_in_every_format() {
    let dir = fixture("tasks/detection");
    let out = tempfile::tempdir().unwrap();
    let (md, html) = (out.path().join("d.md"), out.path().join("d.html"));
    let r = detect(
        &dir,
        "ground_truth.json",
        "teacher.json",
        "student.json",
        &[
            "--markdown",
            s(&md),
            "--html",
            s(&html),
            "--fail-below",
            "ACCEPTABLE",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("verdict WEAK is below ACCEPTABLE"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("mAP retention: 32.9%"), "{}", r.stdout);
    assert!(r.stdout.contains("AP@[.50:.95]"), "{}", r.stdout);
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("| AP@.50 | 0.8720 | 0.5898 |"), "{md}");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("Per-class AP"), "{html}");
    let r = detect(
        &dir,
        "ground_truth.json",
        "teacher.json",
        "student.json",
        &["--max-kl", "0.1"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--max-kl does not apply"), "{}", r.stderr);
}

#[test]
fn bad_detection_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let gt = json!({
        "images": [{"id": 1}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}],
        "categories": [{"id": 1, "name": "cat"}]
    });
    std::fs::write(dir.path().join("gt.json"), gt.to_string()).unwrap();
    let det = |image: i64, category: i64, w: f64| {
        json!([{"image_id": image, "category_id": category, "bbox": [0, 0, w, 10], "score": 0.9}])
            .to_string()
    };
    let put = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    put("ok.json", det(1, 1, 10.0));
    put("image.json", det(7, 1, 10.0));
    put("category.json", det(1, 9, 10.0));
    put("negative.json", det(1, 1, -3.0));
    put("broken.json", "[{\"image_id\": 1,".to_owned());
    let d = dir.path();
    assert_error(
        &detect(d, "gt.json", "ok.json", "image.json", &[]),
        &[
            "image.json",
            "image 7",
            "not among the ground truth's images",
            "hint:",
        ],
    );
    assert_error(
        &detect(d, "gt.json", "category.json", "ok.json", &[]),
        &["category.json", "category 9", "hint:"],
    );
    assert_error(
        &detect(d, "gt.json", "ok.json", "negative.json", &[]),
        &["negative.json", "width -3", "hint:"],
    );
    assert_error(
        &detect(d, "gt.json", "broken.json", "ok.json", &[]),
        &["broken.json", "COCO JSON", "hint:"],
    );
    assert_error(
        &detect(d, "missing.json", "ok.json", "ok.json", &[]),
        &["missing.json", "does not exist"],
    );
    assert_error(
        &score("detection", &["--ground-truth", s(&d.join("gt.json"))]),
        &["needs --teacher-detections, --student-detections", "hint:"],
    );
}
