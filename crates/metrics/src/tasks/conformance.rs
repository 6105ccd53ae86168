//! Conformance of the task statistics with the reference libraries, on the committed fixtures
//! under `tests/fixtures/tasks/`: the shared cases (copied by `import_shared.py`) and the harder
//! seeded ones of `make_more_cases.py`.
//!
//! Each evaluation is serialised to JSON and compared key by key with the reference's
//! `expected.json`, so the field names are checked with the values: 1e-6 relative to
//! `max(1, |expected|)`, 1e-4 for BLEU and chrF (0-100 scales); `null` (NaN, pycocotools' -1,
//! an undefined retention) must match `null`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::detection::{evaluate_detection, CocoDetection, CocoGroundTruth};
use super::generation::evaluate_generation;
use super::ranking::{evaluate_ranking, RankingConfig, RankingRow};
use super::regression::{evaluate_regression, RegressionConfig};

fn fixtures(family: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/tasks")
        .join(family)
}

fn read(family: &str, file: &str) -> String {
    let path = fixtures(family).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(family: &str, file: &str) -> Value {
    serde_json::from_str(&read(family, file)).unwrap()
}

fn npy<T: npyz::Deserialize>(family: &str, file: &str) -> Vec<T> {
    let bytes = std::fs::read(fixtures(family).join(file)).unwrap();
    npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect()
}

/// Collects mismatches between our JSON and the reference's, and reports the first five.
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

    /// Every key of `expected` must be in `found`, with the same value.
    fn compare(&mut self, path: &str, found: &Value, expected: &Value, tol: f64) {
        self.compared += 1;
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
                let (e, f) = (e.as_f64().unwrap(), f.as_f64().unwrap());
                if (e - f).abs() > tol * e.abs().max(1.0) {
                    self.mismatches
                        .push(format!("{path}: {f} != {e} (tol {tol:e})"));
                }
            }
            (e, f) if e == f => {}
            (e, f) => self.mismatches.push(format!("{path}: {f} != {e}")),
        }
    }

    fn finish(self, what: &str) {
        assert!(self.compared > 0, "{what}: nothing compared");
        let n = self.mismatches.len();
        assert!(
            n == 0,
            "{what}: {n} mismatches, first five:\n{}",
            self.mismatches[..n.min(5)].join("\n")
        );
    }
}

/// Removes `key` from the expected object, to be checked separately.
fn take(expected: &mut Value, key: &str) -> Value {
    expected.as_object_mut().unwrap().remove(key).unwrap()
}

#[test]
fn shared_regression_case() {
    let [y, t, s] = ["targets.npy", "teacher.npy", "student.npy"].map(|f| {
        npy::<f32>("regression", f)
            .into_iter()
            .map(f64::from)
            .collect::<Vec<_>>()
    });
    let eval = evaluate_regression(&y, &t, &s, &RegressionConfig::default()).unwrap();
    let mut check = Checker::default();
    let found = serde_json::to_value(&eval).unwrap();
    check.compare("", &found, &json("regression", "expected.json"), 1e-6);
    check.finish("shared regression");
    assert_eq!(eval.disagreements.len(), 10);
}

#[test]
fn generated_regression_cases() {
    let cases = json("regression", "generated.json");
    let mut check = Checker::default();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let cfg = RegressionConfig {
            top_disagreements: case["top_disagreements"].as_u64().unwrap() as usize,
        };
        let [y, t, s] = ["targets", "teacher", "student"].map(|k| floats(&case[k]));
        let eval = evaluate_regression(&y, &t, &s, &cfg).unwrap();
        let mut expected = case["expected"].clone();
        let indices = take(&mut expected, "disagreements");
        let ours: Vec<Value> = eval.disagreements.iter().map(|d| d.index.into()).collect();
        check.compare(
            &format!("{name}.disagreements"),
            &Value::from(ours),
            &indices,
            0.0,
        );
        check.compare(name, &serde_json::to_value(&eval).unwrap(), &expected, 1e-6);
    }
    check.finish("generated regression");
}

fn rows_from_json(rows: &Value) -> Vec<(String, f64, f64, f64)> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let f = |k: &str| r[k].as_f64().unwrap();
            let query = r["query"].as_str().unwrap().to_owned();
            (query, f("relevance"), f("teacher"), f("student"))
        })
        .collect()
}

fn ranking_rows(rows: &[(String, f64, f64, f64)]) -> Vec<RankingRow<'_>> {
    rows.iter()
        .map(|(query, relevance, teacher, student)| RankingRow {
            query,
            relevance: *relevance,
            teacher: *teacher,
            student: *student,
        })
        .collect()
}

#[test]
fn shared_ranking_case() {
    let query: Vec<i32> = npy("ranking", "query.npy");
    let relevance: Vec<u8> = npy("ranking", "relevance.npy");
    let [t, s] = ["teacher.npy", "student.npy"].map(|f| npy::<f32>("ranking", f));
    let rows: Vec<(String, f64, f64, f64)> = (0..query.len())
        .map(|i| {
            let q = format!("q{}", query[i]);
            (q, f64::from(relevance[i]), f64::from(t[i]), f64::from(s[i]))
        })
        .collect();
    let eval = evaluate_ranking(&ranking_rows(&rows), &RankingConfig::default()).unwrap();
    let mut check = Checker::default();
    let found = serde_json::to_value(&eval).unwrap();
    check.compare("", &found, &json("ranking", "expected.json"), 1e-6);
    check.finish("shared ranking");
    assert_eq!((eval.queries, eval.queries_without_relevant), (200, 0));
}

#[test]
fn generated_ranking_cases() {
    let cases = json("ranking", "generated.json");
    let mut check = Checker::default();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let cutoffs = case["cutoffs"].as_array().unwrap();
        let cfg = RankingConfig {
            cutoffs: cutoffs
                .iter()
                .map(|k| k.as_u64().unwrap() as usize)
                .collect(),
        };
        let rows = rows_from_json(&case["rows"]);
        let eval = evaluate_ranking(&ranking_rows(&rows), &cfg).unwrap();
        let mut expected = case["expected"].clone();
        let taus = take(&mut expected, "per_query_kendall");
        let ours: Vec<f64> = eval.per_query.iter().map(|q| q.kendall_tau).collect();
        let ours = serde_json::to_value(ours).unwrap();
        check.compare(&format!("{name}.per_query_kendall"), &ours, &taus, 1e-6);
        check.compare(name, &serde_json::to_value(&eval).unwrap(), &expected, 1e-6);
    }
    check.finish("generated ranking");
}

fn generation_check(
    check: &mut Checker,
    name: &str,
    refs: &[String],
    t: &[String],
    s: &[String],
    expected: &Value,
) {
    let eval = evaluate_generation(refs, t, s).unwrap();
    check.compare(name, &serde_json::to_value(&eval).unwrap(), expected, 1e-6);
}

#[test]
fn shared_generation_case() {
    let rows: Vec<Value> = read("generation", "generations.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let col = |k: &str| -> Vec<String> {
        rows.iter()
            .map(|r| r[k].as_str().unwrap().to_owned())
            .collect()
    };
    let (refs, t, s) = (col("reference"), col("teacher"), col("student"));
    let mut check = Checker::default();
    let expected = json("generation", "expected.json");
    generation_check(&mut check, "shared", &refs, &t, &s, &expected);
    check.finish("shared generation");
}

#[test]
fn generated_generation_cases() {
    let cases = json("generation", "generated.json");
    let mut check = Checker::default();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let [refs, t, s] = ["references", "teacher", "student"].map(|k| strings(&case[k]));
        generation_check(&mut check, name, &refs, &t, &s, &case["expected"]);
    }
    check.finish("generated generation");
}

fn detection_check(
    check: &mut Checker,
    name: &str,
    gt: &CocoGroundTruth,
    t: &[CocoDetection],
    s: &[CocoDetection],
    expected: &Value,
) {
    let eval = evaluate_detection(gt, t, s).unwrap();
    let mut expected = expected.clone();
    for (side, ours) in [("teacher", &eval.teacher), ("student", &eval.student)] {
        if let Some(per_class) = expected[side]
            .as_object_mut()
            .unwrap()
            .remove("per_class_ap")
        {
            let aps: Vec<Option<f64>> = ours.per_class.iter().map(|c| c.ap).collect();
            let path = format!("{name}.{side}.per_class_ap");
            check.compare(&path, &serde_json::to_value(aps).unwrap(), &per_class, 1e-6);
        }
    }
    check.compare(name, &serde_json::to_value(&eval).unwrap(), &expected, 1e-6);
}

#[test]
fn shared_detection_case() {
    let gt = CocoGroundTruth::from_json(&read("detection", "ground_truth.json")).unwrap();
    let side =
        |f: &str| -> Vec<CocoDetection> { serde_json::from_str(&read("detection", f)).unwrap() };
    let (t, s) = (side("teacher.json"), side("student.json"));
    let mut check = Checker::default();
    let expected = json("detection", "expected.json");
    detection_check(&mut check, "shared", &gt, &t, &s, &expected);
    check.finish("shared detection");
}

#[test]
fn generated_detection_cases() {
    let cases = json("detection", "generated.json");
    let mut check = Checker::default();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let gt: CocoGroundTruth = serde_json::from_value(case["ground_truth"].clone()).unwrap();
        let side =
            |k: &str| -> Vec<CocoDetection> { serde_json::from_value(case[k].clone()).unwrap() };
        let (t, s) = (side("teacher"), side("student"));
        detection_check(&mut check, name, &gt, &t, &s, &case["expected"]);
    }
    check.finish("generated detection");
}
