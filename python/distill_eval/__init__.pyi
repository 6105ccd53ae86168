# Type stubs of distill_eval (the implementation is __init__.py).
from typing import Any, Callable, KeysView, List, Optional, Protocol, Sequence, Union
import os

from ._core import DistillEvalError as DistillEvalError

__version__: str

ArrayLike = Any  # a NumPy array, a CPU tensor (__array__ / DLPack) or nested lists
PathLike = Union[str, "os.PathLike[str]"]

class ProgressBar(Protocol):
    """What report() uses of a tqdm bar."""
    def update(self, n: int) -> Any: ...
    def reset(self, total: Optional[int] = ...) -> Any: ...

# progress(done, total, model): model is "teacher", "student" or, for causal LMs, "teacher+student"
ProgressCallback = Callable[[int, int, str], Any]

class Figures:
    def __getattr__(self, name: str) -> Any: ...
    def __getitem__(self, key: str) -> Any: ...
    def __contains__(self, key: object) -> bool: ...
    def keys(self) -> KeysView[str]: ...
    def to_dict(self) -> dict: ...

class Report(Figures):
    n_examples: int
    num_classes: int
    temperature: float
    bins: int
    teacher: Figures
    student: Figures
    accuracy_retention: Optional[float]
    f1_retention: Optional[float]
    kl_divergence: float
    reverse_kl_divergence: float
    js_divergence: float
    kl_percentiles: Figures
    agreement: float
    ranking: Figures
    errors: Figures
    mcnemar: Figures
    verdict: str
    recommendation: str
    warnings: List[str]
    class_names: List[str]
    thresholds: Figures
    def to_dict(self) -> dict: ...
    def to_json(self) -> str: ...
    def to_markdown(self) -> str: ...
    def to_html(self) -> str: ...
    def to_text(self) -> str: ...
    def write_html(self, path: Union[str, "os.PathLike[str]"]) -> None: ...
    def _repr_html_(self) -> str: ...

def score(
    teacher_logits: ArrayLike,
    student_logits: ArrayLike,
    labels: ArrayLike,
    *,
    temperature: float = ...,
    bins: int = ...,
    bootstrap: Optional[int] = ...,
    seed: int = ...,
    calibrate: bool = ...,
) -> Report: ...

class Accumulator:
    def __init__(
        self,
        *,
        temperature: float = ...,
        bins: int = ...,
        bootstrap: Optional[int] = ...,
        seed: int = ...,
        calibrate: bool = ...,
    ) -> None: ...
    def update(self, teacher_logits: ArrayLike, student_logits: ArrayLike, labels: ArrayLike) -> None: ...
    @property
    def rows(self) -> int: ...
    def finish(self) -> Report: ...

def report(
    *,
    teacher: str,
    student: str,
    data: str,
    temperature: float = ...,
    bins: int = ...,
    bootstrap: Optional[int] = ...,
    seed: int = ...,
    calibrate: bool = ...,
    device: str = ...,
    dtype: str = ...,
    batch_size: int = ...,
    max_length: Optional[int] = ...,
    limit: Optional[int] = ...,
    split: str = ...,
    subset: Optional[str] = ...,
    text_field: Optional[str] = ...,
    text_pair_field: Optional[str] = ...,
    label_field: Optional[str] = ...,
    offline: bool = ...,
    context: Optional[int] = ...,
    stride: Optional[int] = ...,
    top_k: int = ...,
    choices: Optional[str] = ...,
    chunking: str = ...,
    task: Optional[str] = ...,
    max_new_tokens: Optional[int] = ...,
    prompt_field: Optional[str] = ...,
    reference_field: Optional[str] = ...,
    k: Sequence[int] = ...,
    progress: Union[ProgressCallback, ProgressBar, None] = ...,
) -> Report: ...

def score_regression(teacher_preds: ArrayLike, student_preds: ArrayLike, targets: ArrayLike) -> Report: ...
def score_ranking(
    query: Union[Sequence[Union[str, int]], ArrayLike],
    teacher_scores: ArrayLike,
    student_scores: ArrayLike,
    relevance: ArrayLike,
    *,
    k: Sequence[int] = ...,
) -> Report: ...
def score_generation(
    references: Sequence[str],
    teacher: Sequence[str],
    student: Sequence[str],
    *,
    allow_empty_hypotheses: bool = ...,
) -> Report: ...
def score_detection(
    ground_truth: Union[dict, PathLike],
    teacher_detections: Union[List[dict], PathLike],
    student_detections: Union[List[dict], PathLike],
) -> Report: ...
