"""`distill_eval.score` against `distill-eval score` on the same 1,000,000 x 10 float32 arrays.

    python python/bench/score_speed.py [path/to/distill-eval] [repeats]

Writes the arrays as .npy once, then times, alternately, the CLI (process start, reading the
files, the evaluation, the JSON file) and the Python call (the evaluation on the arrays in
memory, and the report's JSON parsed into the Report). Prints each run and the medians, and
checks that both reports are equal.
"""

import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import distill_eval

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> None:
    binary = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "distill-eval")
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rng = np.random.default_rng(0)
    n, c = 1_000_000, 10
    teacher = rng.normal(size=(n, c)).astype(np.float32) * 3
    student = (teacher + rng.normal(scale=1.0, size=(n, c))).astype(np.float32)
    labels = np.where(rng.random(n) < 0.9, teacher.argmax(1), rng.integers(0, c, size=n))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        np.save(tmp / "t.npy", teacher)
        np.save(tmp / "s.npy", student)
        np.save(tmp / "y.npy", labels)
        cmd = [binary, "score", "--teacher-logits", str(tmp / "t.npy"),
               "--student-logits", str(tmp / "s.npy"), "--labels", str(tmp / "y.npy"),
               "--device", "cpu", "-q", "--json", str(tmp / "r.json")]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # warm the page cache
        distill_eval.score(teacher, student, labels)  # and the thread pool
        cli, py = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            cli.append(time.perf_counter() - start)
            start = time.perf_counter()
            report = distill_eval.score(teacher, student, labels)
            py.append(time.perf_counter() - start)
        from_cli = json.loads((tmp / "r.json").read_text())
        from_cli.pop("inputs", None)
        assert report.to_dict() == from_cli, "the reports differ"
    print("cli    ", " ".join(f"{t:.3f}" for t in cli), f"median {statistics.median(cli):.3f} s")
    print("python ", " ".join(f"{t:.3f}" for t in py), f"median {statistics.median(py):.3f} s")
    print(f"python / cli: {statistics.median(py) / statistics.median(cli):.3f}; reports equal")


if __name__ == "__main__":
    main()
