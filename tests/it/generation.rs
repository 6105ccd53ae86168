//! `distill-eval report --task generation` end to end: the bundled Llama teacher and Qwen2
//! student continue the prompts of `tests/fixtures/generation/prompts.jsonl`; their token ids
//! and texts must be transformers' greedy ones and the figures those sacrebleu and
//! rouge-score give on transformers' texts (`report.json`, made by
//! `tests/fixtures/generation/make_generation_refs.py`); bad input exits 2 with a hint.

use std::path::Path;

use serde_json::Value;

use crate::common::{assert_error, close, fixture, model, run, s};

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn teacher() -> String {
    s(&model("llm/teacher_llama")).to_owned()
}

fn student() -> String {
    s(&model("llm/qwen2")).to_owned()
}

/// `report --task generation` over `data` with `extra` flags.
fn generation(data: &Path, extra: &[&str]) -> crate::common::Run {
    let (t, st) = (teacher(), student());
    let mut args = vec![
        "report",
        "--task",
        "generation",
        "--teacher",
        &t,
        "--student",
        &st,
        "--data",
        s(data),
        "--device",
        "cpu",
        "-q",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn generations_and_figures_match_transformers_and_sacrebleu() {
    let want = read_json(&fixture("generation/report.json"));
    let r = generation(
        &fixture("generation/prompts.jsonl"),
        &["--max-new-tokens", "24", "--batch-size", "4", "--json", "-"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    assert_eq!(got["task"], "generation");
    let rows = got["generated"]["rows"].as_array().unwrap();
    let want_rows = want["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    for (i, (g, w)) in rows.iter().zip(want_rows).enumerate() {
        for key in ["teacher_ids", "student_ids", "teacher", "student"] {
            assert_eq!(g[key], w[key], "row {i} {key}");
        }
        assert_eq!(g["line"], i + 1);
    }
    assert_eq!(got["generated"]["max_new_tokens"], 24);
    assert_eq!(
        got["generated"]["teacher_eos_token_ids"],
        serde_json::json!([2])
    );
    for side in ["teacher", "student"] {
        for key in ["bleu", "chrf", "rouge1", "rouge2", "rougeL"] {
            let (g, w) = (
                got[side][key].as_f64().unwrap(),
                want[side][key].as_f64().unwrap(),
            );
            assert!(close(g, w, 1e-6, 1e-4), "{side}.{key}: {g} != {w}");
        }
    }
    let (g, w) = (
        got["teacher_student_bleu"].as_f64().unwrap(),
        want["teacher_student_bleu"].as_f64().unwrap(),
    );
    assert!(close(g, w, 1e-6, 1e-4), "teacher_student_bleu: {g} != {w}");
    let retention =
        want["student"]["bleu"].as_f64().unwrap() / want["teacher"]["bleu"].as_f64().unwrap();
    assert!(close(
        got["bleu_retention"].as_f64().unwrap(),
        retention,
        1e-6,
        1e-6
    ));
    // What was run is recorded, with its generation speed.
    assert_eq!(got["teacher_model"]["architecture"], "LlamaForCausalLM");
    assert_eq!(got["student_model"]["architecture"], "Qwen2ForCausalLM");
    assert!(got["student_model"]["tokens_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn every_format_renders_and_limit_and_fields_apply() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rows.jsonl");
    std::fs::write(
        &data,
        "{\"q\": \"The acting was\", \"gold\": \"The acting was great.\"}\n\
         {\"q\": \"The cast\", \"gold\": \"The cast was weak.\"}\n\
         {\"q\": \"The plot\", \"gold\": \"The plot was dull.\"}\n",
    )
    .unwrap();
    let (md, html, json) = (
        dir.path().join("r.md"),
        dir.path().join("r.html"),
        dir.path().join("r.json"),
    );
    let r = generation(
        &data,
        &[
            "--prompt-field",
            "q",
            "--reference-field",
            "gold",
            "--max-new-tokens",
            "5",
            "--limit",
            "2",
            "--markdown",
            s(&md),
            "--html",
            s(&html),
            "--json",
            s(&json),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("BLEU"), "{}", r.stdout);
    assert!(
        r.stdout.contains("LlamaForCausalLM · ") && r.stdout.contains("tok/s generated"),
        "the header names the generating models:\n{}",
        r.stdout
    );
    let got = read_json(&json);
    assert_eq!(got["rows"], 2);
    let rows = got["generated"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["teacher_ids"].as_array().unwrap().len(), 5);
        assert_eq!(row["teacher_stopped_at_eos"], false);
    }
    assert_eq!(rows[1]["prompt"], "The cast");
    assert_eq!(rows[1]["reference"], "The cast was weak.");
    assert!(std::fs::read_to_string(&md).unwrap().contains("BLEU"));
    assert!(std::fs::read_to_string(&html).unwrap().contains("BLEU"));
}

#[test]
fn bootstrap_intervals_of_generated_texts_follow_the_seed() {
    let prompts = fixture("generation/prompts.jsonl");
    let flags = |seed: &'static str| {
        [
            "--max-new-tokens",
            "8",
            "--bootstrap",
            "100",
            "--seed",
            seed,
            "--json",
            "-",
        ]
    };
    let r = generation(&prompts, &flags("1"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = r.json();
    let b = &a["bootstrap"];
    assert_eq!(b["resamples"], 100, "{b}");
    assert_eq!(b["units"], 6, "{b}");
    let bleu = a["student"]["bleu"].as_f64().unwrap();
    let interval = &b["student"];
    assert!(
        (interval["estimate"].as_f64().unwrap() - bleu).abs() < 1e-9,
        "{interval}"
    );
    assert!(interval["lower"].as_f64().unwrap() <= bleu, "{interval}");
    assert!(bleu <= interval["upper"].as_f64().unwrap(), "{interval}");
    let again = generation(&prompts, &flags("1")).json();
    assert_eq!(again["bootstrap"], a["bootstrap"]);
    let other = generation(&prompts, &flags("2")).json();
    assert_ne!(other["bootstrap"]["student"], a["bootstrap"]["student"]);
}

#[test]
fn bad_input_exits_2_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let no_prompt = write(
        "no_prompt.jsonl",
        "{\"text\": \"x\", \"reference\": \"y\"}\n",
    );
    let r = generation(&no_prompt, &[]);
    assert_error(
        &r,
        &[
            "no_prompt.jsonl",
            "line 1",
            "\"prompt\"",
            "--prompt-field",
            "hint:",
        ],
    );

    let empty = write(
        "empty.jsonl",
        "{\"prompt\": \"The cast\", \"reference\": \"y\"}\n{\"prompt\": \"  \", \"reference\": \"y\"}\n",
    );
    assert_error(
        &generation(&empty, &[]),
        &["empty.jsonl", "line 2", "prompt", "is empty", "hint:"],
    );

    let no_ref = write("no_ref.jsonl", "{\"prompt\": \"The cast\"}\n");
    assert_error(
        &generation(&no_ref, &[]),
        &["no_ref.jsonl", "\"reference\"", "--reference-field"],
    );

    let prompts = fixture("generation/prompts.jsonl");
    // A classification checkpoint on either side.
    let bert = s(&model("teacher_bert")).to_owned();
    let st = student();
    let r = run(&[
        "report",
        "--task",
        "generation",
        "--teacher",
        &bert,
        "--student",
        &st,
        "--data",
        s(&prompts),
        "--device",
        "cpu",
        "-q",
    ]);
    assert_error(&r, &["not a causal language model", "hint:"]);
    let t = teacher();
    let r = run(&[
        "report",
        "--task",
        "generation",
        "--teacher",
        &t,
        "--student",
        &bert,
        "--data",
        s(&prompts),
        "--device",
        "cpu",
        "-q",
        "--max-new-tokens",
        "2",
    ]);
    assert_error(&r, &["not a causal language model", "hint:"]);

    // Flags of another family, or generation flags without the family.
    assert_error(
        &generation(&prompts, &["--choices", s(&prompts)]),
        &[
            "--choices does not apply to report --task generation",
            "hint:",
        ],
    );
    let r = run(&[
        "report",
        "--teacher",
        &t,
        "--student",
        &st,
        "--data",
        s(&prompts),
        "--max-new-tokens",
        "3",
    ]);
    assert_error(
        &r,
        &[
            "--max-new-tokens applies to report --task generation only",
            "hint:",
        ],
    );
    assert_error(
        &generation(&prompts, &["--max-new-tokens", "0"]),
        &["--max-new-tokens", "from 1 to 4096"],
    );
    let r = run(&[
        "report",
        "--task",
        "detection",
        "--teacher",
        &t,
        "--student",
        &st,
        "--data",
        s(&prompts),
    ]);
    assert_error(&r, &["report --task detection is not available", "hint:"]);
}
