"""distill-eval from Python: how much did the distilled student lose against its teacher?

The engine is the Rust one the ``distill-eval`` command runs (built by maturin); the figures,
verdict and every rendering are the same as ``distill-eval score``'s.

>>> import numpy as np, distill_eval
>>> r = distill_eval.score(teacher_logits, student_logits, labels)   # doctest: +SKIP
>>> r.kl_divergence, r.student.accuracy, r.verdict                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, Optional, Sequence

import numpy as np

from . import _core
from ._core import DistillEvalError, __version__

__all__ = [
    "Accumulator", "DistillEvalError", "Figures", "Report", "report", "score",
    "score_detection", "score_generation", "score_ranking", "score_regression", "__version__",
]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _array(x: Any, name: str) -> np.ndarray:
    """``x`` as a NumPy array without a copy when it is one already (or exposes one: torch CPU
    tensors through ``__array__``, DLPack producers through ``np.from_dlpack``)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__array__") or hasattr(x, "__array_interface__"):
        try:
            return np.asarray(x)
        except Exception as e:  # e.g. a CUDA tensor
            raise DistillEvalError(
                f"{name}: cannot be read as a NumPy array ({e})\n"
                "hint: move it to the CPU first (tensor.cpu())"
            ) from None
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except Exception as e:
            raise DistillEvalError(
                f"{name}: cannot be read through DLPack ({e})\nhint: move it to the CPU first"
            ) from None
    try:
        return np.asarray(x)
    except Exception as e:
        raise DistillEvalError(
            f"{name}: cannot be read as an array ({e})\n"
            "hint: pass a NumPy array, a CPU tensor or nested lists of numbers"
        ) from None


def _prepare_logits(x: Any, name: str) -> np.ndarray:
    """Logits as the engine reads them: C-contiguous, aligned, native float32 or float64. A
    C-contiguous float32/float64 array is returned as is (its buffer is read in place); float16
    is widened to float32 as the CLI widens ``.npy`` float16."""
    a = _array(x, name)
    if a.dtype.kind != "f" or a.dtype.itemsize not in (2, 4, 8):
        raise DistillEvalError(
            f"{name}: logits must be float16, float32 or float64, got {a.dtype}\n"
            "hint: logits are the model's raw outputs, one float per class"
        )
    if a.dtype.itemsize == 2:
        return a.astype(np.float32, order="C")
    native = np.dtype(np.float32) if a.dtype.itemsize == 4 else np.dtype(np.float64)
    return np.require(a, dtype=native, requirements=["C_CONTIGUOUS", "ALIGNED"])


def _prepare_labels(x: Any) -> np.ndarray:
    """Labels as one C-contiguous int64 vector (any integer dtype; shape (n) or (n, 1))."""
    a = _array(x, "labels")
    if a.dtype.kind not in "iu":
        raise DistillEvalError(
            f"labels: expected an integer dtype (int8 to int64 or uint8 to uint64), got {a.dtype}\n"
            "hint: labels are class ids 0..C-1"
        )
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise DistillEvalError(
            f"labels: expected shape (examples) or (examples, 1), got {tuple(a.shape)}\n"
            "hint: one class id per example"
        )
    if a.dtype.kind == "u" and a.dtype.itemsize == 8 and a.size and a.max() > np.iinfo(np.int64).max:
        row = int(np.argmax(a > np.iinfo(np.int64).max))
        raise DistillEvalError(
            f"labels: example {row}: label {int(a[row])} is not a class id\n"
            "hint: labels are class ids 0..C-1"
        )
    return np.require(a, dtype=np.int64, requirements=["C_CONTIGUOUS", "ALIGNED"])


class Figures:
    """Attribute access to a mapping of figures: ``r.student.accuracy``; ``f["key"]`` too."""

    __slots__ = ("_data",)

    def __init__(self, data: dict) -> None:
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self._data[name])
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __dir__(self) -> list:
        return sorted(self._data)

    def keys(self):
        return self._data.keys()

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self._data))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Figures):
            return self._data == other._data
        return self._data == other

    def __repr__(self) -> str:
        return f"Figures({self._data!r})"


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Figures(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class Report(Figures):
    """The report of one evaluation: every figure of the CLI's JSON as an attribute
    (``r.kl_divergence``, ``r.student.accuracy``, ``r.verdict``) and every rendering."""

    __slots__ = ("_core",)

    def __init__(self, core: Any) -> None:
        object.__setattr__(self, "_core", core)
        super().__init__(json.loads(core.to_json()))

    def to_dict(self) -> dict:
        """The JSON of ``distill-eval score --json``, as Python objects (a fresh copy)."""
        return json.loads(self._core.to_json())

    def to_json(self) -> str:
        """The JSON ``distill-eval score --json`` writes."""
        return self._core.to_json()

    def to_markdown(self) -> str:
        return self._core.to_markdown()

    def to_html(self) -> str:
        """The self-contained HTML report (``--html``)."""
        return self._core.to_html()

    def to_text(self) -> str:
        """The terminal report."""
        return self._core.to_text()

    def write_html(self, path: Any) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_html())

    def _repr_html_(self) -> str:
        # The page has its own styles: an iframe keeps them out of the notebook's.
        import html

        return (
            '<iframe style="width:100%;height:720px;border:1px solid #ddd" srcdoc="'
            + html.escape(self.to_html(), quote=True)
            + '"></iframe>'
        )

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        d = self._data
        if "task" in d:
            return f"<distill_eval.Report {d.get('task')} {d.get('verdict')}>"
        return (
            f"<distill_eval.Report {d.get('verdict')}: n={d.get('n_examples')}, "
            f"KL={d.get('kl_divergence')}, retention={d.get('accuracy_retention')}>"
        )


def score(
    teacher_logits: Any,
    student_logits: Any,
    labels: Any,
    *,
    temperature: float = 1.0,
    bins: int = 10,
    bootstrap: Optional[int] = None,
    seed: int = 0,
    calibrate: bool = False,
) -> Report:
    """The ``distill-eval score`` report of ``(n, C)`` teacher and student logits against
    ``labels`` (``n`` integer class ids). ``bootstrap``: resamples of the 95% intervals (``None``:
    1000 below 100,000 examples, else none; ``0``: none). ``calibrate``: ``--calibrate`` (fit a
    temperature for each model, two-fold, and report calibration before and after). Raises
    :class:`DistillEvalError`."""
    t = _prepare_logits(teacher_logits, "teacher_logits")
    s = _prepare_logits(student_logits, "student_logits")
    y = _prepare_labels(labels)
    return Report(_core.score(t, s, y, _settings(temperature, bins, bootstrap, seed, calibrate)))


def _settings(temperature: Any, bins: Any, bootstrap: Any, seed: Any, calibrate: Any) -> tuple:
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise DistillEvalError(f"temperature must be a positive number, got {temperature!r}") from None
    return (t, _count(bins, "bins"), _resamples(bootstrap), _count(seed, "seed"),
            _flag(calibrate, "calibrate"))


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise DistillEvalError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise DistillEvalError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _resamples(value: Any) -> Optional[int]:
    return None if value is None else _count(value, "bootstrap")


class Accumulator:
    """Streaming :func:`score` for training loops: ``update()`` once per batch, ``finish()``
    for the report, equal to one :func:`score` call on all the rows."""

    def __init__(
        self,
        *,
        temperature: float = 1.0,
        bins: int = 10,
        bootstrap: Optional[int] = None,
        seed: int = 0,
        calibrate: bool = False,
    ) -> None:
        self._core = _core.CoreAccumulator(
            _settings(temperature, bins, bootstrap, seed, calibrate))

    def update(self, teacher_logits: Any, student_logits: Any, labels: Any) -> None:
        """Adds one batch (checked whole first: a refused batch adds nothing)."""
        t = _prepare_logits(teacher_logits, "teacher_logits")
        s = _prepare_logits(student_logits, "student_logits")
        y = _prepare_labels(labels)
        self._core.update(t, s, y)

    @property
    def rows(self) -> int:
        """Examples added so far."""
        return self._core.rows

    def finish(self) -> Report:
        """The report of every batch added; the accumulator cannot be used afterwards."""
        return Report(self._core.finish())


def report(
    *,
    teacher: str,
    student: str,
    data: str,
    temperature: float = 1.0,
    bins: int = 10,
    bootstrap: Optional[int] = None,
    seed: int = 0,
    calibrate: bool = False,
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 64,
    max_length: Optional[int] = None,
    limit: Optional[int] = None,
    split: str = "test",
    subset: Optional[str] = None,
    text_field: Optional[str] = None,
    text_pair_field: Optional[str] = None,
    label_field: Optional[str] = None,
    offline: bool = False,
    context: Optional[int] = None,
    stride: Optional[int] = None,
    top_k: int = 5,
    choices: Optional[str] = None,
    chunking: str = "windows",
    task: Optional[str] = None,
    max_new_tokens: Optional[int] = None,
    prompt_field: Optional[str] = None,
    reference_field: Optional[str] = None,
    k: Sequence[int] = (),
    progress: Any = None,
) -> Report:
    """``distill-eval report``: run the ``teacher`` and ``student`` checkpoints (folders or hub
    repo ids) once each over ``data`` (a file or ``hf://datasets/...``) and report. The options
    are the CLI's flags by the same names (for causal LMs ``context``, ``stride``, ``top_k``,
    ``choices`` and ``chunking`` too). ``task="generation"`` continues each record's prompt
    greedily with two causal LMs (``max_new_tokens``, ``prompt_field``, ``reference_field``) and
    ``task="ranking"`` scores (query, passage) pairs with two cross-encoders (``k``), as
    ``report --task`` does. The GIL is released while the models run.

    ``progress``: a callable ``progress(done, total, model)``, called with the GIL taken before
    each model's first batch (``done == 0``) and after each batch, ``model`` being
    ``"teacher"`` or ``"student"`` (examples), or ``"teacher+student"`` for causal LMs, which
    run in lockstep (scored tokens), then ``"teacher"`` and ``"student"`` again for their
    multiple-choice passes (``choices``, counted in choices), or each model's generation
    (``task="generation"``, counted in prompts); or a tqdm bar, reset for each model and advanced by each
    batch. An exception the callback raises stops the run at that batch and propagates
    unchanged (a ``KeyboardInterrupt`` too)."""
    args = dict(
        teacher=str(teacher), student=str(student), data=str(data),
        temperature=float(temperature), bins=_count(bins, "bins"),
        bootstrap=_resamples(bootstrap), seed=_count(seed, "seed"),
        calibrate=_flag(calibrate, "calibrate"), progress=_progress(progress),
        device=str(device), dtype=str(dtype), batch_size=_count(batch_size, "batch_size"),
        max_length=None if max_length is None else _count(max_length, "max_length"),
        limit=None if limit is None else _count(limit, "limit"),
        split=str(split), subset=subset, text_field=text_field,
        text_pair_field=text_pair_field, label_field=label_field, offline=bool(offline),
        context=None if context is None else _count(context, "context"),
        stride=None if stride is None else _count(stride, "stride"),
        top_k=_count(top_k, "top_k"), choices=None if choices is None else str(choices),
        chunking=str(chunking), task=None if task is None else str(task),
        max_new_tokens=None if max_new_tokens is None else _count(max_new_tokens, "max_new_tokens"),
        prompt_field=prompt_field, reference_field=reference_field,
        k=[_count(v, "k") for v in k],
    )
    return Report(_core.report(args))


def _progress(progress: Any) -> Optional[Callable[[int, int, str], Any]]:
    """``progress`` as ``callback(done, total, model)``: a tqdm-like bar (``update`` and
    ``reset``) is adapted, a callable is used as it is."""
    if progress is None:
        return None
    if hasattr(progress, "update") and hasattr(progress, "reset"):
        return _TqdmProgress(progress)
    if callable(progress):
        return progress
    raise DistillEvalError(
        f"progress must be a callable progress(done, total, model) or a tqdm bar, got "
        f"{type(progress).__name__}\nhint: pass tqdm.tqdm() or a function of three arguments"
    )


class _TqdmProgress:
    """Drives a tqdm bar: reset to each model's total (its description the model), advanced by
    the examples of each batch."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.model: Optional[str] = None
        self.done = 0

    def __call__(self, done: int, total: int, model: str) -> None:
        if model != self.model or done < self.done:
            self.bar.reset(total=total)
            if hasattr(self.bar, "set_description"):
                self.bar.set_description(model)
            self.model, self.done = model, 0
        if done > self.done:
            self.bar.update(done - self.done)
            self.done = done


# The saved-outputs families. Their inputs are written, in the formats `distill-eval score
# --task` reads, to a private temporary folder and scored there by the CLI's code, so that the
# figures are the CLI's on the same values; reports and errors name the arguments instead of the
# private files, and to_dict() leaves out the keys naming the files (as score() leaves out
# `inputs`).

def _column(x: Any, name: str) -> np.ndarray:
    a = _array(x, name)
    if a.dtype.kind in "iub":
        a = a.astype(np.float64)
    if a.dtype.kind != "f":
        raise DistillEvalError(
            f"{name}: expected numbers, got {a.dtype}\nhint: one prediction (or target) per example"
        )
    if a.dtype.itemsize == 2:
        a = a.astype(np.float32)
    return np.ascontiguousarray(a)


def _scored(task: str, files: dict, names: dict, cutoffs: Sequence[int] = (),
            allow_empty: bool = False) -> Report:
    renames = [(str(files[k]), names[k]) for k in ("teacher", "student", "labels") if k in names]
    # Longest first, so that a path is never replaced through a shorter one inside it.
    renames.sort(key=lambda r: -len(r[0]))
    return Report(_core.score_task(task, str(files["teacher"]), str(files["student"]),
                                   str(files["labels"]), renames,
                                   [_count(k, "k") for k in cutoffs], bool(allow_empty)))


def score_regression(teacher_preds: Any, student_preds: Any, targets: Any) -> Report:
    """``distill-eval score --task regression``: MAE, RMSE, R², Pearson and Spearman of each
    model's predictions against ``targets`` (arrays of shape ``(n)`` or ``(n, 1)``), R²
    retention and the teacher-student Pearson. Raises :class:`DistillEvalError`."""
    arrays = {
        "teacher": _column(teacher_preds, "teacher_preds"),
        "student": _column(student_preds, "student_preds"),
        "labels": _column(targets, "targets"),
    }
    names = {"teacher": "teacher_preds", "student": "student_preds", "labels": "targets"}
    with tempfile.TemporaryDirectory(prefix="distill-eval-") as tmp:
        files = {}
        for key, a in arrays.items():
            files[key] = os.path.join(tmp, f"{names[key]}.npy")
            np.save(files[key], a)
        return _scored("regression", files, names)


def _jsonable(value: Any, name: str, row: int) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise DistillEvalError(
        f"{name}: row {row}: {value!r} is not a number or a string\nhint: one value per row"
    )


def _values(x: Any, name: str) -> list:
    if isinstance(x, (list, tuple)):
        return list(x)
    a = _array(x, name)
    if a.ndim != 1:
        raise DistillEvalError(
            f"{name}: expected one value per row, got shape {tuple(a.shape)}\n"
            "hint: pass a list or a 1-D array"
        )
    return a.tolist()


def _write_rows(path: str, columns: dict) -> None:
    """One JSON record per row (JSON Lines), the columns as fields."""
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        sizes = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise DistillEvalError(
            f"the columns have different lengths: {sizes}\nhint: one value per row in each"
        )
    keys = list(columns)
    with open(path, "w", encoding="utf-8") as f:
        for i, row in enumerate(zip(*columns.values())):
            record = {k: _jsonable(v, k, i) for k, v in zip(keys, row)}
            f.write(json.dumps(record, ensure_ascii=False))
            f.write("\n")


def score_ranking(
    query: Any,
    teacher_scores: Any,
    student_scores: Any,
    relevance: Any,
    *,
    k: Sequence[int] = (),
) -> Report:
    """``distill-eval score --task ranking``: one entry per (query, document) in each of the
    four (lists or 1-D arrays): the query id (a string or an integer), both models' scores and
    the graded relevance (at least 0). NDCG@5, NDCG@10 and each ``k``, MAP and MRR of each
    model, NDCG@10 retention and per-query Kendall tau-b. Errors name a row by its line, 1-based.
    Raises :class:`DistillEvalError`."""
    columns = {
        "query": _values(query, "query"),
        "relevance": _values(relevance, "relevance"),
        "teacher": _values(teacher_scores, "teacher_scores"),
        "student": _values(student_scores, "student_scores"),
    }
    with tempfile.TemporaryDirectory(prefix="distill-eval-") as tmp:
        path = os.path.join(tmp, "rows.jsonl")
        _write_rows(path, columns)
        files = {"teacher": path, "student": path, "labels": path}
        return _scored("ranking", files, {"teacher": "rows"}, cutoffs=list(k))


def score_generation(
    references: Sequence[str],
    teacher: Sequence[str],
    student: Sequence[str],
    *,
    allow_empty_hypotheses: bool = False,
) -> Report:
    """``distill-eval score --task generation``: corpus BLEU and chrF (sacrebleu), ROUGE-1/2/L
    (rouge-score) of each model's texts against the references, BLEU retention and the
    teacher-student BLEU. An empty text of either model is an error unless
    ``allow_empty_hypotheses``. Errors name a row by its line, 1-based. Raises
    :class:`DistillEvalError`."""
    columns = {
        "reference": _values(references, "references"),
        "teacher": _values(teacher, "teacher"),
        "student": _values(student, "student"),
    }
    for name, values in columns.items():
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise DistillEvalError(
                    f"{name}: row {i}: {v!r} is not a string\nhint: one text per row"
                )
    with tempfile.TemporaryDirectory(prefix="distill-eval-") as tmp:
        path = os.path.join(tmp, "rows.jsonl")
        _write_rows(path, columns)
        files = {"teacher": path, "student": path, "labels": path}
        return _scored("generation", files, {"teacher": "rows"},
                       allow_empty=_flag(allow_empty_hypotheses, "allow_empty_hypotheses"))


def score_detection(ground_truth: Any, teacher_detections: Any, student_detections: Any) -> Report:
    """``distill-eval score --task detection``: the twelve COCOeval box statistics (pycocotools),
    mean best IoU and per-class AP of each model, and mAP retention. ``ground_truth`` is a COCO
    document (a dict, or the path of its JSON file); each detections argument a COCO result list
    (a list of dicts, or a path). Raises :class:`DistillEvalError`."""
    given = {"labels": ground_truth, "teacher": teacher_detections, "student": student_detections}
    names = {"labels": "ground_truth", "teacher": "teacher_detections",
             "student": "student_detections"}
    with tempfile.TemporaryDirectory(prefix="distill-eval-") as tmp:
        files = {}
        for key, value in given.items():
            if isinstance(value, (str, os.PathLike)):
                files[key] = os.fspath(value)
                continue
            files[key] = os.path.join(tmp, f"{names[key]}.json")
            try:
                text = json.dumps(value, default=_numpy_json)
            except (TypeError, ValueError) as e:
                raise DistillEvalError(
                    f"{names[key]}: cannot be written as JSON ({e})\n"
                    "hint: pass the COCO dict / result list as json.load reads it, or its path"
                ) from None
            with open(files[key], "w", encoding="utf-8") as f:
                f.write(text)
        # Paths the user gave keep their names in reports and errors.
        named = {k: v for k, v in names.items() if files[k].startswith(tmp)}
        return _scored("detection", files, named)


def _numpy_json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
