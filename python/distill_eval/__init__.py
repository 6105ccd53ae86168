"""distill-eval from Python: how much did the distilled student lose against its teacher?

The engine is the Rust one the ``distill-eval`` command runs (built by maturin); the figures,
verdict and every rendering are the same as ``distill-eval score``'s.

>>> import numpy as np, distill_eval
>>> r = distill_eval.score(teacher_logits, student_logits, labels)   # doctest: +SKIP
>>> r.kl_divergence, r.student.accuracy, r.verdict                   # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any, Optional

import numpy as np

from . import _core
from ._core import DistillEvalError, __version__

__all__ = [
    "Accumulator", "DistillEvalError", "Figures", "Report", "report", "score", "__version__",
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
) -> Report:
    """The ``distill-eval score`` report of ``(n, C)`` teacher and student logits against
    ``labels`` (``n`` integer class ids). ``bootstrap``: resamples of the 95% intervals (``None``:
    1000 below 100,000 examples, else none; ``0``: none). Raises :class:`DistillEvalError`."""
    t = _prepare_logits(teacher_logits, "teacher_logits")
    s = _prepare_logits(student_logits, "student_logits")
    y = _prepare_labels(labels)
    return Report(_core.score(t, s, y, _settings(temperature, bins, bootstrap, seed)))


def _settings(temperature: Any, bins: Any, bootstrap: Any, seed: Any) -> tuple:
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise DistillEvalError(f"temperature must be a positive number, got {temperature!r}") from None
    return (t, _count(bins, "bins"), _resamples(bootstrap), _count(seed, "seed"))


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
    ) -> None:
        self._core = _core.CoreAccumulator(_settings(temperature, bins, bootstrap, seed))

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
) -> Report:
    """``distill-eval report``: run the ``teacher`` and ``student`` checkpoints (folders or hub
    repo ids) once each over ``data`` (a file or ``hf://datasets/...``) and report. The options
    are the CLI's flags by the same names. The GIL is released while the models run."""
    args = dict(
        teacher=str(teacher), student=str(student), data=str(data),
        temperature=float(temperature), bins=_count(bins, "bins"),
        bootstrap=_resamples(bootstrap), seed=_count(seed, "seed"),
        device=str(device), dtype=str(dtype), batch_size=_count(batch_size, "batch_size"),
        max_length=None if max_length is None else _count(max_length, "max_length"),
        limit=None if limit is None else _count(limit, "limit"),
        split=str(split), subset=subset, text_field=text_field,
        text_pair_field=text_pair_field, label_field=label_field, offline=bool(offline),
    )
    return Report(_core.report(args))
