//! The saved-output families (regression, ranking, generation, detection) beyond one `score`:
//! `--bootstrap` intervals in every format, and `compare` / `track` over several students'
//! saved outputs, end to end on the fixtures of `tests/fixtures/tasks/`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{assert_error, fixture, run, s};

/// Writes `rows` as JSON Lines.
fn write_jsonl(path: &Path, rows: &[Value]) {
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// The generation fixture with two more student fields: `copy` (the teacher's text) and
/// `worse` (the student's text with its last word dropped).
fn generation_rows(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("tasks/generation/generations.jsonl")).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["copy"] = v["teacher"].clone();
            let student = v["student"].as_str().unwrap().to_owned();
            let worse = match student.rsplit_once(' ') {
                Some((head, _)) => head.to_owned(),
                None => student.clone(),
            };
            v["worse"] = json!(worse);
            v
        })
        .collect();
    let path = dir.join("generations.jsonl");
    write_jsonl(&path, &rows);
    path
}

/// A ranking file of 40 queries of 6 documents: the student swaps the top two documents of
/// every third query; `copy` repeats the teacher's scores, `student-100` and `student-200`
/// are the student and the copy under step names.
fn ranking_rows(dir: &Path) -> PathBuf {
    let mut rows = Vec::new();
    for q in 0..40 {
        for d in 0..6 {
            let relevance = [3, 2, 0, 1, 0, 0][d];
            let teacher = 1.0 - 0.1 * d as f64;
            let student = if q % 3 == 0 && d < 2 {
                0.8 + 0.1 * d as f64
            } else {
                teacher
            };
            rows.push(json!({"query": format!("q{q}"), "relevance": relevance,
                "teacher": teacher, "student": student, "copy": teacher,
                "student-100": student, "student-200": teacher}));
        }
    }
    let path = dir.join("rows.jsonl");
    write_jsonl(&path, &rows);
    path
}

/// `score --task` arguments of each family, on the fixtures.
fn score_args(task: &str, dir: &Path) -> Vec<String> {
    let f = |rel: &str| fixture(rel).display().to_string();
    let own = |p: PathBuf| p.display().to_string();
    let args: Vec<String> = match task {
        "regression" => vec![
            "--teacher-logits".into(),
            f("tasks/regression/teacher.npy"),
            "--student-logits".into(),
            f("tasks/regression/student.npy"),
            "--labels".into(),
            f("tasks/regression/targets.npy"),
        ],
        "ranking" => vec!["--data".into(), own(ranking_rows(dir))],
        "generation" => vec!["--data".into(), own(generation_rows(dir))],
        "detection" => vec![
            "--ground-truth".into(),
            f("tasks/detection/ground_truth.json"),
            "--teacher-detections".into(),
            f("tasks/detection/teacher.json"),
            "--student-detections".into(),
            f("tasks/detection/student.json"),
        ],
        other => panic!("{other}"),
    };
    let mut all = vec!["score".to_owned(), "--task".to_owned(), task.to_owned()];
    all.extend(args);
    all
}

fn run_owned(args: &[String], more: &[&str]) -> crate::common::Run {
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend_from_slice(more);
    run(&all)
}

/// The retained figure of each family, as its JSON names it.
const FAMILIES: [(&str, &str, &str, &str); 4] = [
    ("regression", "r2", "r2_retention", "examples"),
    ("ranking", "ndcg@10", "ndcg@10_retention", "queries"),
    ("generation", "bleu", "bleu_retention", "segments"),
    ("detection", "map", "map_retention", "images"),
];

#[test]
fn bootstrap_intervals_of_every_family_follow_the_seed_and_contain_the_estimates() {
    let dir = tempfile::tempdir().unwrap();
    for (task, figure, retention, unit) in FAMILIES {
        let args = score_args(task, dir.path());
        let a = run_owned(&args, &["--bootstrap", "200", "--seed", "3", "--json", "-"]);
        assert_eq!(a.code, 0, "{task}: {}", a.stderr);
        let a = a.json();
        let b = &a["bootstrap"];
        assert_eq!(b["resamples"], 200, "{task}");
        assert_eq!(
            (b["unit"].as_str(), b["figure"].as_str()),
            (Some(unit), Some(figure))
        );
        let est = |v: &Value| v["estimate"].as_f64().unwrap();
        // The estimates are the report's own figures.
        for (interval, value) in [
            (&b["teacher"], &a["teacher"][figure]),
            (&b["student"], &a["student"][figure]),
            (&b["retention"], &a[retention]),
        ] {
            let (lo, hi) = (
                interval["lower"].as_f64().unwrap(),
                interval["upper"].as_f64().unwrap(),
            );
            assert!(
                (est(interval) - value.as_f64().unwrap()).abs() < 1e-9,
                "{task}: {interval}"
            );
            assert!(
                lo <= est(interval) && est(interval) <= hi,
                "{task}: {interval}"
            );
        }
        assert!(
            b["retention"]["lower"].as_f64() < b["retention"]["upper"].as_f64(),
            "{task}: {b}"
        );
        let again = run_owned(&args, &["--bootstrap", "200", "--seed", "3", "--json", "-"]).json();
        assert_eq!(again["bootstrap"], a["bootstrap"], "{task}");
        let other = run_owned(&args, &["--bootstrap", "200", "--seed", "4", "--json", "-"]).json();
        assert_ne!(
            other["bootstrap"]["retention"], a["bootstrap"]["retention"],
            "{task}"
        );
        // On by default (1000 resamples below 100,000 units), off with 0.
        let default = run_owned(&args, &["--json", "-"]).json();
        assert_eq!(default["bootstrap"]["resamples"], 1000, "{task}");
        let off = run_owned(&args, &["--bootstrap", "0", "--json", "-"]).json();
        assert!(off.get("bootstrap").is_none(), "{task}");
        // Every human format shows the intervals.
        let md = dir.path().join(format!("{task}.md"));
        let html = dir.path().join(format!("{task}.html"));
        let r = run_owned(
            &args,
            &[
                "--bootstrap",
                "100",
                "--markdown",
                s(&md),
                "--html",
                s(&html),
            ],
        );
        assert_eq!(r.code, 0, "{task}: {}", r.stderr);
        let heading = "95% bootstrap intervals (100 paired resamples of ";
        assert!(r.stdout.contains(heading), "{task}: {}", r.stdout);
        assert!(
            r.stdout.contains(&format!(" {unit}, seed 0)")),
            "{task}: {}",
            r.stdout
        );
        assert!(
            std::fs::read_to_string(&md).unwrap().contains(heading),
            "{task}"
        );
        let html = std::fs::read_to_string(&html).unwrap();
        assert!(
            html.contains("Is the difference real?") && html.contains(heading),
            "{task}"
        );
    }
}

#[test]
fn the_generation_bootstrap_adds_chrf_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let args = score_args("generation", dir.path());
    let v = run_owned(&args, &["--bootstrap", "100", "--json", "-"]).json();
    let chrf = &v["bootstrap"]["also"][0];
    assert_eq!(chrf["figure"], "chrf");
    let est = chrf["student"]["estimate"].as_f64().unwrap();
    assert!(
        (est - v["student"]["chrf"].as_f64().unwrap()).abs() < 1e-9,
        "{chrf}"
    );
}

#[test]
fn a_borderline_retention_is_flagged() {
    // The student swaps the top two documents of every fourth query (NDCG@10 there
    // (1 + 3 / log2 3) / (3 + 1 / log2 3) = 0.7967, else 1): retention 1 - 0.2033 / 4 = 0.9492,
    // an interval that straddles 0.95.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    let mut rows = Vec::new();
    for q in 0..40 {
        for d in 0..4 {
            let relevance = [3, 1, 0, 0][d];
            let teacher = 1.0 - 0.1 * d as f64;
            let student = if q % 4 == 0 && d < 2 {
                0.95 + 0.01 * d as f64
            } else {
                teacher
            };
            rows.push(
                json!({"query": q, "relevance": relevance, "teacher": teacher, "student": student}),
            );
        }
    }
    write_jsonl(&path, &rows);
    let base = [
        "score",
        "--task",
        "ranking",
        "--data",
        s(&path),
        "--bootstrap",
        "300",
    ];
    let mut json_args = base.to_vec();
    json_args.extend(["--json", "-"]);
    let v = run(&json_args).json();
    let r = &v["bootstrap"]["retention"];
    assert!(
        (r["estimate"].as_f64().unwrap() - 0.9492).abs() < 1e-4,
        "{r}"
    );
    let (lo, hi) = (r["lower"].as_f64().unwrap(), r["upper"].as_f64().unwrap());
    assert!(lo < 0.95 && 0.95 < hi, "{r}");
    let borderline = v["bootstrap"]["borderline"].as_array().unwrap();
    assert_eq!(borderline.len(), 1, "{borderline:?}");
    assert!(
        borderline[0].as_str().unwrap().contains("EXCELLENT"),
        "{borderline:?}"
    );
    let t = run(&base);
    assert!(
        t.stdout
            .contains("BORDERLINE: ndcg@10 retention 95% interval"),
        "{}",
        t.stdout
    );
}

/// `compare --task` arguments of each family with two students: the family's own student
/// and a copy of the teacher.
fn compare_args(task: &str, dir: &Path) -> Vec<String> {
    let f = |rel: &str| fixture(rel).display().to_string();
    let own = |p: PathBuf| p.display().to_string();
    let mut all = vec!["compare".to_owned(), "--task".to_owned(), task.to_owned()];
    all.extend(match task {
        "regression" => vec![
            "--teacher-logits".into(),
            f("tasks/regression/teacher.npy"),
            "--student-logits".into(),
            f("tasks/regression/student.npy"),
            "--student-logits".into(),
            f("tasks/regression/teacher.npy"),
            "--labels".into(),
            f("tasks/regression/targets.npy"),
        ],
        "ranking" => vec![
            "--data".into(),
            own(ranking_rows(dir)),
            "--student-field".into(),
            "student".into(),
            "--student-field".into(),
            "copy".into(),
        ],
        "generation" => vec![
            "--data".into(),
            own(generation_rows(dir)),
            "--student-field".into(),
            "student".into(),
            "--student-field".into(),
            "copy".into(),
        ],
        "detection" => vec![
            "--ground-truth".into(),
            f("tasks/detection/ground_truth.json"),
            "--teacher-detections".into(),
            f("tasks/detection/teacher.json"),
            "--student-detections".into(),
            f("tasks/detection/student.json"),
            "--student-detections".into(),
            f("tasks/detection/teacher.json"),
        ],
        other => panic!("{other}"),
    });
    all
}

#[test]
fn compare_ranks_saved_students_by_the_retained_figure() {
    let dir = tempfile::tempdir().unwrap();
    for (task, figure, retention, _) in FAMILIES {
        let args = compare_args(task, dir.path());
        let single = run_owned(
            &score_args(task, dir.path()),
            &["--bootstrap", "0", "--json", "-"],
        );
        let single = single.json();
        let r = run_owned(&args, &["--bootstrap", "0", "--json", "-"]);
        assert_eq!(r.code, 0, "{task}: {}", r.stderr);
        let v = r.json();
        let students = v["students"].as_array().unwrap();
        assert_eq!(students.len(), 2, "{task}: {v}");
        // The copy of the teacher retains everything and comes first; the student's figures
        // are those `score` gives it.
        assert!(
            (students[0][retention].as_f64().unwrap() - 1.0).abs() < 1e-9,
            "{task}: {v}"
        );
        let id = students[1]["id"].as_str().unwrap();
        assert!(
            id == "student" || id.ends_with("student.npy") || id.ends_with("student.json"),
            "{task}: {id}"
        );
        let want = single["student"][figure].as_f64().unwrap();
        assert!(
            (students[1][figure].as_f64().unwrap() - want).abs() < 1e-9,
            "{task}: {v}"
        );
        assert!(
            (v["teacher"][figure].as_f64().unwrap() - single["teacher"][figure].as_f64().unwrap())
                .abs()
                < 1e-9
        );
        // The same comparison in the human formats.
        let md = dir.path().join(format!("{task}-compare.md"));
        let html = dir.path().join(format!("{task}-compare.html"));
        let t = run_owned(
            &args,
            &["--bootstrap", "0", "--markdown", s(&md), "--html", s(&html)],
        );
        assert_eq!(t.code, 0, "{task}: {}", t.stderr);
        assert!(t.stdout.contains(id), "{task}: {}", t.stdout);
        assert!(std::fs::read_to_string(&md)
            .unwrap()
            .contains("## Student comparison"));
        let html = std::fs::read_to_string(&html).unwrap();
        assert!(
            html.contains(id) && !html.contains("<th>parameters</th>"),
            "{task}"
        );
        assert!(!t.stdout.contains("params"), "{task}: {}", t.stdout);
        // Every student must pass the gates: the student's retention is below 1.
        let gated = run_owned(&args, &["--bootstrap", "0", "--min-retention", "0.9999"]);
        assert_eq!(gated.code, 1, "{task}: {}", gated.stderr);
        assert!(gated.stderr.contains(id), "{task}: {}", gated.stderr);
    }
}

#[test]
fn track_follows_saved_students_by_the_step_in_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let rows = ranking_rows(dir.path());
    let r = run(&[
        "track",
        "--task",
        "ranking",
        "--data",
        s(&rows),
        "--student-field",
        "student-200",
        "--student-field",
        "student-100",
        "--bootstrap",
        "0",
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let points = v["points"].as_array().unwrap();
    let steps: Vec<u64> = points.iter().map(|p| p["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, [100, 200]);
    assert_eq!(v["best_step"], 200);
    assert_eq!(points[1]["ndcg@10_retention"].as_f64(), Some(1.0));
    assert!(points[0]["ndcg@10_retention"].as_f64().unwrap() < 1.0);
    // A name without a number has no step; two names of one step are ambiguous.
    let r = run(&[
        "track",
        "--task",
        "ranking",
        "--data",
        s(&rows),
        "--student-field",
        "copy",
    ]);
    assert_error(
        &r,
        &[
            "track --task ranking: cannot tell the training step of copy",
            "hint:",
        ],
    );
    let r = run(&[
        "track",
        "--task",
        "ranking",
        "--data",
        s(&rows),
        "--student-field",
        "student-100",
        "--student-field",
        "student-100",
    ]);
    assert_error(&r, &["both of step 100", "hint:"]);
}

#[test]
fn saved_compare_refuses_flags_of_other_families() {
    let dir = tempfile::tempdir().unwrap();
    let rows = ranking_rows(dir.path());
    let r = run(&["compare", "--task", "ranking", "--data", s(&rows)]);
    assert_error(
        &r,
        &["compare --task ranking needs --student-field", "hint:"],
    );
    let r = run(&[
        "compare",
        "--task",
        "ranking",
        "--data",
        s(&rows),
        "--student-field",
        "student",
        "--student",
        "models/distilbert",
    ]);
    assert_error(
        &r,
        &[
            "--student does not apply to compare --task ranking",
            "hint:",
        ],
    );
    let r = run(&[
        "compare",
        "--task",
        "ranking",
        "--data",
        s(&rows),
        "--student-field",
        "student",
        "--temperature",
        "2",
    ]);
    assert_error(&r, &["--temperature does not apply", "hint:"]);
    let r = run(&["compare", "--task", "classification", "--data", s(&rows)]);
    assert_error(&r, &["compare --task classification", "hint:"]);
    let r = run(&[
        "compare",
        "--teacher",
        "models/teacher_bert",
        "--student",
        "models/distilbert",
        "--data",
        "models/data/test.jsonl",
        "--student-field",
        "s",
    ]);
    assert_error(
        &r,
        &["--student-field reads saved outputs", "hint: add --task"],
    );
    // A student field missing from the records names the file and the field.
    let r = run(&[
        "compare",
        "--task",
        "ranking",
        "--data",
        s(&rows),
        "--student-field",
        "nope",
    ]);
    assert_error(&r, &["nope"]);
}
