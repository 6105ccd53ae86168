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
