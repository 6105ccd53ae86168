import pathlib

import pytest

import distill_eval
from distill_eval import DistillEvalError

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"


def test_report_on_the_bundled_checkpoints():
    r = distill_eval.report(
        teacher=str(MODELS / "teacher_bert"),
        student=str(MODELS / "distilbert"),
        data=str(MODELS / "data" / "test.jsonl"),
        device="cpu",
        limit=60,
        bootstrap=0,
    )
    assert r.n_examples == 60
    assert r.class_names == ["neg", "neu", "pos"]
    assert r.teacher_model.architecture == "BertForSequenceClassification"
    assert r.dataset.rows == 60
    assert 0.0 <= r.student.accuracy <= 1.0


def test_report_errors_are_the_cli_s(tmp_path):
    with pytest.raises(DistillEvalError, match="hint:"):
        distill_eval.report(teacher=str(tmp_path / "missing"), student=str(tmp_path),
                            data=str(tmp_path / "d.jsonl"), offline=True)
    with pytest.raises(DistillEvalError, match="device"):
        distill_eval.report(teacher="a", student="b", data="c", device="tpu")


def bundled(**kw):
    return distill_eval.report(
        teacher=str(MODELS / "teacher_bert"),
        student=str(MODELS / "distilbert"),
        data=str(MODELS / "data" / "test.jsonl"),
        device="cpu", limit=40, bootstrap=0, batch_size=16, **kw,
    )


def test_progress_callback_sees_every_batch():
    calls = []
    r = bundled(progress=lambda done, total, model: calls.append((done, total, model)))
    assert r.n_examples == 40
    for model in ("teacher", "student"):
        mine = [c for c in calls if c[2] == model]
        # Told before the first batch, then after each one, up to the whole set.
        assert mine[0] == (0, 40, model), mine
        assert mine[-1] == (40, 40, model), mine
        dones = [c[0] for c in mine]
        assert dones == sorted(dones) and len(dones) >= 4, dones  # 40 rows in batches of 16
    # The teacher runs first.
    assert [c[2] for c in calls].index("student") > max(
        i for i, c in enumerate(calls) if c[2] == "teacher")
    # The figures do not depend on being watched.
    plain = bundled()
    assert r.kl_divergence == plain.kl_divergence and r.verdict == plain.verdict


class Stop(Exception):
    pass


def test_a_raising_callback_stops_the_run_with_its_own_exception():
    calls = []

    def progress(done, total, model):
        calls.append((done, model))
        if model == "student" and done > 0:
            raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        bundled(progress=progress)
    # It stopped at the student's first batch: nothing ran after the exception.
    assert calls[-1][1] == "student" and calls[-1][0] > 0
    assert sum(1 for c in calls if c[1] == "student" and c[0] > 0) == 1


class FakeBar:
    """The part of tqdm's API the adapter uses."""

    def __init__(self):
        self.n, self.total, self.desc, self.resets = 0, None, None, 0

    def update(self, n):
        self.n += n

    def reset(self, total=None):
        self.n, self.total, self.resets = 0, total, self.resets + 1

    def set_description(self, desc):
        self.desc = desc


def test_a_tqdm_like_bar_is_driven():
    bar = FakeBar()
    bundled(progress=bar)
    assert (bar.n, bar.total, bar.desc, bar.resets) == (40, 40, "student", 2)


def test_a_real_tqdm_bar():
    tqdm = pytest.importorskip("tqdm")
    with tqdm.tqdm(disable=False, leave=False) as bar:
        bundled(progress=bar)
        assert (bar.n, bar.total) == (40, 40)


def test_progress_must_be_callable():
    with pytest.raises(DistillEvalError, match="progress"):
        bundled(progress=3)


def test_calibrate_adds_the_calibration_section():
    r = bundled(calibrate=True).to_dict()
    assert "calibration" in r and "calibration" not in bundled().to_dict()


def test_causal_lm_options_and_the_multiple_choice_progress():
    import json
    import subprocess

    from conftest import cli_binary

    llm = MODELS / "llm"
    args = dict(teacher=str(llm / "teacher_llama"), student=str(llm / "llama_small"),
                data=str(llm / "data" / "texts.jsonl"), choices=str(llm / "data" / "choices.jsonl"))
    calls = []
    r = distill_eval.report(**args, device="cpu", limit=10, context=64, top_k=3, bootstrap=0,
                            batch_size=8,
                            progress=lambda done, total, model: calls.append((done, total, model)))
    assert r.context == 64 and r.top_k == 3 and r.documents == 10
    questions = r.multiple_choice.questions
    # The lockstep pass counts scored tokens; then each model's multiple-choice pass counts
    # its continuations (two choices per bundled question), teacher first.
    lock = [c for c in calls if c[2] == "teacher+student"]
    assert lock[0][0] == 0 and lock[-1][0] == lock[-1][1] == r.tokens
    for model in ("teacher", "student"):
        mine = [c for c in calls if c[2] == model]
        assert mine[0] == (0, 2 * questions, model), mine
        assert mine[-1] == (2 * questions, 2 * questions, model), mine
        assert [c[0] for c in mine] == sorted(c[0] for c in mine)
    order = [c[2] for c in calls]
    assert order.index("teacher") > max(i for i, m in enumerate(order) if m == "teacher+student")
    assert order.index("student") > max(i for i, m in enumerate(order) if m == "teacher")
    # The figures are the CLI's with the same flags.
    binary = cli_binary()
    if binary is None:
        pytest.skip("no distill-eval binary to compare with")
    out = subprocess.run(
        [str(binary), "report", "--teacher", args["teacher"], "--student", args["student"],
         "--data", args["data"], "--choices", args["choices"], "--device", "cpu",
         "--limit", "10", "--context", "64", "--top-k", "3", "--bootstrap", "0", "--batch-size",
         "8", "--json", "-"],
        check=True, capture_output=True, text=True).stdout
    cli = json.loads(out)
    mine = r.to_dict()
    for key in ("tokens", "kl_divergence", "top1_agreement", "topk_overlap", "multiple_choice",
                "perplexity_ratio", "verdict"):
        assert mine[key] == cli[key], key
    with pytest.raises(DistillEvalError, match="chunking"):
        distill_eval.report(**args, device="cpu", chunking="sliding")
    with pytest.raises(DistillEvalError, match="top_k"):
        distill_eval.report(**args, device="cpu", top_k=0)


def _cli(*args):
    import json
    import subprocess

    from conftest import cli_binary

    binary = cli_binary()
    if binary is None:
        pytest.skip("no distill-eval binary to compare with")
    out = subprocess.run([str(binary), *args, "--json", "-"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def test_generation_from_two_causal_lms_is_the_cli_s():
    llm = MODELS / "llm"
    prompts = ROOT / "tests" / "fixtures" / "generation" / "prompts.jsonl"
    args = dict(teacher=str(llm / "teacher_llama"), student=str(llm / "qwen2"), data=str(prompts))
    calls = []
    r = distill_eval.report(**args, task="generation", max_new_tokens=6, device="cpu",
                            bootstrap=50, seed=2, limit=4, batch_size=2,
                            progress=lambda done, total, model: calls.append((done, total, model)))
    # Each model's generation is counted in prompts, teacher first.
    assert [c for c in calls if c[2] == "teacher"] == [(0, 4, "teacher"), (2, 4, "teacher"),
                                                       (4, 4, "teacher")]
    assert [c for c in calls if c[2] == "student"][-1] == (4, 4, "student")
    assert [c[2] for c in calls].index("student") == 3
    mine = r.to_dict()
    cli = _cli("report", "--task", "generation", "--teacher", args["teacher"], "--student",
               args["student"], "--data", args["data"], "--max-new-tokens", "6", "--device",
               "cpu", "--bootstrap", "50", "--seed", "2", "--limit", "4", "--batch-size", "2")
    assert mine["task"] == "generation" and len(mine["generated"]["rows"]) == 4
    for key in ("teacher", "student", "generated", "bootstrap", "bleu_retention", "verdict"):
        assert mine[key] == cli[key], key
    with pytest.raises(DistillEvalError, match="max_new_tokens applies to"):
        distill_eval.report(**args, max_new_tokens=6, device="cpu")
    with pytest.raises(DistillEvalError, match="not one report"):
        distill_eval.report(**args, task="detection", device="cpu")


def _one_output_head(src, dst):
    """A copy of the bundled classifier `src` whose head gives one score (pos minus neg)."""
    import json
    import shutil
    import struct

    import numpy as np

    shutil.copytree(src, dst)
    raw = (src / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    body = raw[8 + n:]
    arrays = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", info
        lo, hi = info["data_offsets"]
        arrays[name] = np.frombuffer(body[lo:hi], dtype="<f4").reshape(info["shape"])
    w, b = arrays["classifier.weight"], arrays["classifier.bias"]
    arrays["classifier.weight"] = (w[2] - w[0])[None, :]
    arrays["classifier.bias"] = np.array([b[2] - b[0]], dtype="<f4")
    out, offset, blobs = {}, 0, []
    for name, a in arrays.items():
        data = np.ascontiguousarray(a, dtype="<f4").tobytes()
        out[name] = {"dtype": "F32", "shape": list(a.shape),
                     "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(out).encode()
    (dst / "model.safetensors").write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))
    config = json.loads((dst / "config.json").read_text())
    config.update(id2label={"0": "score"}, label2id={"score": 0}, problem_type="regression")
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def test_ranking_with_two_cross_encoders_is_the_cli_s(tmp_path):
    import json

    teacher = _one_output_head(MODELS / "teacher_bert", tmp_path / "t")
    student = _one_output_head(MODELS / "distilbert", tmp_path / "s")
    rows = [{"query": q, "passage": p, "relevance": (i + j) % 3}
            for i, q in enumerate(["a great film", "a dull plot", "the cast"])
            for j, p in enumerate(["I loved it.", "It was boring.", "The actors were fine.",
                                   "Terrible pacing."])]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = distill_eval.report(teacher=str(teacher), student=str(student), data=str(data),
                            task="ranking", k=[1, 3], device="cpu", bootstrap=0)
    mine = r.to_dict()
    cli = _cli("report", "--task", "ranking", "--teacher", str(teacher), "--student",
               str(student), "--data", str(data), "--k", "1,3", "--device", "cpu",
               "--bootstrap", "0")
    assert mine["task"] == "ranking" and mine["queries"] == 3
    assert "ndcg@3" in mine["student"]
    for key in ("teacher", "student", "per_query", "ndcg@10_retention", "verdict"):
        assert mine[key] == cli[key], key
    with pytest.raises(DistillEvalError, match="k applies to"):
        distill_eval.report(teacher=str(teacher), student=str(student), data=str(data), k=[3])
