//! The HTML reports: self-contained, every section present, texts escaped.

use crate::common::{copy_dir, model, root, run, s};

/// No script, no external resource: the file stands alone.
fn assert_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(!html.contains("<script"), "no script may appear");
    for external in ["http://", "https://", "src=", "<link"] {
        let hits: Vec<&str> = html
            .match_indices(external)
            .map(|(i, _)| &html[i.saturating_sub(40)..(i + 40).min(html.len())])
            .filter(|ctx| !ctx.contains("www.w3.org/2000/svg"))
            .collect();
        assert!(hits.is_empty(), "external reference {external}: {hits:?}");
    }
}

#[test]
fn report_html_has_every_section_and_escapes_texts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tricky.jsonl");
    let mut rows = String::new();
    for (text, label) in [
        ("<script>alert('boom')</script> the plot was dull", "pos"),
        ("The acting looked rather tedious to me", "neg"),
        ("The script is quite standard despite the hype!", "neu"),
        (
            "A \"quoted\" & <b>bold</b> review, really delightful",
            "neg",
        ),
        ("", "neu"),
    ] {
        rows.push_str(&serde_json::json!({ "text": text, "label": label }).to_string());
        rows.push('\n');
    }
    std::fs::write(&data, rows).unwrap();
    let out = dir.path().join("report.html");
    let r = run(&[
        "report",
        "--teacher",
        s(&model("teacher_bert")),
        "--student",
        s(&model("distilbert")),
        "--data",
        s(&data),
        "--html",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    assert_self_contained(&html);
    for section in [
        "class=\"badge",
        "accuracy retention",
        "<h2>Models</h2>",
        "<h2>Calibration</h2>",
        "Teacher reliability",
        "Student reliability",
        "Confidence (largest probability)",
        "<h2>Accuracy</h2>",
        "<h3>Per class</h3>",
        "Teacher confusion",
        "Student confusion",
        "<h2>Divergence from the teacher</h2>",
        "Per-example KL",
        "<h2>Where the student diverges</h2>",
        "Largest KL",
        "Only the student is wrong",
        "<h2>Error analysis</h2>",
        "McNemar",
        "#2563eb",
        "#f97316",
    ] {
        assert!(html.contains(section), "missing {section}");
    }
    assert!(html.contains("&lt;script&gt;alert(&#39;boom&#39;)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;") && !html.contains("<b>bold</b>"));
    assert!(html.contains("(empty)"));
    assert!(html.matches("<svg").count() >= 6);
}

#[test]
fn score_compare_and_track_write_html() {
    let dir = tempfile::tempdir().unwrap();
    let fx = root().join("tests/fixtures/score/multiclass");
    let out = dir.path().join("score.html");
    let r = run(&[
        "score",
        "--teacher-logits",
        s(&fx.join("teacher.npy")),
        "--student-logits",
        s(&fx.join("student.npy")),
        "--labels",
        s(&fx.join("labels.npy")),
        "--html",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("(row only)") && html.contains("Student confusion"));

    let data = root().join("models/data/test.jsonl");
    let r = run(&[
        "compare",
        "--teacher",
        s(&model("teacher_bert")),
        "--student",
        s(&model("distilbert")),
        "--student",
        s(&model("roberta")),
        "--data",
        s(&data),
        "--html",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_self_contained(&r.stdout);
    assert!(r.stdout.contains("Accuracy against KL") && r.stdout.contains("<circle"));
    assert!(
        r.stdout.contains("★"),
        "the Pareto-optimal student is marked"
    );

    let ck = dir.path().join("run");
    for (step, name) in [(10, "bert_small"), (20, "roberta")] {
        copy_dir(&model(name), &ck.join(format!("checkpoint-{step}")));
    }
    let pattern = format!("{}/checkpoint-*", ck.display());
    let r = run(&[
        "track",
        "--teacher",
        s(&model("teacher_bert")),
        "--checkpoints",
        &pattern,
        "--data",
        s(&data),
        "--html",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_self_contained(&r.stdout);
    assert!(r.stdout.contains("<polyline") && r.stdout.contains("by training step"));
}
