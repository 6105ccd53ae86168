//! `compare`, `track` and the quality gates: exit codes 0 / 1 / 2 and what the JSON says.

use std::path::PathBuf;

use crate::common::{assert_error, cmd, copy_dir, model, root, run, run_with, s};

fn jsonl() -> PathBuf {
    root().join("models/data/test.jsonl")
}

fn score_args(extra: &[&str]) -> Vec<String> {
    let dir = root().join("tests/fixtures/score/binary");
    let mut v: Vec<String> = [
        "score",
        "--teacher-logits",
        s(&dir.join("teacher.npy")),
        "--student-logits",
        s(&dir.join("student.npy")),
        "--labels",
        s(&dir.join("labels.npy")),
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    v.extend(extra.iter().map(|a| (*a).to_owned()));
    v
}

fn run_owned(args: &[String]) -> crate::common::Run {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

#[test]
fn gates_exit_1_with_one_line_and_0_when_met() {
    // binary: retention 0.977, KL 0.040, student ECE ~0.03: EXCELLENT.
    let ok = run_owned(&score_args(&[
        "--fail-below",
        "EXCELLENT",
        "--min-retention",
        "0.95",
        "--max-kl",
        "0.05",
        "--max-ece",
        "0.2",
    ]));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    for (flag, value, needle) in [
        (
            "--min-retention",
            "0.99",
            "accuracy retention 0.9772 is below 0.99",
        ),
        ("--max-kl", "0.01", "KL divergence 0.0400 is above 0.01"),
        ("--max-ece", "0.001", "student ECE"),
    ] {
        let r = run_owned(&score_args(&[flag, value, "--json", "-"]));
        assert_eq!(r.code, 1, "{flag}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr.starts_with("distill-eval: quality gate failed: "),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains(needle), "{}", r.stderr);
        let v = r.json();
        assert_eq!(v["gate"]["passed"], false);
    }
    // Raised thresholds move the verdict, and --fail-below follows it.
    let r = run_owned(&score_args(&[
        "--excellent-kl",
        "0.01",
        "--fail-below",
        "EXCELLENT",
    ]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("verdict GOOD is below EXCELLENT"),
        "{}",
        r.stderr
    );
    // Errors stay 2, and a bad level is a usage error.
    let r = run(&[
        "score",
        "--teacher-logits",
        "nope.npy",
        "--student-logits",
        "nope.npy",
        "--labels",
        "nope.txt",
        "--fail-below",
        "GOOD",
    ]);
    assert_error(&r, &["nope.npy"]);
    let r = run_owned(&score_args(&["--fail-below", "PERFECT"]));
    assert_eq!(r.code, 2);
    // A gate or threshold that is not a finite number >= 0 is a usage error, never a gate that
    // silently passes (every comparison with NaN is false).
    for (flag, value) in [
        ("--max-kl", "nan"),
        ("--max-ece", "-0.1"),
        ("--min-retention", "inf"),
        ("--excellent-kl", "NaN"),
    ] {
        let r = run_owned(&score_args(&[flag, value]));
        assert_eq!(r.code, 2, "{flag} {value}: {}", r.stderr);
        assert!(
            r.stderr.contains(flag) && r.stderr.contains("finite number"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn github_step_summary_gets_the_markdown_report() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let mut c = cmd();
    c.env("GITHUB_STEP_SUMMARY", &summary);
    let args = score_args(&[]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_with(c, &refs);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("earlier step\n"), "appended, not replaced");
    assert!(text.contains("## Distillation report: EXCELLENT"), "{text}");
}

#[test]
fn compare_marks_the_pareto_frontier_and_runs_the_teacher_once() {
    let dir = tempfile::tempdir().unwrap();
    let students = dir.path().join("students");
    std::fs::create_dir(&students).unwrap();
    for name in ["bert_small", "roberta"] {
        copy_dir(&model(name), &students.join(name));
    }
    let pattern = format!("{}/*", students.display());
    let r = run(&[
        "compare",
        "--teacher",
        s(&model("teacher_bert")),
        "--student",
        s(&model("distilbert")),
        "--student",
        &pattern,
        "--data",
        s(&jsonl()),
        "--json",
        "-",
        "-v",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let st = v["students"].as_array().unwrap();
    assert_eq!(st.len(), 3);
    for key in [
        "id",
        "accuracy",
        "accuracy_retention",
        "kl_divergence",
        "agreement",
        "ece",
        "verdict",
        "parameters",
        "pareto_optimal",
        "examples_per_second",
    ] {
        assert!(
            st.iter().all(|x| x.get(key).is_some()),
            "students lack {key}"
        );
    }
    // roberta: the highest accuracy with the lowest KL dominates the other two.
    let optimal: Vec<bool> = st
        .iter()
        .map(|x| x["pareto_optimal"].as_bool().unwrap())
        .collect();
    assert_eq!(optimal, vec![false, false, true], "{st:?}");
    assert!(st[2]["id"].as_str().unwrap().ends_with("roberta"));
    assert_eq!(
        v["teacher"]["accuracy"].as_f64().map(|a| (a * 1e4).round()),
        Some(9404.0)
    );
    // One teacher pass: the teacher's "pass finished" appears once in the info log.
    let passes = r
        .stderr
        .lines()
        .filter(|l| l.contains("pass finished"))
        .count();
    assert_eq!(
        passes, 4,
        "one teacher pass and three student passes:\n{}",
        r.stderr
    );

    // A gate every student must pass: KL below 0.07 only holds for roberta.
    let r = run(&[
        "compare",
        "--teacher",
        s(&model("teacher_bert")),
        "--student",
        s(&model("distilbert")),
        "--student",
        s(&model("roberta")),
        "--data",
        s(&jsonl()),
        "--max-kl",
        "0.07",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("distilbert: KL divergence"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("roberta:"), "{}", r.stderr);
    assert!(r.stdout.contains("Pareto"), "{}", r.stdout);

    let r = run(&[
        "compare",
        "--teacher",
        s(&model("teacher_bert")),
        "--student",
        &format!("{}/nothing-*", students.display()),
        "--data",
        s(&jsonl()),
    ]);
    assert_error(&r, &["nothing-*"]);
}

#[test]
fn track_orders_checkpoints_by_step_and_flags_rising_kl() {
    let dir = tempfile::tempdir().unwrap();
    // Steps from the folder names, except one from trainer_state.json.
    copy_dir(&model("bert_small"), &dir.path().join("checkpoint-100"));
    copy_dir(&model("roberta"), &dir.path().join("checkpoint-20"));
    copy_dir(&model("distilbert"), &dir.path().join("last"));
    std::fs::write(
        dir.path().join("last/trainer_state.json"),
        r#"{"global_step": 300, "epoch": 3.0}"#,
    )
    .unwrap();
    let pattern = format!("{}/*", dir.path().display());
    let r = run(&[
        "track",
        "--teacher",
        s(&model("teacher_bert")),
        "--checkpoints",
        &pattern,
        "--data",
        s(&jsonl()),
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let steps: Vec<u64> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![20, 100, 300]);
    // roberta (20) -> bert_small (100): same accuracy, KL up 15%: flagged; -> distilbert (300):
    // accuracy down, KL up: flagged.
    let flagged: Vec<u64> = v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["step"].as_u64().unwrap())
        .collect();
    assert_eq!(flagged, vec![100, 300]);
    assert_eq!(v["best_step"], 20);

    // The gate judges the latest checkpoint.
    let r = run(&[
        "track",
        "--teacher",
        s(&model("teacher_bert")),
        "--checkpoints",
        &pattern,
        "--data",
        s(&jsonl()),
        "--min-retention",
        "0.96",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("step 300"), "{}", r.stderr);
    assert!(r.stdout.contains("FLAG:"), "{}", r.stdout);
}
