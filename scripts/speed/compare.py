"""Side-by-side speed of distill-eval and transformers (`just speed`).

usage: compare.py WORK_DIR DISTILL_EVAL_BINARY [REPEATS]

Same checkpoints, same texts, same tokenizer.json, same length-sorted batches of at most 64
(with distill-eval's rule of starting a batch early when padding would make more than half of
it), same thread count (torch.set_num_threads and RAYON_NUM_THREADS both set to THREADS,
default: every core). Measured back to back, best of REPEATS for each side.

Stages it separates: tokenization (distill-eval: its `tokenized` debug log; transformers: the
fast tokenizer over all texts), and the whole pass (tokenize + batch + forward + logits).
distill-eval's whole pass is its `report` pass (the examples/s of the report's JSON); PyTorch's
is a warm pass after one cold one.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

work, binary = Path(sys.argv[1]), sys.argv[2]
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
threads = int(os.environ.get("THREADS", os.cpu_count()))
torch.set_num_threads(threads)
env = dict(os.environ, RAYON_NUM_THREADS=str(threads))


def read(path):
    return [json.loads(line)["text"] for line in open(path)]


def batches(lens, size=64):
    """distill-eval's `engine::pass::batches` over length-sorted lens."""
    out, start, tokens = [], 0, 0
    for pos, n in enumerate(lens):
        n = max(n, 1)
        count = pos - start
        if count == size or (count > 0 and (count + 1) * n > 2 * (tokens + n)):
            out.append((start, pos))
            start, tokens = pos, 0
        tokens += n
    if start < len(lens):
        out.append((start, len(lens)))
    return out


def torch_pass(model, tok, texts, max_length):
    t0 = time.perf_counter()
    enc = tok(texts, truncation=True, max_length=max_length)["input_ids"]
    t_tok = time.perf_counter() - t0
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    lens = [len(enc[i]) for i in order]
    with torch.inference_mode():
        for a, b in batches(lens):
            idx = order[a:b]
            t = max(len(enc[i]) for i in idx)
            ids = torch.zeros((len(idx), t), dtype=torch.long)
            mask = torch.zeros((len(idx), t), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, : len(enc[i])] = torch.tensor(enc[i])
                mask[r, : len(enc[i])] = 1
            model(input_ids=ids, attention_mask=mask).logits.float()
    return t_tok, time.perf_counter() - t0


def de_pass(teacher, student, data, max_length):
    cmd = [binary, "-vv", "--color", "never", "report", "--teacher", str(teacher), "--data",
           str(data), "--json", str(work / "report.json"), "--device", "cpu", "--dtype", "f32"]
    if student:
        cmd += ["--student", str(student)]
    if max_length:
        cmd += ["--max-length", str(max_length)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"distill-eval failed ({p.returncode}):\n{p.stderr[-3000:]}")
    clean = re.sub(r"\x1b\[[0-9;]*m", "", p.stderr)
    toks = [float(m) for m in re.findall(r"seconds=([0-9.e-]+)\s+tokenized", clean)]
    if not toks:
        toks = [float(m) for m in re.findall(r"tokenized\s+seconds=([0-9.e-]+)", clean)]
    speeds = []

    def walk(v):
        if isinstance(v, dict):
            if "examples_per_second" in v and isinstance(v["examples_per_second"], (int, float)):
                speeds.append(v["examples_per_second"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(json.load(open(work / "report.json")))
    return toks, speeds


cases = [
    ("MiniLM-L6 teacher (6 layers)", "minilm_teacher", "minilm_student", "sentences.jsonl", None),
    ("BERT-base, 128 tokens", "bert_base", None, "long.jsonl", 128),
]
print(f"threads {threads}, torch {torch.__version__}, best of {repeats}; examples/s")
rows = []
for name, teacher, student, data, max_length in cases:
    texts = read(work / data)
    n = len(texts)
    models = [(name, teacher)] + ([("MiniLM-L3 student (3 layers)", student)] if student else [])
    torch_best = {}
    for label, folder in models:
        tok = PreTrainedTokenizerFast(tokenizer_file=str(work / folder / "tokenizer.json"))
        model = AutoModelForSequenceClassification.from_pretrained(work / folder, dtype=torch.float32).eval()
        torch_pass(model, tok, texts, max_length or 512)  # cold
        best = min((torch_pass(model, tok, texts, max_length or 512) for _ in range(repeats)), key=lambda r: r[1])
        torch_best[label] = best
        del model
    de_best = {label: (float("inf"), 0.0) for label, _ in models}
    for _ in range(repeats):
        toks, speeds = de_pass(work / teacher, work / student if student else None, work / data, max_length)
        for j, (label, _) in enumerate(models):
            tok_s = toks[j] if j < len(toks) else float("nan")
            if speeds[j] > de_best[label][1]:
                de_best[label] = (tok_s, speeds[j])
    for label, _ in models:
        t_tok, t_all = torch_best[label]
        d_tok, d_speed = de_best[label]
        rows.append((label, n / t_all, d_speed, t_tok, d_tok))

print(f"| model | transformers warm pass | distill-eval `report` pass | ratio | tokenize: transformers | distill-eval | ratio |")
print(f"| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for label, pt, de, t_tok, d_tok in rows:
    print(f"| {label} | {pt:,.0f} | {de:,.0f} | {de / pt:.2f} | {t_tok * 1e3:.0f} ms | {d_tok * 1e3:.0f} ms | {t_tok / d_tok:.2f} |")
