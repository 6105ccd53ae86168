//! Snapshots of what users read: the demo's text, Markdown and JSON reports, `compare`'s table,
//! `score`'s reports (HTML included), the task families' reports and every command's `--help`.
//! A change to any of them shows up as a snapshot diff (`just snap` to review).
//!
//! Speeds, timings, versions and absolute paths are replaced by placeholders; JSON floats are
//! rounded to 9 significant digits so that the last bits of a forward pass on another CPU do
//! not count as a change.

use serde_json::Value;

use crate::common::{fixture, run, Run};

/// Placeholders for what changes from run to run or machine to machine.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        // Right-aligned speed columns: the padding before a speed, and before the column's
        // header, depends on how many digits the measured speeds have.
        (r" +[0-9][0-9,]*(\.[0-9]+)? ex/s", " [SPEED] ex/s"),
        (r"params +speed", "params  speed"),
        (r"[0-9]+(\.[0-9]+)?x its speed", "[RATIO]x its speed"),
        (
            r"distill-eval [0-9]+\.[0-9]+\.[0-9]+",
            "distill-eval [VERSION]",
        ),
    ]
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    for (pattern, replacement) in filters() {
        s.add_filter(pattern, replacement);
    }
    let root = regex_escape(&crate::common::root().display().to_string());
    s.add_filter(&root, "[ROOT]");
    s.set_prepend_module_to_snapshot(false);
    s
}

/// `text` with the characters a regex treats specially escaped.
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// Timings, versions and machine-dependent values replaced, floats rounded.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    "seconds" | "examples_per_second" | "tool_version" => {
                        *value = Value::String(format!("[{}]", key.to_uppercase()));
                    }
                    "path" => *value = Value::String("[PATH]".into()),
                    _ => normalize(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let rounded: f64 = format!("{x:.8e}").parse().unwrap_or(x);
            *v = serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number);
        }
        _ => {}
    }
}

fn ok(r: &Run) -> &str {
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    &r.stdout
}

fn json(r: &Run) -> Value {
    let mut v = r.json();
    normalize(&mut v);
    v
}

const DEMO: &[&str] = &["-q", "report"];

#[test]
fn demo_text() {
    let r = run(DEMO);
    settings().bind(|| insta::assert_snapshot!("demo_text", ok(&r)));
}

#[test]
fn demo_markdown() {
    let r = run(&["-q", "report", "--markdown", "-"]);
    settings().bind(|| insta::assert_snapshot!("demo_markdown", ok(&r)));
}

#[test]
fn demo_json() {
    let r = run(&["-q", "report", "--json", "-"]);
    ok(&r);
    settings().bind(|| insta::assert_json_snapshot!("demo_json", json(&r)));
}

#[test]
fn compare_table() {
    let r = run(&[
        "-q",
        "compare",
        "--teacher",
        "models/teacher_bert",
        "--student",
        "models/distilbert",
        "--student",
        "models/roberta",
        "--student",
        "models/bert_small",
        "--data",
        "models/data/test.jsonl",
        "--bootstrap",
        "0",
    ]);
    settings().bind(|| insta::assert_snapshot!("compare_text", ok(&r)));
}

fn score_args(extra: &[&'static str]) -> Vec<String> {
    let case = |f: &str| {
        fixture(&format!("score/multiclass/{f}"))
            .display()
            .to_string()
    };
    let mut args = vec![
        "-q".to_owned(),
        "score".into(),
        "--teacher-logits".into(),
        case("teacher.npy"),
        "--student-logits".into(),
        case("student.npy"),
        "--labels".into(),
        case("labels.npy"),
        "--bootstrap".into(),
        "200".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn run_owned(args: &[String]) -> Run {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

/// `score` output with the fixture folder's absolute path replaced.
fn score_output(extra: &[&'static str]) -> String {
    let r = run_owned(&score_args(extra));
    let root = fixture("score/multiclass").display().to_string();
    ok(&r).replace(&root, "[FIXTURE]")
}

#[test]
fn score_text() {
    let out = score_output(&["--calibrate"]);
    settings().bind(|| insta::assert_snapshot!("score_text", out));
}

#[test]
fn score_markdown() {
    let out = score_output(&["--markdown", "-"]);
    settings().bind(|| insta::assert_snapshot!("score_markdown", out));
}

#[test]
fn score_json() {
    let out = score_output(&["--json", "-", "--calibrate", "--min-retention", "0.5"]);
    let mut v: Value = serde_json::from_str(&out).unwrap();
    normalize(&mut v);
    settings().bind(|| insta::assert_json_snapshot!("score_json", v));
}

#[test]
fn score_html() {
    let out = score_output(&["--html", "-"]);
    settings().bind(|| insta::assert_snapshot!("score_html", out));
}

/// The reports of the task families on the shared conformance cases (paths relative to the
/// repository root, where the binary runs).
#[test]
fn task_family_reports() {
    let gen = "tests/fixtures/tasks/generation/generations.jsonl";
    let det = |f: &str| format!("tests/fixtures/tasks/detection/{f}");
    let (gt, t, st) = (
        det("ground_truth.json"),
        det("teacher.json"),
        det("student.json"),
    );
    let mut all = String::new();
    for args in [
        vec!["score", "--task", "generation", "--data", gen],
        vec![
            "score",
            "--task",
            "generation",
            "--data",
            gen,
            "--markdown",
            "-",
        ],
        vec![
            "score",
            "--task",
            "detection",
            "--ground-truth",
            &gt,
            "--teacher-detections",
            &t,
            "--student-detections",
            &st,
        ],
    ] {
        let r = run(&args);
        all.push_str(&format!("$ distill-eval {}\n{}\n", args.join(" "), ok(&r)));
    }
    settings().bind(|| insta::assert_snapshot!("task_reports", all));
}

#[test]
fn help_of_every_command() {
    let mut all = String::new();
    for command in [
        &[][..],
        &["report"],
        &["score"],
        &["compare"],
        &["track"],
        &["logits"],
        &["bench"],
    ] {
        let mut args: Vec<&str> = command.to_vec();
        args.push("--help");
        let r = run(&args);
        all.push_str(&format!("$ distill-eval {}\n{}\n", args.join(" "), ok(&r)));
    }
    settings().bind(|| insta::assert_snapshot!("help", all));
}

#[test]
fn error_messages_and_exit_codes() {
    let cases: &[&[&str]] = &[
        &[
            "score",
            "--teacher-logits",
            "missing.npy",
            "--student-logits",
            "missing.npy",
            "--labels",
            "missing.npy",
        ],
        &[
            "report",
            "--teacher",
            "models/teacher_bert",
            "--data",
            "models/data/test.jsonl",
        ],
        &[
            "report",
            "--teacher",
            "models/teacher_bert",
            "--student",
            "models/distilbert",
        ],
        &[
            "report",
            "--teacher",
            "models/teacher_bert",
            "--student",
            "models/nowhere",
            "--data",
            "models/data/test.jsonl",
        ],
        &[
            "report",
            "--teacher",
            "models/teacher_bert",
            "--student",
            "models/distilbert",
            "--data",
            "models/data/test.jsonl",
            "--temperature",
            "0",
        ],
        &[
            "report",
            "--teacher",
            "models/teacher_bert",
            "--student",
            "models/distilbert",
            "--data",
            "models/data/test.jsonl",
            "--max-kl",
            "nan",
        ],
        &[
            "report",
            "--teacher",
            "models/teacher_bert",
            "--student",
            "models/distilbert",
            "--data",
            "models/data/test.jsonl",
            "--fail-below",
            "EXCELLENT",
            "--excellent-kl",
            "0.01",
            "--bootstrap",
            "0",
        ],
        &[
            "compare",
            "--teacher",
            "models/teacher_bert",
            "--student",
            "models/zzz*",
            "--data",
            "models/data/test.jsonl",
        ],
        &[
            "track",
            "--teacher",
            "models/teacher_bert",
            "--checkpoints",
            "models/data",
            "--data",
            "models/data/test.jsonl",
        ],
        &["bench", "--model", "models/nowhere"],
    ];
    let mut all = String::new();
    for args in cases {
        let r = run(args);
        all.push_str(&format!(
            "$ distill-eval {}\nexit {}\n{}\n",
            args.join(" "),
            r.code,
            r.stderr
        ));
    }
    settings().bind(|| insta::assert_snapshot!("errors", all));
}
