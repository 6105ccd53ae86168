//! `distill_eval._core`: the runner from Python. The Python package (`python/distill_eval`)
//! turns whatever it is given into C-contiguous NumPy arrays (without a copy when they already
//! are) and passes them here; this module reads their buffers in place through
//! `__array_interface__`, releases the GIL, and runs the runner's classification scorer, so
//! the report is the one `distill-eval score` writes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use candle::Device;
use distill_eval_metrics::{MetricsConfig, Thresholds};
use distill_eval_runner::engine::pass::ProgressHook;
use distill_eval_runner::engine::{Extras, Setup};
use distill_eval_runner::error::Origins;
use distill_eval_runner::family::classification::{ArrayScorer, HostLogits, HostValues};
use distill_eval_runner::output::{Document, Format};
use distill_eval_runner::report::gate::Gates;
use distill_eval_runner::report::{Report as RunnerReport, Style};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

pyo3::create_exception!(
    _core,
    DistillEvalError,
    PyValueError,
    "Bad input or a failed evaluation: the message and hint distill-eval prints."
);

/// The message the CLI prints for `e`: the error, then each cause its text does not already
/// contain (as `distill-eval`'s `main` does).
fn message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg
}

/// A runner result, its error boxed (the runner's error is large; results cross closures here).
type Outcome<T> = std::result::Result<T, Box<distill_eval_runner::Error>>;

fn to_py(e: &distill_eval_runner::Error) -> PyErr {
    DistillEvalError::new_err(message(e))
}

fn bad(msg: String) -> PyErr {
    DistillEvalError::new_err(msg)
}

/// Runs `f` without the GIL, turning a panic into a `DistillEvalError` (never an abort).
fn guarded<T: Send>(py: Python<'_>, f: impl FnOnce() -> Outcome<T> + Send) -> PyResult<T> {
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(f)));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(to_py(&e)),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(bad(format!(
                "internal error: {what}\nhint: this is a bug in distill-eval; please report it \
                 with the inputs that caused it"
            )))
        }
    }
}

/// The element type of a buffer this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    F32,
    F64,
    I64,
}

/// A C-contiguous, aligned, native-endian NumPy buffer, read in place. The Python object is
/// kept alive by the caller for as long as the view is used.
#[derive(Debug, Clone)]
struct View {
    address: usize,
    shape: Vec<usize>,
    kind: Kind,
}

impl View {
    /// Reads `obj.__array_interface__`; the Python side has already made `obj` contiguous.
    fn of(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Self> {
        let iface = obj.getattr("__array_interface__")?;
        let iface = iface.cast::<PyDict>()?;
        let get = |key: &str| -> PyResult<Bound<'_, PyAny>> {
            iface
                .get_item(key)?
                .ok_or_else(|| bad(format!("{name}: __array_interface__ has no {key:?}")))
        };
        let data = get("data")?;
        let data = data.cast::<PyTuple>()?;
        let address: usize = data.get_item(0)?.extract()?;
        let shape: Vec<usize> = get("shape")?.extract()?;
        let typestr: String = get("typestr")?.extract()?;
        let strides = iface.get_item("strides")?;
        if strides.is_some_and(|s| !s.is_none()) {
            return Err(bad(format!(
                "{name}: the array is not C-contiguous\nhint: pass it through distill_eval, \
                 which makes it contiguous"
            )));
        }
        let kind = match typestr.as_str() {
            "<f4" => Kind::F32,
            "<f8" => Kind::F64,
            "<i8" => Kind::I64,
            other => {
                return Err(bad(format!(
                    "{name}: unexpected element type {other}\nhint: pass it through \
                     distill_eval, which converts it"
                )))
            }
        };
        let elem = match kind {
            Kind::F32 => 4,
            Kind::F64 | Kind::I64 => 8,
        };
        if address % elem != 0 {
            return Err(bad(format!("{name}: the buffer is not aligned")));
        }
        Ok(Self {
            address,
            shape,
            kind,
        })
    }

    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The buffer as a slice of `T`.
    ///
    /// The caller guarantees that `T` is the view's element type and that the array outlives
    /// the slice.
    #[allow(unsafe_code)]
    fn slice<'a, T>(&self) -> &'a [T] {
        let len = self.len();
        if len == 0 {
            return &[];
        }
        // SAFETY: `View::of` checked that the address is aligned for the element type and
        // that the buffer is C-contiguous with `len` elements (the array interface's shape);
        // the caller holds a reference to the array for the whole time the slice is used,
        // and NumPy does not move or free the buffer of a referenced array.
        unsafe { std::slice::from_raw_parts(self.address as *const T, len) }
    }

    /// `(n, C)` logits, or the CLI's error for another rank.
    fn logits<'a>(&self, name: &str) -> Outcome<HostLogits<'a>> {
        let [rows, cols] = self.shape[..] else {
            return Err(Box::new(distill_eval_runner::Error::LogitsRank {
                source_name: name.to_owned(),
                shape: self.shape.clone(),
            }));
        };
        let values = match self.kind {
            Kind::F32 => HostValues::F32(self.slice()),
            Kind::F64 => HostValues::F64(self.slice()),
            Kind::I64 => unreachable!("the Python side never passes integer logits"),
        };
        Ok(HostLogits { values, rows, cols })
    }
}

/// The options shared by `score` and `Accumulator`.
#[derive(Debug, Clone)]
struct Options {
    setup: Setup,
    gates: Gates,
}

/// `(temperature, bins, bootstrap, seed, calibrate)`, as the Python wrappers pass them.
type Settings = (f64, usize, Option<usize>, u64, bool);

fn options((temperature, bins, bootstrap, seed, calibrate): Settings) -> PyResult<Options> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(bad(format!(
            "temperature must be a positive number, got {temperature}\nhint: the softmax \
             temperature divides the logits: 1 is plain softmax, 2-4 is usual for distillation"
        )));
    }
    if bins == 0 {
        return Err(bad(
            "bins must be at least 1\nhint: 10 or 15 equal-width bins are usual".to_owned(),
        ));
    }
    Ok(Options {
        setup: Setup {
            data: None,
            labels: None,
            load: Default::default(),
            pass: Default::default(),
            metrics: MetricsConfig {
                temperature,
                bins,
                thresholds: Thresholds::default(),
            },
            extras: Extras {
                resamples: bootstrap,
                seed,
                calibrate,
            },
            lm: Default::default(),
        },
        gates: Gates::default(),
    })
}

fn origins() -> Origins {
    Origins {
        teacher: "teacher_logits".to_owned(),
        student: "student_logits".to_owned(),
        labels: "labels".to_owned(),
    }
}

/// One batch's three buffers, read in place.
fn batch_views(
    teacher: &Bound<'_, PyAny>,
    student: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyAny>,
) -> PyResult<(View, View, View)> {
    let t = View::of(teacher, "teacher_logits")?;
    let s = View::of(student, "student_logits")?;
    let y = View::of(labels, "labels")?;
    for (v, name) in [(&t, "teacher_logits"), (&s, "student_logits")] {
        if v.kind == Kind::I64 {
            return Err(bad(format!("{name}: integer logits")));
        }
    }
    if y.kind != Kind::I64 || y.shape.len() != 1 {
        return Err(bad("labels: expected a 1-D int64 array".to_owned()));
    }
    Ok((t, s, y))
}

fn update(scorer: &mut ArrayScorer, t: &View, s: &View, y: &View) -> Outcome<()> {
    Ok(scorer.update(
        t.logits("teacher_logits")?,
        s.logits("student_logits")?,
        y.slice::<i64>(),
    )?)
}

/// A finished report: the runner's, rendered on demand.
#[pyclass(module = "distill_eval._core", name = "CoreReport", frozen)]
struct CoreReport {
    inner: RunnerReport,
    /// Top-level JSON keys left out (those naming the files a saved-outputs family read).
    hidden: &'static [&'static str],
    /// Each private file path, and the Python argument every rendering names instead.
    renames: Vec<(String, String)>,
}

impl CoreReport {
    fn new(inner: RunnerReport) -> Self {
        Self {
            inner,
            hidden: &[],
            renames: Vec::new(),
        }
    }

    fn render(&self, format: Format) -> PyResult<String> {
        if format == Format::Json && !self.hidden.is_empty() {
            // Straight from the report, not through its text: serde_json's parser does not
            // round every float back exactly.
            let mut value = serde_json::to_value(&self.inner)
                .map_err(|e| bad(format!("rendering the report failed: {e}")))?;
            if let Some(map) = value.as_object_mut() {
                for key in self.hidden {
                    map.remove(*key);
                }
            }
            let text = serde_json::to_string_pretty(&value)
                .map_err(|e| bad(format!("rendering the report failed: {e}")))?;
            return Ok(renamed(text, &self.renames));
        }
        let mut out = Vec::new();
        self.inner
            .render(format, &mut out, Style::default())
            .map_err(|e| bad(format!("rendering the report failed: {e}")))?;
        let text =
            String::from_utf8(out).map_err(|e| bad(format!("rendering the report failed: {e}")))?;
        Ok(renamed(text, &self.renames))
    }
}

/// `text` with each private path replaced by the name of the argument it holds.
fn renamed(mut text: String, renames: &[(String, String)]) -> String {
    for (path, name) in renames {
        text = text.replace(path.as_str(), name);
    }
    text
}

#[pymethods]
impl CoreReport {
    /// The JSON `distill-eval score --json` writes.
    fn to_json(&self) -> PyResult<String> {
        self.render(Format::Json)
    }

    /// The Markdown report.
    fn to_markdown(&self) -> PyResult<String> {
        self.render(Format::Markdown)
    }

    /// The self-contained HTML report.
    fn to_html(&self) -> PyResult<String> {
        self.render(Format::Html)
    }

    /// The terminal report (no colours).
    fn to_text(&self) -> PyResult<String> {
        self.render(Format::Text)
    }
}

/// `score` on in-memory logits: C-contiguous float32/float64 `(n, C)` arrays and int64 `(n)`
/// labels, prepared by the Python package.
#[pyfunction]
fn score(
    py: Python<'_>,
    teacher_logits: &Bound<'_, PyAny>,
    student_logits: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyAny>,
    settings: Settings,
) -> PyResult<CoreReport> {
    let opts = options(settings)?;
    let (t, s, y) = batch_views(teacher_logits, student_logits, labels)?;
    // The three arrays stay referenced by this frame while the GIL is released.
    let inner = guarded(py, move || {
        let mut scorer = ArrayScorer::new(opts.setup, opts.gates, origins(), Device::Cpu);
        update(&mut scorer, &t, &s, &y)?;
        Ok(scorer.finish()?)
    })?;
    Ok(CoreReport::new(inner))
}

/// The streaming scorer behind `distill_eval.Accumulator`.
#[pyclass(module = "distill_eval._core", name = "CoreAccumulator")]
struct CoreAccumulator {
    scorer: Option<ArrayScorer>,
}

#[pymethods]
impl CoreAccumulator {
    #[new]
    fn new(settings: Settings) -> PyResult<Self> {
        let opts = options(settings)?;
        Ok(Self {
            scorer: Some(ArrayScorer::new(
                opts.setup,
                opts.gates,
                origins(),
                Device::Cpu,
            )),
        })
    }

    fn update(
        &mut self,
        py: Python<'_>,
        teacher_logits: &Bound<'_, PyAny>,
        student_logits: &Bound<'_, PyAny>,
        labels: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (t, s, y) = batch_views(teacher_logits, student_logits, labels)?;
        let scorer = self.scorer.as_mut().ok_or_else(finished)?;
        guarded(py, move || update(scorer, &t, &s, &y))
    }

    /// Rows added so far.
    #[getter]
    fn rows(&self) -> usize {
        self.scorer.as_ref().map_or(0, ArrayScorer::rows)
    }

    fn finish(&mut self, py: Python<'_>) -> PyResult<CoreReport> {
        let scorer = self.scorer.take().ok_or_else(finished)?;
        let inner = guarded(py, move || Ok(scorer.finish()?))?;
        Ok(CoreReport::new(inner))
    }
}

fn finished() -> PyErr {
    bad(
        "the accumulator is finished\nhint: finish() returns the report once; create a new \
         Accumulator for another evaluation"
            .to_owned(),
    )
}

/// `report` on checkpoints: the options of `distill-eval report`, by the same names.
#[derive(Debug, Clone)]
struct ReportArgs {
    teacher: String,
    student: String,
    data: String,
    temperature: f64,
    bins: usize,
    bootstrap: Option<usize>,
    seed: u64,
    calibrate: bool,
    device: String,
    dtype: String,
    batch_size: usize,
    max_length: Option<usize>,
    limit: Option<usize>,
    split: String,
    subset: Option<String>,
    text_field: Option<String>,
    text_pair_field: Option<String>,
    label_field: Option<String>,
    offline: bool,
    context: Option<usize>,
    stride: Option<usize>,
    top_k: usize,
    choices: Option<String>,
    chunking: String,
    task: Option<String>,
    max_new_tokens: Option<usize>,
    prompt_field: Option<String>,
    reference_field: Option<String>,
    k: Vec<usize>,
}

/// The whole pipeline on checkpoints, as `distill-eval report` runs it; the GIL is released
/// while the models run.
#[pyfunction]
fn report(py: Python<'_>, args: &Bound<'_, PyDict>) -> PyResult<CoreReport> {
    use distill_eval_model::{DTypeSpec, DeviceSpec, HubOptions, LoadOptions, ModelSource};
    use distill_eval_runner::commands::report::{report, ReportOptions};
    use distill_eval_runner::engine::pass::PassOptions;
    use distill_eval_runner::engine::{Chunking, LmOptions, TeacherSource};
    use distill_eval_runner::input::dataset::DataOptions;
    use distill_eval_runner::input::DataSpec;

    let a = ReportArgs {
        teacher: item(args, "teacher")?,
        student: item(args, "student")?,
        data: item(args, "data")?,
        temperature: item(args, "temperature")?,
        bins: item(args, "bins")?,
        bootstrap: item(args, "bootstrap")?,
        seed: item(args, "seed")?,
        calibrate: item(args, "calibrate")?,
        device: item(args, "device")?,
        dtype: item(args, "dtype")?,
        batch_size: item(args, "batch_size")?,
        max_length: item(args, "max_length")?,
        limit: item(args, "limit")?,
        split: item(args, "split")?,
        subset: item(args, "subset")?,
        text_field: item(args, "text_field")?,
        text_pair_field: item(args, "text_pair_field")?,
        label_field: item(args, "label_field")?,
        offline: item(args, "offline")?,
        context: item(args, "context")?,
        stride: item(args, "stride")?,
        top_k: item(args, "top_k")?,
        choices: item(args, "choices")?,
        chunking: item(args, "chunking")?,
        task: item(args, "task")?,
        max_new_tokens: item(args, "max_new_tokens")?,
        prompt_field: item(args, "prompt_field")?,
        reference_field: item(args, "reference_field")?,
        k: item(args, "k")?,
    };
    let (task, task_options) = report_task(&a)?;
    let mut opts = options((a.temperature, a.bins, a.bootstrap, a.seed, a.calibrate))?;
    let parse = |what: &str, e: String| bad(format!("{what}: {e}"));
    let device: DeviceSpec = a
        .device
        .parse()
        .map_err(|e: distill_eval_model::Error| parse("device", message(&e)))?;
    let dtype: DTypeSpec = a
        .dtype
        .parse()
        .map_err(|e: distill_eval_model::Error| parse("dtype", message(&e)))?;
    let teacher: ModelSource = a
        .teacher
        .parse()
        .map_err(|e: distill_eval_model::Error| parse("teacher", message(&e)))?;
    let student: ModelSource = a
        .student
        .parse()
        .map_err(|e: distill_eval_model::Error| parse("student", message(&e)))?;
    if a.batch_size == 0 {
        return Err(bad(
            "batch_size must be at least 1\nhint: 64 is the default".to_owned(),
        ));
    }
    opts.setup.data = Some(DataSpec {
        source: a.data,
        subset: a.subset,
        split: Some(a.split),
        options: DataOptions {
            text_field: a.text_field,
            text_pair_field: a.text_pair_field,
            label_field: a.label_field,
            limit: a.limit,
            ..Default::default()
        },
    });
    opts.setup.load = LoadOptions {
        dtype,
        hub: HubOptions {
            offline: a.offline,
            cache_dir: None,
            progress: false,
        },
        max_length: a.max_length,
        ..Default::default()
    };
    if !(1..=1000).contains(&a.top_k) {
        return Err(bad(format!(
            "top_k must be between 1 and 1000, got {}\nhint: 5 is the default",
            a.top_k
        )));
    }
    if a.context.is_some_and(|c| c < 2) || a.stride == Some(0) {
        return Err(bad(
            "context must be at least 2 tokens and stride at least 1\nhint: leave them unset \
             for the model's positions and half a window"
                .to_owned(),
        ));
    }
    let chunking: Chunking = a.chunking.parse().map_err(|e: String| {
        bad(format!(
            "chunking: {e}\nhint: chunking=\"llama-cpp\" is llama-perplexity's scheme"
        ))
    })?;
    opts.setup.lm = LmOptions {
        context: a.context,
        stride: a.stride,
        top_k: a.top_k,
        choices: a.choices.map(std::path::PathBuf::from),
        chunking,
    };
    let callback: Option<Py<PyAny>> = item(args, "progress")?;
    let (hook, raised, _kept) = progress_hook(callback);
    opts.setup.pass = PassOptions {
        batch_size: a.batch_size,
        progress: false,
        hook,
    };
    let outcome = guarded(py, move || {
        let device = device.resolve().map_err(distill_eval_runner::Error::from)?;
        Ok(report(
            &ReportOptions {
                teacher: TeacherSource::Model(teacher),
                student,
                setup: opts.setup,
                gates: opts.gates,
                task,
                options: task_options,
            },
            &device,
        )?)
    });
    // The callback's own exception, when it is what stopped the run.
    if let Some(e) = raised.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    Ok(CoreReport::new(outcome?))
}

/// `report`'s family (`None`: detected from the teacher) and its options, refusing the options
/// of the other families as the CLI does.
fn report_task(
    a: &ReportArgs,
) -> PyResult<(
    Option<distill_eval_runner::family::Task>,
    distill_eval_runner::family::TaskOptions,
)> {
    use distill_eval_runner::family::{ReportTaskFields, Task, TaskOptions};

    let task = match a.task.as_deref() {
        None => None,
        Some(name) => match name.parse::<Task>() {
            Ok(t @ (Task::Generation | Task::Ranking)) => Some(t),
            _ => {
                return Err(bad(format!(
                    "task {name:?} is not one report() runs\nhint: task=\"generation\" \
                     continues prompts with two causal LMs, task=\"ranking\" reranks (query, \
                     passage) pairs with two cross-encoders; leave it unset to detect the \
                     family from the teacher's config.json"
                )))
            }
        },
    };
    let generation_given = [
        ("max_new_tokens", a.max_new_tokens.is_some()),
        ("prompt_field", a.prompt_field.is_some()),
        ("reference_field", a.reference_field.is_some()),
    ];
    if task != Some(Task::Generation) {
        if let Some((name, _)) = generation_given.iter().find(|(_, on)| *on) {
            return Err(bad(format!(
                "{name} applies to task=\"generation\" only\nhint: pass task=\"generation\" \
                 to continue the data's prompts with both models"
            )));
        }
    }
    if task != Some(Task::Ranking) && !a.k.is_empty() {
        return Err(bad(
            "k applies to task=\"ranking\" only\nhint: pass task=\"ranking\" to rank (query, \
             passage) pairs with two cross-encoders"
                .to_owned(),
        ));
    }
    if a.max_new_tokens.is_some_and(|n| !(1..=4096).contains(&n))
        || a.k.iter().any(|&k| !(1..=100_000).contains(&k))
    {
        return Err(bad(
            "max_new_tokens must be between 1 and 4096, and each k between 1 and 100000\nhint: \
             64 new tokens is the default; k adds NDCG cut-offs besides 5 and 10"
                .to_owned(),
        ));
    }
    let options = match task {
        Some(task) => TaskOptions::for_report(
            task,
            ReportTaskFields {
                text_field: a.text_field.clone(),
                label_field: a.label_field.clone(),
                prompt_field: a.prompt_field.clone(),
                reference_field: a.reference_field.clone(),
                max_new_tokens: a.max_new_tokens,
                limit: a.limit,
                k: a.k.clone(),
            },
        ),
        None => TaskOptions::default(),
    };
    Ok((task, options))
}

/// Where a progress callback's exception is kept until the run has stopped.
type Raised = Arc<Mutex<Option<PyErr>>>;

/// The runner's progress hook calling `callback(done, total, model)` with the GIL taken for
/// the call only; an exception stops the pass and is kept to be raised as it is.
///
/// The caller keeps the returned `Arc` of the callback until after the run, so that the last
/// reference to the Python object is dropped with the GIL held.
#[allow(clippy::type_complexity)]
fn progress_hook(
    callback: Option<Py<PyAny>>,
) -> (Option<ProgressHook>, Raised, Option<Arc<Py<PyAny>>>) {
    let raised = Raised::default();
    let Some(kept) = callback.map(Arc::new) else {
        return (None, raised, None);
    };
    let callback = Arc::clone(&kept);
    let slot = Arc::clone(&raised);
    let hook = ProgressHook::new(move |p| {
        Python::attach(|py| match callback.call1(py, (p.done, p.total, p.model)) {
            Ok(_) => Ok(()),
            Err(e) => {
                let text = e.to_string();
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(text.into())
            }
        })
    });
    (Some(hook), raised, Some(kept))
}

fn item<'py, T: pyo3::conversion::FromPyObjectOwned<'py>>(
    args: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<T> {
    let value = args
        .get_item(key)?
        .ok_or_else(|| bad(format!("missing option {key}")))?;
    value.extract::<T>().map_err(|e| {
        let e: PyErr = e.into();
        bad(format!("{key}: {e}"))
    })
}

/// The files of a saved-outputs family, in the places `distill-eval score --task` reads them.
#[derive(Debug, Clone)]
struct TaskFiles {
    teacher: String,
    student: String,
    labels: String,
}

/// `distill-eval score --task TASK` on files the Python package wrote in the CLI's formats (or
/// the user's own files for detection). `renames` maps each private path to the argument it
/// holds: reports and errors name the argument. `cutoffs` is ranking's `--k`, `allow_empty`
/// generation's `--allow-empty-hypotheses`.
#[pyfunction]
#[pyo3(signature = (task, teacher, student, labels, renames, cutoffs, allow_empty))]
#[allow(clippy::too_many_arguments)]
fn score_task(
    py: Python<'_>,
    task: &str,
    teacher: String,
    student: String,
    labels: String,
    renames: Vec<(String, String)>,
    cutoffs: Vec<usize>,
    allow_empty: bool,
) -> PyResult<CoreReport> {
    use distill_eval_runner::commands::score::{labels_setup, score, ScoreOptions};
    use distill_eval_runner::family::{Task, TaskOptions};

    let task: Task = task.parse().map_err(bad)?;
    let hidden: &'static [&'static str] = match task {
        Task::Regression => &["inputs"],
        Task::Ranking | Task::Generation => &["data", "fields"],
        Task::Detection => &["files"],
        Task::Classification | Task::CausalLm => {
            return Err(bad(format!("{task} is not a saved-outputs family")))
        }
    };
    let files = TaskFiles {
        teacher,
        student,
        labels,
    };
    let mut task_options = TaskOptions::default();
    task_options.ranking.cutoffs = cutoffs;
    task_options.generation.allow_empty = allow_empty;
    let defaults = options((1.0, 10, None, 0, false))?;
    let opts = ScoreOptions {
        teacher_logits: files.teacher,
        student_logits: files.student,
        setup: labels_setup(defaults.setup, files.labels.into()),
        gates: defaults.gates,
        task,
        options: task_options,
    };
    let inner = guarded(py, move || Ok(score(&opts, &Device::Cpu)?))
        .map_err(|e| bad(renamed(e.value(py).to_string(), &renames)))?;
    Ok(CoreReport {
        inner,
        hidden,
        renames,
    })
}

/// Panics inside the guard, for the tests: the interpreter must get an exception.
#[pyfunction]
fn _panic(py: Python<'_>) -> PyResult<()> {
    guarded(py, || -> Outcome<()> {
        panic!("deliberate panic for the tests")
    })
}

/// The address the module reads `array`'s buffer at, for the zero-copy tests.
#[pyfunction]
fn _address(array: &Bound<'_, PyAny>) -> PyResult<usize> {
    Ok(View::of(array, "array")?.address)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DistillEvalError", m.py().get_type::<DistillEvalError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // `track`'s rule, for the training callback.
    m.add("TRACK_RISE", distill_eval_runner::report::track::RISE)?;
    m.add("TRACK_STALL", distill_eval_runner::report::track::STALL)?;
    m.add_class::<CoreReport>()?;
    m.add_class::<CoreAccumulator>()?;
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(score_task, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    m.add_function(wrap_pyfunction!(_address, m)?)?;
    Ok(())
}
