//! GGUF students end to end: `report` with a transformers teacher folder and a `.gguf` student
//! (the committed `models/llm/gguf/` files, written from the bundled checkpoints), and bad GGUF
//! files.

use std::path::PathBuf;

use crate::common::{assert_error, model, run, s};

fn llm(rel: &str) -> PathBuf {
    model("llm").join(rel)
}

fn report_json(teacher: &str, student: &std::path::Path) -> serde_json::Value {
    let (t, data) = (llm(teacher), llm("data/texts.jsonl"));
    let r = run(&[
        "report",
        "--teacher",
        s(&t),
        "--student",
        s(student),
        "--data",
        s(&data),
        "--device",
        "cpu",
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()
}

fn num(v: &serde_json::Value, path: &[&str]) -> f64 {
    let mut at = v;
    for p in path {
        at = &at[*p];
    }
    at.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number: {at}"))
}

#[test]
fn the_teacher_in_q8_0_is_nearly_the_teacher() {
    let got = report_json("teacher_llama", &llm("gguf/teacher_llama.Q8_0.gguf"));
    assert_eq!(got["task"], "causal-lm");
    assert_eq!(got["documents"], 122);
    // The same weights rounded to 8 bits: KL far below the distilled students', top-1 kept.
    let kl = num(&got, &["kl_divergence"]);
    assert!(kl > 0.0 && kl < 1e-3, "KL {kl}");
    assert!(num(&got, &["top1_agreement"]) > 0.99);
    let g = &got["student_model"]["gguf"];
    let bpw = num(g, &["bits_per_weight"]);
    assert!(bpw > 8.5 && bpw < 9.0, "{g}");
    let bytes = std::fs::metadata(llm("gguf/teacher_llama.Q8_0.gguf"))
        .unwrap()
        .len();
    assert_eq!(num(g, &["file_bytes"]) as u64, bytes);
    assert!(g["tensor_types"]["Q8_0"].as_u64().unwrap() > 0, "{g}");
    // The teacher is a safetensors folder: no GGUF block.
    assert!(got["teacher_model"].get("gguf").is_none());
}

#[test]
fn a_gguf_student_scores_as_its_safetensors_original() {
    let gguf = report_json("teacher_llama", &llm("gguf/llama_small.Q8_0.gguf"));
    let hf = report_json("teacher_llama", &llm("llama_small"));
    assert_eq!(gguf["tokens"], hf["tokens"]);
    let (a, b) = (num(&gguf, &["kl_divergence"]), num(&hf, &["kl_divergence"]));
    // Q8_0 moves the student's KL by a small fraction of itself.
    assert!((a - b).abs() < 0.05 * b, "gguf {a} vs safetensors {b}");
}

#[test]
fn the_terminal_report_shows_size_on_disk_and_bits_per_weight() {
    let (t, data) = (llm("teacher_llama"), llm("data/texts.jsonl"));
    let st = llm("gguf/teacher_llama.Q8_0.gguf");
    let r = run(&[
        "report",
        "--teacher",
        s(&t),
        "--student",
        s(&st),
        "--data",
        s(&data),
        "--device",
        "cpu",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("GGUF Q8_0 x"), "{}", r.stdout);
    assert!(r.stdout.contains("bits per weight"), "{}", r.stdout);
    assert!(r.stdout.contains("MiB on disk"), "{}", r.stdout);
}

#[test]
fn bad_gguf_files_exit_2_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(llm("gguf/llama_small.Q8_0.gguf")).unwrap();
    let (t, data) = (llm("teacher_llama"), llm("data/texts.jsonl"));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("cut.gguf", bytes[..bytes.len() / 2].to_vec(), "cut.gguf"),
        ("head.gguf", bytes[..64].to_vec(), "head.gguf"),
        ("junk.gguf", b"definitely not gguf".to_vec(), "junk.gguf"),
    ];
    for (name, content, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let r = run(&[
            "report",
            "--teacher",
            s(&t),
            "--student",
            s(&path),
            "--data",
            s(&data),
            "--device",
            "cpu",
        ]);
        assert_error(&r, &[needle, "hint:"]);
    }
    // --gguf-file naming a file the folder lacks.
    let r = run(&[
        "report",
        "--teacher",
        s(&t),
        "--student",
        s(dir.path()),
        "--gguf-file",
        "absent.gguf",
        "--data",
        s(&data),
        "--device",
        "cpu",
    ]);
    assert_error(&r, &["absent.gguf", "hint:"]);
}

#[test]
fn llama_cpp_chunking_scores_the_second_half_of_each_chunk() {
    let (t, data) = (llm("teacher_llama"), llm("data/texts.jsonl"));
    let st = llm("gguf/teacher_llama.Q8_0.gguf");
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "report",
            "--teacher",
            s(&t),
            "--student",
            s(&st),
            "--data",
            s(&data),
            "--device",
            "cpu",
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let windows = args(&["--json", "-"]).json();
    let r = args(&["--chunking", "llama-cpp", "--context", "64", "--json", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    assert_eq!(got["chunking"], "llama-cpp");
    assert!(windows.get("chunking").is_none());
    // The documents' tokens as one stream in whole chunks of 64, 31 targets scored in each.
    let stream = num(&windows, &["tokens"]) + 122.0; // each document's first token is unscored
    let chunks = (stream / 64.0).floor();
    assert_eq!(num(&got, &["documents"]), chunks);
    assert_eq!(num(&got, &["tokens"]), chunks * 31.0);
    assert_eq!(num(&got, &["stride"]), 64.0);
    let kl = num(&got, &["kl_divergence"]);
    assert!(kl > 0.0 && kl < 1e-3, "KL {kl}");
    // llama.cpp's statistics, over the same tokens as the report's own figures.
    let l = &got["llama_cpp"];
    assert!(windows.get("llama_cpp").is_none());
    assert_eq!(num(l, &["tokens"]), chunks * 31.0);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    for (ours, theirs) in [
        (&["kl_divergence"][..], &["kld", "value"][..]),
        (&["kl_divergence_stderr"], &["kld", "uncertainty"]),
        (&["student", "perplexity"], &["ppl_q", "value"]),
        (&["teacher", "perplexity"], &["ppl_base", "value"]),
        (&["top1_agreement"], &["same_top_p", "value"]),
        (&["top1_agreement_stderr"], &["same_top_p", "uncertainty"]),
        (&["ln_perplexity_ratio"], &["ln_ppl_ratio", "value"]),
        (
            &["ln_perplexity_ratio_stderr"],
            &["ln_ppl_ratio", "uncertainty"],
        ),
        (&["delta_p", "mean"], &["delta_p", "value"]),
        (&["delta_p", "rms"], &["rms_delta_p", "value"]),
        (&["kl_percentiles", "p99_9"], &["kld_percentiles", "p99_9"]),
    ] {
        let (a, b) = (num(&got, ours), num(l, theirs));
        assert!(close(a, b), "{ours:?} {a} vs llama_cpp {theirs:?} {b}");
    }
    // PPL(Q)/PPL(base) carries the ln ratio's uncertainty to first order.
    let ratio = num(l, &["ppl_ratio", "value"]);
    assert!(close(ratio, num(&got, &["perplexity_ratio"])));
    assert!(close(
        num(l, &["ppl_ratio", "uncertainty"]),
        ratio * num(l, &["ln_ppl_ratio", "uncertainty"])
    ));
    let cor = num(l, &["ln_ppl_correlation"]);
    assert!(cor > 0.99 && cor <= 1.0 + 1e-9, "{cor}");
    let text = args(&["--chunking", "llama-cpp", "--context", "64"]);
    assert!(
        text.stdout.contains("llama.cpp chunks of 64 tokens"),
        "{}",
        text.stdout
    );
    let kld_line = format!(
        "Mean    KLD: {:10.6} ± {:10.6}",
        num(l, &["kld", "value"]),
        num(l, &["kld", "uncertainty"])
    );
    for line in [
        "====== Perplexity statistics ======",
        "Mean PPL(Q)                   : ",
        "Cor(ln(PPL(Q)), ln(PPL(base))): ",
        "Mean PPL(Q)-PPL(base)         : ",
        kld_line.as_str(),
        "99.9%   KLD: ",
        "====== Token probability statistics ======",
        "RMS Δp    : ",
        "Same top p: ",
    ] {
        assert!(
            text.stdout.contains(line),
            "{line:?} missing:\n{}",
            text.stdout
        );
    }
    // A corpus shorter than one chunk.
    let r = args(&[
        "--chunking",
        "llama-cpp",
        "--context",
        "128",
        "--limit",
        "1",
    ]);
    assert_error(&r, &["--chunking llama-cpp", "hint:"]);
}
