"""score_regression / score_ranking / score_generation / score_detection: the CLI's JSON of
`distill-eval score --task ...` on the same inputs (without the keys naming its files), and the
reference figures of tests/fixtures/tasks."""

import json
import math
import pathlib
import subprocess

import numpy as np
import pytest

import distill_eval
from distill_eval import DistillEvalError

from conftest import ROOT, cli_binary

TASKS = ROOT / "tests" / "fixtures" / "tasks"


def cli(task, *args):
    binary = cli_binary()
    if binary is None:
        pytest.skip("no distill-eval binary (set DISTILL_EVAL_BIN or cargo build)")
    out = subprocess.run([str(binary), "score", "--task", task, *map(str, args), "--json", "-"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


def close(actual, expected, path="", rel=1e-6):
    """Every figure of `expected` (the reference implementation's) is in `actual`, equal within
    `rel` of max(1, |x|); `None` is the reference's NaN (or pycocotools' -1)."""
    if isinstance(expected, dict):
        for k, v in expected.items():
            assert k in actual, f"{path}.{k} missing"
            close(actual[k], v, f"{path}.{k}", rel)
    elif isinstance(expected, list):
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            close(a, e, f"{path}[{i}]", rel)
    elif isinstance(expected, float) or expected is None:
        if expected is None or math.isnan(expected):
            assert actual is None, f"{path}: {actual}"
        else:
            assert actual is not None, path
            assert abs(actual - expected) <= rel * max(1.0, abs(expected)), f"{path}: {actual}"
    else:
        assert actual == expected, path


# ---- regression ----

def test_regression_equals_the_cli_and_the_reference():
    d = TASKS / "regression"
    t, s, y = (np.load(d / f"{n}.npy") for n in ("teacher", "student", "targets"))
    r = distill_eval.score_regression(t, s, y)
    got = r.to_dict()
    want = cli("regression", "--teacher-logits", d / "teacher.npy",
               "--student-logits", d / "student.npy", "--labels", d / "targets.npy")
    assert got == without(want, "inputs")
    assert "inputs" in want and "inputs" not in got
    close(got, json.loads((d / "expected.json").read_text()))
    assert r.task == "regression" and r.teacher.r2 == got["teacher"]["r2"]
    assert json.loads(r.to_json()) == got
    # (n, 1) columns, float32 and lists give the same figures.
    assert distill_eval.score_regression(t.reshape(-1, 1), s, list(y)).to_dict() == got


def test_regression_generated_cases():
    for case in json.loads((TASKS / "regression" / "generated.json").read_text())["cases"]:
        got = distill_eval.score_regression(np.array(case["teacher"]), np.array(case["student"]),
                                            np.array(case["targets"])).to_dict()
        want = dict(case["expected"])
        if case["top_disagreements"] != 10:
            want.pop("disagreements", None)
        close(got, want, case["name"])


def test_regression_errors_name_the_argument():
    t = np.arange(5.0)
    with pytest.raises(DistillEvalError) as e:
        distill_eval.score_regression(t, np.array([0.0, 1.0, math.nan, 3.0, 4.0]), t)
    msg = str(e.value)
    assert "student prediction at row 2" in msg and "hint:" in msg, msg
    assert "distill-eval-" not in msg, msg
    with pytest.raises(DistillEvalError, match="targets"):
        distill_eval.score_regression(t, t, t[:4])
    with pytest.raises(DistillEvalError, match="teacher_preds"):
        distill_eval.score_regression(np.ones((5, 2)), t, t)
    with pytest.raises(DistillEvalError, match="numbers"):
        distill_eval.score_regression(np.array(["a"] * 5), t, t)


# ---- ranking ----

def shared_ranking():
    d = TASKS / "ranking"
    q, rel, t, s = (np.load(d / f"{n}.npy") for n in ("query", "relevance", "teacher", "student"))
    return [f"q{int(x)}" for x in q], rel.astype(np.int64), t, s


def test_ranking_equals_the_cli_and_the_reference(tmp_path):
    q, rel, t, s = shared_ranking()
    path = tmp_path / "rows.jsonl"
    with path.open("w") as f:
        for row in zip(q, rel.tolist(), t.tolist(), s.tolist()):
            f.write(json.dumps(dict(zip(("query", "relevance", "teacher", "student"), row))) + "\n")
    r = distill_eval.score_ranking(q, t, s, rel)
    got = r.to_dict()
    want = cli("ranking", "--data", path)
    assert got == without(want, "data", "fields")
    close(got, json.loads((TASKS / "ranking" / "expected.json").read_text()))
    assert r.task == "ranking" and "rows" not in got
    # Cut-offs are --k.
    k = distill_eval.score_ranking(q, t, s, rel, k=[1, 3]).to_dict()
    assert k == without(cli("ranking", "--data", path, "--k", "1,3"), "data", "fields")
    assert "ndcg@3" in k["teacher"]


def test_ranking_generated_cases():
    for case in json.loads((TASKS / "ranking" / "generated.json").read_text())["cases"]:
        rows = case["rows"]
        col = lambda k: [row[k] for row in rows]  # noqa: E731
        got = distill_eval.score_ranking(col("query"), col("teacher"), col("student"),
                                         col("relevance"), k=case["cutoffs"]).to_dict()
        want = without(case["expected"], "per_query_kendall")
        close(got, want, case["name"])


def test_ranking_errors():
    with pytest.raises(DistillEvalError, match="different lengths"):
        distill_eval.score_ranking(["a", "a"], [1.0, 2.0], [1.0], [0, 1])
    with pytest.raises(DistillEvalError) as e:
        distill_eval.score_ranking(["a", "a"], [1.0, 2.0], [1.0, 2.0], [0, -1])
    msg = str(e.value)
    assert "relevance" in msg and "rows" in msg and "distill-eval-" not in msg, msg
    with pytest.raises(DistillEvalError, match="row 1"):
        distill_eval.score_ranking(["a", [1]], [1.0, 2.0], [1.0, 2.0], [0, 1])


# ---- generation ----

def generations():
    path = TASKS / "generation" / "generations.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return path, [r["reference"] for r in rows], [r["teacher"] for r in rows], \
        [r["student"] for r in rows]


def test_generation_equals_the_cli_and_the_reference():
    path, refs, t, s = generations()
    got = distill_eval.score_generation(refs, t, s).to_dict()
    assert got == without(cli("generation", "--data", path), "data", "fields")
    want = json.loads((TASKS / "generation" / "expected.json").read_text())
    close({k: got[k] for k in ("teacher", "student")},
          {k: want[k] for k in ("teacher", "student")}, rel=1e-4)
    close(got["bleu_retention"], want["bleu_retention"], rel=1e-4)


def test_generation_generated_cases():
    for case in json.loads((TASKS / "generation" / "generated.json").read_text())["cases"]:
        got = distill_eval.score_generation(case["references"], case["teacher"], case["student"],
                                            allow_empty_hypotheses=True).to_dict()
        close(got, case["expected"], case["name"], rel=1e-4)


def test_generation_empty_hypotheses():
    refs, t = ["a b c", "d e f"], ["a b c", "d e f"]
    with pytest.raises(DistillEvalError) as e:
        distill_eval.score_generation(refs, t, ["a b c", "  "])
    msg = str(e.value)
    assert "rows" in msg and "hint:" in msg and "distill-eval-" not in msg, msg
    r = distill_eval.score_generation(refs, t, ["a b c", "  "], allow_empty_hypotheses=True)
    assert r.student.empty_hypotheses == 1 and r.teacher.empty_hypotheses == 0
    with pytest.raises(DistillEvalError, match="not a string"):
        distill_eval.score_generation(refs, t, ["a", 3])


# ---- detection ----

def test_detection_equals_the_cli_and_the_reference(tmp_path):
    d = TASKS / "detection"
    gt, t, s = (json.loads((d / f"{n}.json").read_text())
                for n in ("ground_truth", "teacher", "student"))
    r = distill_eval.score_detection(gt, t, s)
    got = r.to_dict()
    want = cli("detection", "--ground-truth", d / "ground_truth.json",
               "--teacher-detections", d / "teacher.json",
               "--student-detections", d / "student.json")
    assert got == without(want, "files")
    close(got, json.loads((d / "expected.json").read_text()))
    # Paths work too, and name themselves.
    by_path = distill_eval.score_detection(d / "ground_truth.json", str(d / "teacher.json"), s)
    assert by_path.to_dict() == got
    assert "ground_truth" not in r.to_markdown() or "distill-eval-" not in r.to_markdown()


def test_detection_generated_cases():
    for case in json.loads((TASKS / "detection" / "generated.json").read_text())["cases"]:
        got = distill_eval.score_detection(case["ground_truth"], case["teacher"],
                                           case["student"]).to_dict()
        # The reference lists per-class AP as an array in category id order.
        for side in ("teacher", "student"):
            got[side]["per_class_ap"] = [c["ap"] for c in got[side]["per_class"]]
        close(got, case["expected"], case["name"])


def test_detection_errors_name_the_argument():
    d = TASKS / "detection"
    gt = json.loads((d / "ground_truth.json").read_text())
    t = json.loads((d / "teacher.json").read_text())
    bad = [dict(t[0], image_id=10**9)]
    with pytest.raises(DistillEvalError) as e:
        distill_eval.score_detection(gt, t, bad)
    msg = str(e.value)
    assert "student_detections" in msg and "hint:" in msg and "distill-eval-" not in msg, msg
    with pytest.raises(DistillEvalError, match="JSON"):
        distill_eval.score_detection(gt, t, [object()])


def test_renderings_name_the_arguments_not_private_files():
    path, refs, t, s = generations()
    r = distill_eval.score_generation(refs, t, s)
    for text in (r.to_text(), r.to_markdown(), r.to_html(), r.to_json()):
        assert "distill-eval-" not in text
    assert "generation" in repr(r)
    rr = distill_eval.score_regression(np.arange(4.0), np.arange(4.0) + 0.5, np.arange(4.0))
    assert "distill-eval-" not in rr.to_markdown() and "distill-eval-" not in rr.to_html()
