//! `--teacher-logits FILE.kld`: llama.cpp base files (`llama-perplexity --kl-divergence-base`)
//! as the causal-LM teacher. The tests write the files themselves, following llama.cpp's
//! layout, from the bundled teacher's logits of each chunk.

use std::path::{Path, PathBuf};

use candle::Device;
use distill_eval_model::{LoadOptions, ModelSource};
use distill_eval_runner::family::lm::{document_logits, windows::llama_cpp_chunks};

use crate::common::{assert_error, model, run, s};

fn llm(rel: &str) -> PathBuf {
    model("llm").join(rel)
}

/// One scored position as llama.cpp's `log_softmax(n_vocab, logits, log_prob, tok)` stores
/// it: scale and minimum log-probability, then 16-bit steps above the floor (max - 16).
fn encode_row(logits: &[f32], out: &mut Vec<u8>) {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let min = logits
        .iter()
        .cloned()
        .fold(f32::INFINITY, f32::min)
        .max(max - 16.0);
    let sum: f64 = logits.iter().map(|&l| f64::from((l - max).exp())).sum();
    let lse = sum.ln() as f32;
    let scale = (max - min) / 65535.0;
    out.extend(scale.to_le_bytes());
    out.extend((min - max - lse).to_le_bytes());
    for &l in logits {
        let v = if scale > 0.0 && l > min {
            ((l - min) / scale).round() as u16
        } else {
            0
        };
        out.extend(v.to_le_bytes());
    }
    if logits.len() % 2 == 1 {
        out.extend([0u8, 0]);
    }
}

/// The bytes of a base file for `tokens` in chunks of `n_ctx`, from the teacher's logits of
/// each chunk (BOS first when its tokenizer adds one), as `llama-perplexity` writes them.
fn base_file(teacher: &Path, texts: &[&str], n_ctx: usize) -> (Vec<u8>, usize) {
    let m = distill_eval_model::load(
        &ModelSource::Local(teacher.to_owned()),
        &Device::Cpu,
        &LoadOptions::default(),
    )
    .unwrap();
    let stream: Vec<u32> = m.encode_documents(texts).unwrap().concat();
    let bos = m.encode_documents(&[""]).unwrap()[0].first().copied();
    let (chunks, _) = llama_cpp_chunks(&stream, n_ctx, bos);
    let logits = document_logits(&m, &chunks, 8).unwrap();
    let rows = logits.to_vec2::<f32>().unwrap(); // (chunks x n_ctx, vocab)
    let n_vocab = rows[0].len();
    let mut out = b"_logits_".to_vec();
    out.extend((n_ctx as u32).to_le_bytes());
    out.extend((n_vocab as i32).to_le_bytes());
    out.extend((chunks.len() as i32).to_le_bytes());
    for &t in &stream[..chunks.len() * n_ctx] {
        out.extend((t as i32).to_le_bytes());
    }
    for c in 0..chunks.len() {
        for j in n_ctx / 2..n_ctx - 1 {
            encode_row(&rows[c * n_ctx + j], &mut out);
        }
    }
    (out, chunks.len())
}

fn texts() -> Vec<String> {
    std::fs::read_to_string(llm("data/texts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn num(v: &serde_json::Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {v}"))
}

fn report(teacher: &[&str], student: &Path, extra: &[&str]) -> crate::common::Run {
    let data = llm("data/texts.jsonl");
    let mut a = vec!["report"];
    a.extend_from_slice(teacher);
    a.extend_from_slice(&[
        "--student",
        s(student),
        "--data",
        s(&data),
        "--device",
        "cpu",
    ]);
    a.extend_from_slice(extra);
    run(&a)
}

#[test]
fn a_base_file_is_the_teacher_it_was_written_from() {
    let dir = tempfile::tempdir().unwrap();
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (bytes, chunks) = base_file(&llm("teacher_llama"), &refs, 64);
    let kld = dir.path().join("base.kld");
    std::fs::write(&kld, &bytes).unwrap();
    let student = llm("gguf/llama_small.Q8_0.gguf");
    let t = llm("teacher_llama");
    let direct = report(
        &["--teacher", s(&t)],
        &student,
        &["--chunking", "llama-cpp", "--context", "64", "--json", "-"],
    );
    assert_eq!(direct.code, 0, "{}", direct.stderr);
    let direct = direct.json();
    // No --chunking or --context: both come from the file.
    let r = report(&["--teacher-logits", s(&kld)], &student, &["--json", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    assert_eq!(got["chunking"], "llama-cpp");
    assert_eq!(num(&got, &["documents"]), chunks as f64);
    assert_eq!(got["tokens"], direct["tokens"]);
    assert_eq!(num(&got, &["context"]), 64.0);
    assert!(
        got.get("teacher_model").is_none_or(|v| v.is_null()),
        "{}",
        got["teacher_model"]
    );
    // The 16-bit base against the float teacher: perplexities within 1e-3, the mean KL within
    // a few percent, the argmaxes equal but for near-ties.
    let close = |path: &[&str], rel: f64| {
        let (a, b) = (num(&got, path), num(&direct, path));
        assert!(
            (a - b).abs() <= rel * b.abs(),
            "{path:?}: base {a} vs teacher {b}"
        );
    };
    close(&["teacher", "perplexity"], 1e-3);
    close(&["student", "perplexity"], 1e-9);
    close(&["kl_divergence"], 0.05);
    close(&["llama_cpp", "ppl_base", "value"], 1e-3);
    close(&["llama_cpp", "kld", "value"], 0.05);
    close(&["top1_agreement"], 0.02);
    let text = report(&["--teacher-logits", s(&kld)], &student, &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("Mean PPL(base)                : "),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("llama.cpp chunks of 64 tokens"),
        "{}",
        text.stdout
    );
}

#[test]
fn base_files_that_do_not_fit_exit_2_naming_why() {
    let dir = tempfile::tempdir().unwrap();
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (good, _) = base_file(&llm("teacher_llama"), &refs, 16);
    let student = llm("gguf/llama_small.Q8_0.gguf");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // A token changed at position 5 (chunk 0): the data no longer matches.
    let mut tokens = good.clone();
    let at = 20 + 4 * 5;
    let old = i32::from_le_bytes(tokens[at..at + 4].try_into().unwrap());
    tokens[at..at + 4].copy_from_slice(&((old + 1) % 100).to_le_bytes());
    let p = write("tokens.kld", &tokens);
    let r = report(&["--teacher-logits", s(&p)], &student, &[]);
    assert_error(
        &r,
        &["tokens.kld", "token 5 (chunk 0, position 5)", "hint:"],
    );
    // Another vocabulary width: the header and the rows agree, the student does not.
    let n_vocab = i32::from_le_bytes(good[12..16].try_into().unwrap());
    let mut wide = good[..12].to_vec();
    wide.extend((n_vocab + 2).to_le_bytes());
    wide.extend(&good[16..20]);
    let n_chunk = i32::from_le_bytes(good[16..20].try_into().unwrap()) as usize;
    let token_end = 20 + 4 * n_chunk * 16;
    wide.extend(&good[20..token_end]);
    let row = 2 * (2 * (n_vocab as usize).div_ceil(2) + 4);
    for r in good[token_end..].chunks_exact(row) {
        wide.extend(r);
        wide.extend([0u8; 4]);
    }
    let p = write("vocab.kld", &wide);
    let r = report(&["--teacher-logits", s(&p)], &student, &[]);
    assert_error(
        &r,
        &[
            "vocab.kld",
            &format!("over {} tokens", n_vocab + 2),
            "hint:",
        ],
    );
    // Truncated, and not a base file at all.
    let p = write("cut.kld", &good[..good.len() - 3]);
    let r = report(&["--teacher-logits", s(&p)], &student, &[]);
    assert_error(&r, &["cut.kld", "is truncated", "hint:"]);
    let p = write("junk.kld", b"definitely not a base file");
    let r = report(&["--teacher-logits", s(&p)], &student, &[]);
    assert_error(&r, &["junk.kld", "_logits_", "hint:"]);
    // Options the file cannot serve.
    let p = write("good.kld", &good);
    let r = report(&["--teacher-logits", s(&p)], &student, &["--context", "32"]);
    assert_error(
        &r,
        &[
            "--context 32 differs from the file's context of 16 tokens",
            "hint:",
        ],
    );
    let r = report(
        &["--teacher-logits", s(&p)],
        &student,
        &["--temperature", "2"],
    );
    assert_error(&r, &["--temperature does not apply", "hint:"]);
    // More chunks than the data holds: the first document only.
    let r = report(&["--teacher-logits", s(&p)], &student, &["--limit", "1"]);
    assert_error(&r, &["good.kld", "chunks of 16 tokens", "hint:"]);
}
