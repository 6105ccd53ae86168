"""Shared fixtures: the conformance cases of `distill-eval score` and the CLI binary."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

# The fused kernel sums float32 softmax rows in PyTorch's AVX-512 order, as the conformance
# vectors were made (tests/fixtures/score/README.md); set before the engine first reads it.
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx512")

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES_DIR = ROOT / "tests" / "fixtures" / "score"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "expected.json").exists())


def cli_binary():
    """The `distill-eval` binary: $DISTILL_EVAL_BIN (which must then exist), else the one
    cargo built in target/ (release first), else None."""
    given = os.environ.get("DISTILL_EVAL_BIN")
    if given:
        path = pathlib.Path(given)
        assert path.is_file(), f"DISTILL_EVAL_BIN={given} does not exist"
        return path
    for profile in ("release", "debug"):
        path = ROOT / "target" / profile / "distill-eval"
        if path.is_file():
            return path
    return None


class Case:
    def __init__(self, name):
        self.name = name
        self.dir = CASES_DIR / name
        self.teacher = np.load(self.dir / "teacher.npy")
        self.student = np.load(self.dir / "student.npy")
        self.labels = np.load(self.dir / "labels.npy")
        self.args = json.loads((self.dir / "args.json").read_text())
        self.expected = json.loads((self.dir / "expected.json").read_text())

    def cli_json(self, *extra):
        return cli_json(self.dir, self.args, *extra)


def cli_json(folder, args, *extra):
    """`distill-eval score --json -` on teacher.npy, student.npy and labels.npy in `folder`."""
    binary = cli_binary()
    if binary is None:
        pytest.skip("no distill-eval binary (set DISTILL_EVAL_BIN or cargo build)")
    out = subprocess.run(
        [str(binary), "score",
         "--teacher-logits", str(folder / "teacher.npy"),
         "--student-logits", str(folder / "student.npy"),
         "--labels", str(folder / "labels.npy"),
         "--temperature", str(args["temperature"]),
         "--bins", str(args["bins"]),
         "--device", "cpu", "--json", "-", *extra],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(params=CASES)
def case(request):
    return Case(request.param)


@pytest.fixture
def multiclass():
    return Case("multiclass")


# CI installs every optional package (.ci/run): there, a test skipped for a missing one fails.
REQUIRE_ALL = os.environ.get("DISTILL_EVAL_REQUIRE_ALL") == "1"


def _no_skips(report):
    if REQUIRE_ALL and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped, but DISTILL_EVAL_REQUIRE_ALL=1: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _no_skips(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _no_skips(outcome.get_result())
