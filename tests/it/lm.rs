//! Causal-LM students end to end: `report`, `compare`, `track` and `logits` on the bundled tiny
//! LMs (`models/llm`), against the conformance figures transformers computed
//! (`tests/fixtures/llm/conformance/llm_*.json`), and their bad input.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{assert_error, close, copy_dir, fixture, model, run, s};

fn llm(rel: &str) -> PathBuf {
    model("llm").join(rel)
}

fn report(student: &str, extra: &[&str]) -> crate::common::Run {
    let (t, st, data) = (llm("teacher_llama"), llm(student), llm("data/texts.jsonl"));
    let mut args = vec![
        "report",
        "--teacher",
        s(&t),
        "--student",
        s(&st),
        "--data",
        s(&data),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn expected(student: &str) -> Value {
    let path = fixture(&format!("llm/conformance/llm_{student}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn f(v: &Value, path: &[&str]) -> f64 {
    let mut at = v;
    for p in path {
        at = &at[*p];
    }
    at.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number: {at}"))
}

#[test]
fn every_figure_matches_the_conformance_references() {
    let choices = llm("data/choices.jsonl");
    for student in ["llama_small", "qwen2"] {
        let r = report(student, &["--choices", s(&choices), "--json", "-"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let got = r.json();
        let want = expected(student);
        assert_eq!(got["task"], "causal-lm");
        assert_eq!(got["tokens"], want["tokens"], "{student}");
        assert_eq!(got["documents"], 122);
        // The one-character document still has one token to predict; none is skipped.
        assert_eq!(got["skipped_documents"], 0);
        // float32 logits agree with transformers' to 1e-4, so the figures to a few 1e-5.
        let kl = f(&got, &["kl_divergence"]);
        assert!(
            close(kl, f(&want, &["token_kl"]), 1e-3, 1e-6),
            "{student} KL {kl}"
        );
        for p in ["p50", "p90", "p99"] {
            let (a, e) = (
                f(&got, &["kl_percentiles", p]),
                f(&want, &["token_kl_percentiles", p]),
            );
            assert!(close(a, e, 1e-3, 1e-6), "{student} {p}: {a} vs {e}");
        }
        let n = f(&want, &["tokens"]);
        for (ours, theirs) in [
            ("top1_agreement", "top1_agreement"),
            ("topk_overlap", "top5_overlap"),
        ] {
            let (a, e) = (f(&got, &[ours]), f(&want, &[theirs]));
            // At most one near-tie decided the other way.
            assert!(
                (a - e).abs() <= 1.0 / n + 1e-9,
                "{student} {ours}: {a} vs {e}"
            );
        }
        for side in ["teacher", "student"] {
            let (a, e) = (
                f(&got, &[side, "perplexity"]),
                f(&want, &[&format!("{side}_perplexity")]),
            );
            assert!(close(a, e, 1e-5, 0.0), "{student} {side} PPL {a} vs {e}");
        }
        let mc = &got["multiple_choice"];
        assert_eq!(mc["questions"], 60);
        for side in ["teacher", "student"] {
            assert_eq!(
                f(mc, &[&format!("{side}_accuracy")]),
                f(&want, &[&format!("{side}_choice_accuracy")]),
                "{student} {side}"
            );
        }
        // Internal consistency of the derived figures.
        let ratio = f(&got, &["perplexity_ratio"]);
        let (tp, sp) = (
            f(&got, &["teacher", "perplexity"]),
            f(&got, &["student", "perplexity"]),
        );
        assert!(close(ratio, sp / tp, 1e-9, 0.0));
        assert!(close(
            f(&got, &["ln_perplexity_ratio"]),
            ratio.ln(),
            1e-9,
            1e-12
        ));
        assert!(f(&got, &["reverse_kl"]) >= 0.0);
        let js = f(&got, &["jensen_shannon"]);
        // JS <= (KL(p||q) + KL(q||p)) / 4 token by token (convexity), hence in the mean.
        let rkl = f(&got, &["reverse_kl"]);
        assert!((0.0..=std::f64::consts::LN_2).contains(&js));
        assert!(js <= (kl + rkl) / 4.0 + 1e-12, "{js} {kl} {rkl}");
        assert!(f(&got, &["kl_percentiles", "min"]) <= f(&got, &["kl_percentiles", "p0_1"]));
        assert!(f(&got, &["kl_percentiles", "p99_9"]) <= f(&got, &["kl_percentiles", "max"]));
        assert!(f(&got, &["delta_p", "rms"]) >= f(&got, &["delta_p", "mean"]).abs());
        let b = &got["bootstrap"]["kl_divergence"];
        assert!(f(b, &["lower"]) <= kl && kl <= f(b, &["upper"]));
        let flips = &mc["flips"];
        assert_eq!(
            f(flips, &["total"]),
            f(flips, &["correct_to_wrong"]) + f(flips, &["wrong_to_correct"])
        );
        assert!(got["verdict"].is_string());
        assert!(f(&got, &["tokens_per_second", "student"]) > 0.0);
        assert!(got["student_model"]["architecture"].as_str().is_some());
        assert!(got["divergent_documents"].as_array().unwrap().len() <= 5);
    }
}

#[test]
fn windows_score_every_token_once_and_bad_windows_exit_2() {
    let whole = report("llama_small", &["--json", "-"]).json();
    let windowed = report(
        "llama_small",
        &["--context", "8", "--stride", "3", "--json", "-"],
    );
    assert_eq!(windowed.code, 0, "{}", windowed.stderr);
    let windowed = windowed.json();
    assert_eq!(windowed["tokens"], whole["tokens"]);
    assert_eq!(
        (windowed["context"].as_u64(), windowed["stride"].as_u64()),
        (Some(8), Some(3))
    );
    assert_eq!(whole["context"], 128);
    assert_eq!(whole["stride"], 64);
    // Less context per token: the teacher's perplexity can only get worse on this text.
    assert!(f(&windowed, &["teacher", "perplexity"]) > f(&whole, &["teacher", "perplexity"]));

    let r = report("llama_small", &["--context", "500"]);
    assert_error(
        &r,
        &["--context 500 is out of range", "maximum positions (128)"],
    );
    let r = report("llama_small", &["--context", "16", "--stride", "16"]);
    assert_error(&r, &["--stride 16 is not below --context 16"]);
}

#[test]
fn every_format_shows_the_lm_report() {
    let dir = tempfile::tempdir().unwrap();
    let (md, html) = (dir.path().join("r.md"), dir.path().join("r.html"));
    let choices = llm("data/choices.jsonl");
    let r = report(
        "qwen2",
        &[
            "--choices",
            s(&choices),
            "--markdown",
            s(&md),
            "--html",
            s(&html),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "CAUSAL-LM STUDENT vs. TEACHER REPORT",
        "KL(teacher ‖ student)",
        "top-5 overlap",
        "PPL(student) / PPL(teacher)",
        "MULTIPLE CHOICE",
        "McNemar",
        "tok/s",
        "99.9%",
        "VERDICT",
    ] {
        assert!(
            r.stdout.contains(needle),
            "terminal lacks {needle:?}:\n{}",
            r.stdout
        );
    }
    let md = std::fs::read_to_string(&md).unwrap();
    for needle in [
        "# Causal-LM student vs. teacher",
        "## Multiple choice",
        "| 99.9% |",
        "**Verdict: ",
    ] {
        assert!(md.contains(needle), "markdown lacks {needle:?}:\n{md}");
    }
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("<h2>Where the student diverges most</h2>"));
    // Tokens shaded by KL, with both models' top tokens on hover, no script.
    assert!(
        html.contains("<span class=\"tok\" style=\"background:rgba("),
        "{html}"
    );
    assert!(html.contains("title=\"KL "));
    assert!(html.contains("teacher: &quot;"));
    assert!(!html.contains("<script"));
    assert!(html.contains("<svg"));
}

#[test]
fn compare_runs_the_teacher_once_against_every_student() {
    let (t, a, b, data) = (
        llm("teacher_llama"),
        llm("llama_small"),
        llm("qwen2"),
        llm("data/texts.jsonl"),
    );
    let r = run(&[
        "compare",
        "--teacher",
        s(&t),
        "--student",
        s(&a),
        "--student",
        s(&b),
        "--data",
        s(&data),
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    let students = j["students"].as_array().unwrap();
    assert_eq!(students.len(), 2);
    // The same figures as each pair's own report.
    let alone = report("qwen2", &["--json", "-"]).json();
    let kl = students[1]["kl_divergence"].as_f64().unwrap();
    assert!(close(kl, f(&alone, &["kl_divergence"]), 1e-12, 0.0), "{kl}");
    let r = run(&[
        "compare",
        "--teacher",
        s(&t),
        "--student",
        s(&a),
        "--student",
        s(&b),
        "--data",
        s(&data),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("token KL"), "{}", r.stdout);
}

#[test]
fn track_follows_lm_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&llm("qwen2"), &dir.path().join("checkpoint-100"));
    copy_dir(&llm("llama_small"), &dir.path().join("checkpoint-200"));
    let pattern = format!("{}/checkpoint-*", dir.path().display());
    let (t, data) = (llm("teacher_llama"), llm("data/texts.jsonl"));
    let r = run(&[
        "track",
        "--teacher",
        s(&t),
        "--checkpoints",
        &pattern,
        "--data",
        s(&data),
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    let points = j["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["step"], 100);
}

fn read_npy(path: &Path) -> candle::Tensor {
    distill_eval_runner::input::saved::read_logits(s(path), &candle::Device::Cpu).unwrap()
}

#[test]
fn logits_writes_every_position_as_transformers_does() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.npy");
    let (m, data) = (llm("teacher_llama"), llm("data/texts.jsonl"));
    let r = run(&[
        "logits",
        "--model",
        s(&m),
        "--data",
        s(&data),
        "--limit",
        "3",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("float32 logits, every position"),
        "{}",
        r.stderr
    );
    let got = read_npy(&out);
    let want = read_npy(&fixture("llm/conformance/teacher_llama.first3.npy"));
    assert_eq!(got.dims(), want.dims());
    let diff = (got - want)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-4, "max |diff| {diff}");
}

#[test]
fn a_text_file_is_one_document() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("story.txt");
    std::fs::write(
        &txt,
        "The plot was great. i would watch it again.\nThe cast was dull. i would not recommend it.\n",
    )
    .unwrap();
    let (t, st) = (llm("teacher_llama"), llm("llama_small"));
    let r = run(&[
        "report",
        "--teacher",
        s(&t),
        "--student",
        s(&st),
        "--data",
        s(&txt),
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["documents"], 1);
    assert!(j["tokens"].as_u64().unwrap() > 20);
    // A classifier cannot read plain text.
    let (bt, bs) = (model("teacher_bert"), model("bert_small"));
    let r = run(&[
        "report",
        "--teacher",
        s(&bt),
        "--student",
        s(&bs),
        "--data",
        s(&txt),
    ]);
    assert_error(&r, &["story.txt is plain text", "causal LMs only"]);
}

#[test]
fn gates_apply_to_lm_reports() {
    let r = report("llama_small", &["--max-perplexity-ratio", "0.5"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("perplexity ratio"), "{}", r.stderr);
    let r = report(
        "llama_small",
        &["--max-kl", "10", "--max-perplexity-ratio", "2"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = report("llama_small", &["--max-ece", "0.1"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--max-ece does not apply"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_lm_input_exits_2_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let (t, st, data) = (
        llm("teacher_llama"),
        llm("llama_small"),
        llm("data/texts.jsonl"),
    );
    let base = |student: &Path, data: &Path, extra: &[&str]| {
        let mut args = vec![
            "report",
            "--teacher",
            s(&t),
            "--student",
            s(student),
            "--data",
            s(data),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    // Another vocabulary.
    let other = fixture("llm/llama");
    assert_error(
        &base(&other, &data, &[]),
        &["different vocabularies", "token id"],
    );
    // A classifier mixed with an LM.
    let bert = model("bert_small");
    assert_error(
        &base(&bert, &data, &[]),
        &["is a causal LM", "is a classifier"],
    );
    // Documents with no token to predict.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "{\"text\": \"\"}\n{\"text\": \"\"}\n").unwrap();
    assert_error(
        &base(&st, &empty, &[]),
        &["none of its 2 documents has a token to predict"],
    );
    // Malformed choices.
    let bad = dir.path().join("mc.jsonl");
    std::fs::write(
        &bad,
        "{\"question\": \"q\", \"choices\": [\" a\", \" b\"], \"answer\": 5}\n",
    )
    .unwrap();
    assert_error(
        &base(&st, &data, &["--choices", s(&bad)]),
        &["mc.jsonl: line 1: answer 5 is out of range"],
    );
    // Saved teacher outputs are not read for LMs.
    let npy = dir.path().join("t.npy");
    std::fs::write(&npy, b"not really").unwrap();
    let r = run(&[
        "report",
        "--teacher-logits",
        s(&npy),
        "--student",
        s(&st),
        "--data",
        s(&data),
    ]);
    assert_error(&r, &["--teacher-logits is not read for causal LMs"]);
}

/// Every figure of the JSON report against `make_lm_report_refs.py` (torch, transformers,
/// NumPy), which computes each one independently of this project.
#[test]
fn every_other_figure_matches_the_torch_reference() {
    let choices = llm("data/choices.jsonl");
    for student in ["llama_small", "qwen2"] {
        let path = fixture(&format!("llm/conformance/report_{student}.json"));
        let want: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let r = report(student, &["--choices", s(&choices), "--json", "-"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let got = r.json();
        assert_eq!(got["tokens"], want["tokens"]);
        let mut keys: Vec<Vec<&str>> = [
            "kl_divergence",
            "kl_divergence_stderr",
            "reverse_kl",
            "jensen_shannon",
            "perplexity_ratio",
            "ln_perplexity_ratio",
            "ln_perplexity_ratio_stderr",
            "nll_correlation",
        ]
        .iter()
        .map(|k| vec![*k])
        .collect();
        for side in ["teacher", "student"] {
            keys.push(vec![side, "nll"]);
            keys.push(vec![side, "perplexity"]);
        }
        let pct = [
            "min", "p0_1", "p1", "p5", "p10", "p50", "p90", "p95", "p99", "p99_9", "max",
        ];
        for p in pct {
            keys.push(vec!["kl_percentiles", p]);
            keys.push(vec!["delta_p", "percentiles", p]);
        }
        keys.push(vec!["delta_p", "mean"]);
        keys.push(vec!["delta_p", "rms"]);
        for k in &keys {
            let (a, e) = (f(&got, k), f(&want, k));
            // float32 logits within 1e-4 of transformers': figures agree to ~1e-4 relative.
            assert!(close(a, e, 2e-3, 2e-6), "{student} {k:?}: {a} vs {e}");
        }
        for k in [
            "teacher_accuracy",
            "student_accuracy",
            "teacher_accuracy_norm",
            "student_accuracy_norm",
            "accuracy_retention",
        ] {
            let (a, e) = (
                f(&got, &["multiple_choice", k]),
                f(&want, &["multiple_choice", k]),
            );
            assert!(close(a, e, 1e-12, 0.0), "{student} {k}: {a} vs {e}");
        }
        assert_eq!(
            got["multiple_choice"]["flips"]["correct_to_wrong"],
            want["multiple_choice"]["flips"]["correct_to_wrong"]
        );
        assert_eq!(
            got["multiple_choice"]["flips"]["wrong_to_correct"],
            want["multiple_choice"]["flips"]["wrong_to_correct"]
        );
    }
}

#[test]
fn bench_measures_lm_prefill() {
    let m = llm("teacher_llama");
    let r = run(&[
        "bench",
        "--model",
        s(&m),
        "--batch-sizes",
        "1,4",
        "--seq-len",
        "32",
        "--warmup",
        "0",
        "--iters",
        "1",
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(j["seq_len"], 32);
    for row in rows {
        let (ex, tok) = (
            f(row, &["examples_per_second"]),
            f(row, &["tokens_per_second"]),
        );
        assert!(ex > 0.0 && close(tok, ex * 32.0, 1e-9, 0.0), "{row}");
    }
    assert_eq!(j["model"]["architecture"], "LlamaForCausalLM");
}

/// Token-level figures from transformers' logits (`expected.logits.npy` of a fixture: every
/// position of each text run alone), computed on the host in float64.
fn host_figures(teacher: &str, student: &str) -> (usize, f64, f64, f64, f64) {
    let dir = |m: &str| fixture(&format!("llm/{m}"));
    let inputs: Value =
        serde_json::from_str(&std::fs::read_to_string(dir(teacher).join("inputs.json")).unwrap())
            .unwrap();
    let rows = |m: &str| -> Vec<Vec<f64>> {
        let t = read_npy(&dir(m).join("expected.logits.npy"));
        t.to_dtype(candle::DType::F64).unwrap().to_vec2().unwrap()
    };
    let (tl, sl) = (rows(teacher), rows(student));
    let log_softmax = |z: &[f64]| -> Vec<f64> {
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = z.iter().map(|x| (x - m).exp()).sum::<f64>().ln() + m;
        z.iter().map(|x| x - lse).collect()
    };
    let (mut n, mut kl, mut agree, mut nt, mut ns) = (0usize, 0.0, 0.0, 0.0, 0.0);
    let mut at = 0;
    for ids in inputs["ids"].as_array().unwrap() {
        let ids: Vec<usize> = ids
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        for j in 0..ids.len().saturating_sub(1) {
            let (lp, lq) = (log_softmax(&tl[at + j]), log_softmax(&sl[at + j]));
            kl += lp
                .iter()
                .zip(&lq)
                .map(|(a, b)| a.exp() * (a - b))
                .sum::<f64>();
            let arg = |v: &[f64]| (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b });
            agree += f64::from(u8::from(arg(&lp) == arg(&lq)));
            nt -= lp[ids[j + 1]];
            ns -= lq[ids[j + 1]];
            n += 1;
        }
        at += ids.len();
    }
    let n_f = n as f64;
    (n, kl / n_f, agree / n_f, (nt / n_f).exp(), (ns / n_f).exp())
}

#[test]
fn every_architecture_family_scores_as_transformers_logits_say() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("llm/llama/inputs.json")).unwrap())
            .unwrap();
    let data = dir.path().join("texts.jsonl");
    let lines: String = inputs["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}\n", serde_json::json!({ "text": t })))
        .collect();
    std::fs::write(&data, lines).unwrap();
    let teacher = fixture("llm/llama");
    for student in [
        "llama3_legacy",
        "mistral",
        "qwen2",
        "gemma2",
        "gemma3_text",
        "gemma3_text_legacy",
        "phi3",
    ] {
        let st = fixture(&format!("llm/{student}"));
        let r = run(&[
            "report",
            "--teacher",
            s(&teacher),
            "--student",
            s(&st),
            "--data",
            s(&data),
            "--json",
            "-",
        ]);
        assert_eq!(r.code, 0, "{student}: {}", r.stderr);
        let got = r.json();
        let (n, kl, agree, tp, sp) = host_figures("llama", student);
        assert_eq!(got["tokens"].as_u64().unwrap() as usize, n, "{student}");
        let g = |k: &[&str]| f(&got, k);
        assert!(
            close(g(&["kl_divergence"]), kl, 1e-3, 1e-6),
            "{student} KL {} vs {kl}",
            g(&["kl_divergence"])
        );
        assert!(
            (g(&["top1_agreement"]) - agree).abs() <= 1.0 / n as f64 + 1e-12,
            "{student}"
        );
        assert!(
            close(g(&["teacher", "perplexity"]), tp, 1e-4, 0.0),
            "{student}"
        );
        assert!(
            close(g(&["student", "perplexity"]), sp, 1e-4, 0.0),
            "{student}"
        );
    }
    // A padded LM head (142 rows for a 120-token tokenizer) cannot be compared with a 120-row one.
    let qwen3 = fixture("llm/qwen3");
    let r = run(&[
        "report",
        "--teacher",
        s(&teacher),
        "--student",
        s(&qwen3),
        "--data",
        s(&data),
    ]);
    assert_error(&r, &["scores 120 tokens", "scores 142", "padding rows"]);
}
