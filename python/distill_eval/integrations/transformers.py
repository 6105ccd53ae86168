"""``DistillEvalCallback``: distill-eval inside a transformers ``Trainer``.

>>> cb = DistillEvalCallback(teacher_logits)           # the teacher's logits on eval_dataset
>>> trainer = Trainer(..., eval_dataset=eval_dataset,
...                   compute_metrics=cb.compute_metrics, callbacks=[cb])  # doctest: +SKIP

At each evaluation, ``compute_metrics`` scores the student's eval logits against the teacher's
(computed once, or given) with :func:`distill_eval.score`; the Trainer logs the figures as
``eval_distill_kl`` ... (TensorBoard, W&B and every other reporter see them). With
``stop_when_kl_rises=True`` the callback stops training at the first evaluation where KL rises
while accuracy does not, by the rule of ``distill-eval track``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import numpy as np
from transformers import TrainerCallback

import distill_eval
from distill_eval import _core

__all__ = ["DistillEvalCallback"]


def _logits(predictions: Any) -> np.ndarray:
    # Models that return more than logits give a tuple; the logits come first.
    if isinstance(predictions, (tuple, list)):
        predictions = predictions[0]
    return np.asarray(predictions)


class DistillEvalCallback(TrainerCallback):
    """Scores the student against its teacher at each evaluation.

    ``teacher_logits``: the teacher's ``(n, C)`` logits on the eval dataset, in its order; or
    ``teacher``: a callable returning them, called once at the first evaluation (e.g. a
    ``Trainer(model=teacher).predict(eval_dataset).predictions`` closure)."""

    def __init__(
        self,
        teacher_logits: Any = None,
        *,
        teacher: Optional[Callable[[], Any]] = None,
        temperature: float = 1.0,
        bins: int = 10,
        bootstrap: Optional[int] = 0,
        stop_when_kl_rises: bool = False,
        prefix: str = "distill_",
    ) -> None:
        if (teacher_logits is None) == (teacher is None):
            raise distill_eval.DistillEvalError(
                "DistillEvalCallback needs exactly one of teacher_logits and teacher\n"
                "hint: pass the teacher's eval logits, or a function that computes them"
            )
        self._teacher_logits = None if teacher_logits is None else _logits(teacher_logits)
        self._teacher = teacher
        self.temperature = temperature
        self.bins = bins
        self.bootstrap = bootstrap
        self.stop_when_kl_rises = stop_when_kl_rises
        self.prefix = prefix
        self.reports: List[distill_eval.Report] = []
        self.history: List[Dict[str, Any]] = []
        self.flags: List[str] = []

    @property
    def teacher_logits(self) -> np.ndarray:
        if self._teacher_logits is None:
            self._teacher_logits = _logits(self._teacher())
        return self._teacher_logits

    def compute_metrics(self, eval_pred: Any) -> Dict[str, float]:
        """The Trainer's ``compute_metrics``: the student's eval predictions scored."""
        predictions, labels = eval_pred[0], eval_pred[1]
        r = distill_eval.score(
            self.teacher_logits, _logits(predictions), np.asarray(labels),
            temperature=self.temperature, bins=self.bins, bootstrap=self.bootstrap,
        )
        self.reports.append(r)
        p = self.prefix
        figures = {
            f"{p}accuracy": r.student.accuracy,
            f"{p}teacher_accuracy": r.teacher.accuracy,
            f"{p}retention": r.accuracy_retention,
            f"{p}kl": r.kl_divergence,
            f"{p}agreement": r.agreement,
            f"{p}ece": r.student.ece,
            f"{p}verdict": ["WEAK", "ACCEPTABLE", "GOOD", "EXCELLENT"].index(r.verdict)
            if r.verdict in ("WEAK", "ACCEPTABLE", "GOOD", "EXCELLENT") else -1,
        }
        return {k: float(v) for k, v in figures.items() if v is not None}

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not self.reports or len(self.history) == len(self.reports):
            return control
        r = self.reports[-1]
        point = {"step": state.global_step, "accuracy": r.student.accuracy,
                 "kl": r.kl_divergence, "verdict": r.verdict}
        if self.history:
            a = self.history[-1]
            # `distill-eval track`'s rule: KL up by more than RISE while accuracy gains less
            # than STALL.
            rising = point["kl"] > a["kl"] * (1.0 + _core.TRACK_RISE)
            stalling = point["accuracy"] - a["accuracy"] < _core.TRACK_STALL
            if rising and stalling:
                self.flags.append(
                    f"from step {a['step']} to {point['step']}, KL rises ({a['kl']:.4f} -> "
                    f"{point['kl']:.4f}) while accuracy stalls ({a['accuracy']:.4f} -> "
                    f"{point['accuracy']:.4f})"
                )
                if self.stop_when_kl_rises:
                    control.should_training_stop = True
        self.history.append(point)
        return control
