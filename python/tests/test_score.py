import json
import math

import numpy as np
import pytest

import distill_eval
from distill_eval import Accumulator, DistillEvalError, score

from conftest import cli_json


def without_inputs(d):
    """The CLI's JSON names the files it read (`inputs`); arrays have none."""
    d = dict(d)
    d.pop("inputs", None)
    return d


def close(actual, expected, path=""):
    """Every figure of `expected` (the reference implementation's) is in `actual`, equal up to
    float rounding."""
    if isinstance(expected, dict):
        for k, v in expected.items():
            assert k in actual, f"{path}.{k} missing"
            close(actual[k], v, f"{path}.{k}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            close(a, e, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert actual is not None, path
        if math.isnan(expected):
            assert math.isnan(actual), path
        else:
            assert actual == pytest.approx(expected, rel=1e-6, abs=1e-9), path
    else:
        assert actual == expected, path


def run(case, **kw):
    return score(case.teacher, case.student, case.labels,
                 temperature=case.args["temperature"], bins=case.args["bins"], **kw)


def test_report_equals_the_cli_json(case):
    r = run(case)
    assert r.to_dict() == without_inputs(case.cli_json())


def test_figures_match_the_reference(case):
    close(run(case).to_dict(), case.expected)


def test_attribute_access(multiclass):
    r = run(multiclass)
    d = r.to_dict()
    assert r.kl_divergence == d["kl_divergence"]
    assert r.student.accuracy == d["student"]["accuracy"]
    assert r.teacher.per_class[3].f1 == d["teacher"]["per_class"][3]["f1"]
    assert r.verdict == d["verdict"] and r["verdict"] == d["verdict"]
    assert "kl_divergence" in dir(r)
    with pytest.raises(AttributeError):
        r.no_such_figure
    assert json.loads(r.to_json()) == d


def test_bootstrap_and_seed(multiclass):
    a = run(multiclass, bootstrap=50, seed=1)
    b = run(multiclass, bootstrap=50, seed=2)
    assert a.bootstrap.resamples == 50
    assert a.to_dict()["bootstrap"] != b.to_dict()["bootstrap"]
    assert "bootstrap" not in run(multiclass, bootstrap=0).to_dict()
    assert a.to_dict() == without_inputs(multiclass.cli_json("--bootstrap", "50", "--seed", "1"))


def test_renderings(multiclass, tmp_path):
    r = run(multiclass)
    assert "STATUS:" in r.to_text() and "STATUS:" in str(r)
    assert "KL" in r.to_markdown()
    html = r.to_html()
    assert html.lstrip().lower().startswith("<!doctype html")
    r.write_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == html
    frame = r._repr_html_()
    assert frame.startswith("<iframe") and "&lt;" in frame
    assert r.verdict in repr(r)


def test_accumulator_equals_one_call(multiclass):
    c = multiclass
    acc = Accumulator(temperature=c.args["temperature"], bins=c.args["bins"])
    bounds = [0, 1, 17, 1000, 1001, 4096, len(c.labels)]
    for lo, hi in zip(bounds, bounds[1:]):
        acc.update(c.teacher[lo:hi], c.student[lo:hi], c.labels[lo:hi])
    assert acc.rows == len(c.labels)
    assert acc.finish().to_dict() == run(c).to_dict()
    with pytest.raises(DistillEvalError, match="finished"):
        acc.finish()


def test_accumulator_refused_batch_adds_nothing(multiclass):
    c = multiclass
    acc = Accumulator()
    acc.update(c.teacher[:100], c.student[:100], c.labels[:100])
    with pytest.raises(DistillEvalError, match="example 105"):
        bad = c.labels[100:200].copy()
        bad[5] = 99
        acc.update(c.teacher[100:200], c.student[100:200], bad)
    with pytest.raises(DistillEvalError, match="classes"):
        acc.update(c.teacher[100:200, :5], c.student[100:200, :5], c.labels[100:200])
    acc.update(c.teacher[100:], c.student[100:], c.labels[100:])
    assert acc.finish().to_dict() == score(c.teacher, c.student, c.labels).to_dict()


def test_empty_accumulator_raises():
    with pytest.raises(DistillEvalError, match="no example|empty|examples"):
        Accumulator().finish()


def test_dtypes(multiclass):
    c = multiclass
    base = score(c.teacher, c.student, c.labels).to_dict()
    for dtype in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.uint64):
        assert score(c.teacher, c.student, c.labels.astype(dtype)).to_dict() == base, dtype
    assert score(c.teacher, c.student, c.labels.reshape(-1, 1)).to_dict() == base
    # float16 is widened to float32, as the CLI widens a float16 .npy.
    t16, s16 = c.teacher.astype(np.float16), c.student.astype(np.float16)
    assert (score(t16, s16, c.labels).to_dict()
            == score(t16.astype(np.float32), s16.astype(np.float32), c.labels).to_dict())
    # float64 runs in float64: close to, not necessarily equal to, float32.
    r64 = score(c.teacher.astype(np.float64), c.student.astype(np.float64), c.labels)
    assert r64.kl_divergence == pytest.approx(base["kl_divergence"], rel=1e-5)
    # Non-contiguous and big-endian inputs are converted, with the same result.
    assert score(np.asfortranarray(c.teacher), c.student[::1], c.labels).to_dict() == base
    assert score(c.teacher.astype(">f4"), c.student, c.labels).to_dict() == base
    # Nested lists work too.
    small = score(c.teacher[:50].tolist(), c.student[:50].tolist(), c.labels[:50].tolist())
    assert small.n_examples == 50


def test_float64_equals_the_cli_on_float64_files(multiclass, tmp_path):
    c = multiclass
    np.save(tmp_path / "teacher.npy", c.teacher.astype(np.float64))
    np.save(tmp_path / "student.npy", c.student.astype(np.float64))
    np.save(tmp_path / "labels.npy", c.labels)
    r = score(c.teacher.astype(np.float64), c.student.astype(np.float64), c.labels,
              temperature=c.args["temperature"], bins=c.args["bins"])
    assert r.to_dict() == without_inputs(cli_json(tmp_path, c.args))


def test_calibrate_equals_the_cli(multiclass):
    c = multiclass
    r = run(c, calibrate=True, bootstrap=0)
    d = r.to_dict()
    assert d == without_inputs(c.cli_json("--calibrate", "--bootstrap", "0"))
    assert r.calibration.student.temperature > 0
    assert "calibration" not in run(c, bootstrap=0).to_dict()
    acc = Accumulator(temperature=c.args["temperature"], bins=c.args["bins"], bootstrap=0,
                      calibrate=True)
    half = len(c.labels) // 2
    acc.update(c.teacher[:half], c.student[:half], c.labels[:half])
    acc.update(c.teacher[half:], c.student[half:], c.labels[half:])
    assert acc.finish().to_dict() == d
    with pytest.raises(DistillEvalError, match="calibrate"):
        score(c.teacher, c.student, c.labels, calibrate="yes")
