import tracemalloc

import numpy as np
import pytest

import distill_eval
from distill_eval import DistillEvalError, score
from distill_eval import _core, _prepare_labels, _prepare_logits


def test_c_contiguous_float32_is_read_in_place():
    t = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    prepared = _prepare_logits(t, "teacher_logits")
    assert prepared is t
    assert _core._address(prepared) == t.ctypes.data
    # float64 too; a contiguous row slice is a view, still read in place.
    t64 = t.astype(np.float64)
    assert _prepare_logits(t64, "x") is t64
    rows = t[10:20]
    assert _core._address(_prepare_logits(rows, "x")) == rows.ctypes.data


def test_other_layouts_are_converted():
    t = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    for other in (np.asfortranarray(t), t[:, ::2], t.astype(np.float16), t.astype(">f4")):
        prepared = _prepare_logits(other, "x")
        assert prepared.flags.c_contiguous and prepared.dtype in (np.float32, np.float64)
        assert not np.shares_memory(prepared, other)
        np.testing.assert_array_equal(prepared, other.astype(np.float32))


def test_no_copy_of_large_arrays():
    """1,000,000 x 10 float32 (40 MB a side): the Python side allocates nothing of that size
    (tracemalloc sees NumPy's allocations), where a converting input does."""
    rng = np.random.default_rng(1)
    n, c = 1_000_000, 10
    t = rng.normal(size=(n, c)).astype(np.float32)
    s = (t + rng.normal(scale=0.5, size=(n, c))).astype(np.float32)
    y = rng.integers(0, c, size=n)
    tracemalloc.start()
    try:
        score(t, s, y, bootstrap=0)
        _, peak_in_place = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        score(np.asfortranarray(t), s, y, bootstrap=0)
        _, peak_converted = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_in_place < 4 << 20, peak_in_place
    assert peak_converted > 40 << 20, peak_converted


def test_torch_cpu_tensors_are_read_in_place():
    torch = pytest.importorskip("torch")
    t = torch.randn(32, 4)
    s = torch.randn(32, 4)
    y = torch.randint(0, 4, (32,))
    prepared = _prepare_logits(t, "teacher_logits")
    assert _core._address(prepared) == t.data_ptr()
    r = score(t, s, y)
    assert r.to_dict() == score(t.numpy(), s.numpy(), y.numpy()).to_dict()


def test_labels_of_any_integer_dtype():
    y = np.array([0, 2, 1, 1], dtype=np.uint8)
    assert _prepare_labels(y).dtype == np.int64
    y64 = np.array([0, 2, 1, 1])
    assert _prepare_labels(y64) is y64


def rows(n=8, c=3, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, c)).astype(np.float32)
    s = rng.normal(size=(n, c)).astype(np.float32)
    y = rng.integers(0, c, size=n)
    return t, s, y


def raises(match, *args, **kw):
    with pytest.raises(DistillEvalError, match=match) as info:
        score(*args, **kw)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_bad_inputs_raise_with_the_cli_message_and_hint():
    t, s, y = rows()
    msg = raises("teacher_logits.*8.*student_logits.*7", t, s[:7], y)
    assert "hint:" in msg
    raises("labels", t, s, y[:5])
    bad = y.copy()
    bad[3] = 7
    msg = raises("example 3", t, s, bad)
    assert "hint:" in msg
    bad[3] = -1
    raises("example 3", t, s, bad)
    raises("classes", t, s[:, :2], y)
    raises("teacher_logits", t[None], s, y)  # 3-D
    raises("float16, float32 or float64", t.astype(np.int32), s, y)
    raises("integer dtype", t, s, y.astype(np.float32))
    raises("shape", t, s, np.stack([y, y], axis=1))
    nan = s.copy()
    nan[5, 1] = np.nan
    msg = raises("student_logits", t, nan, y)
    assert "5" in msg
    raises("temperature", t, s, y, temperature=0)
    raises("temperature", t, s, y, temperature=float("nan"))
    raises("bins", t, s, y, bins=0)
    raises("bootstrap", t, s, y, bootstrap=-1)
    raises("no examples|empty|example", t[:0], s[:0], y[:0])
    raises("not a class id", t, s, np.array([2**63 + 1] * 8, dtype=np.uint64))


def test_a_panic_is_an_exception():
    with pytest.raises(DistillEvalError, match="internal error: deliberate panic"):
        _core._panic()
    # The interpreter is still fine.
    t, s, y = rows()
    assert score(t, s, y).n_examples == 8


def test_version():
    assert distill_eval.__version__.count(".") == 2
