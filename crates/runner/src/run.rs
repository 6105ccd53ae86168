//! `distill-eval report` and `distill-eval logits`: models and data in, a [`Report`] or a logits
//! file out. Each model runs exactly once over the data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle::{Device, Tensor};
use distill_eval_metrics::MetricsConfig;
use distill_eval_model::hub::{self, RepoKind};
use distill_eval_model::{HubOptions, LoadOptions, Model, ModelSource};

use crate::align;
use crate::data::{load_file, load_parquet_files, select_split_files, DataOptions, Dataset};
use crate::error::{Error, Result};
use crate::evaluate::{evaluate, extras, Extras, Origins};
use crate::io::{read_logits, write_logits};
use crate::pass::{run_model, PassOptions, PassOutput};
use crate::report::{DatasetInfo, ExampleText, LogitInputs, ModelRun, Report, EXAMPLES_SHOWN};

/// The prefix of hub dataset addresses.
pub const HF_DATASETS: &str = "hf://datasets/";

/// A labelled dataset to read: a local file or `hf://datasets/ORG/NAME[@revision]`.
#[derive(Debug, Clone, Default)]
pub struct DataSpec {
    /// File path or hub address.
    pub source: String,
    /// Hub dataset subset (configuration).
    pub subset: Option<String>,
    /// Hub dataset split; `test` when not given.
    pub split: Option<String>,
    /// Field names and row limit.
    pub options: DataOptions,
}

/// Reads a dataset from disk or from the hub (through the shared cache).
#[tracing::instrument(skip_all, fields(source = %spec.source))]
pub fn open_dataset(spec: &DataSpec, hub_opts: &HubOptions) -> Result<Dataset> {
    if let Some(rest) = spec.source.strip_prefix(HF_DATASETS) {
        let (repo_id, revision) = match rest.split_once('@') {
            Some((r, rev)) => (r, Some(rev)),
            None => (rest, None),
        };
        let repo = hub::open(repo_id, revision, RepoKind::Dataset, hub_opts)?;
        let files = repo.list_files()?;
        let split = spec.split.as_deref().unwrap_or("test");
        let chosen = select_split_files(&files, spec.subset.as_deref(), split)?;
        let paths = chosen
            .iter()
            .map(|f| repo.get(f).map_err(Error::from))
            .collect::<Result<Vec<PathBuf>>>()?;
        load_parquet_files(&spec.source, &paths, &spec.options)
    } else {
        load_file(Path::new(&spec.source), &spec.options)
    }
}

/// Where the teacher's logits come from.
#[derive(Debug, Clone)]
pub enum TeacherSource {
    /// Run this checkpoint.
    Model(ModelSource),
    /// Read logits saved earlier (e.g. by `distill-eval logits`), in the data's row order.
    Logits {
        /// The file (`FILE` or `FILE:tensor` for safetensors).
        spec: String,
        /// The class names of the columns; when `None`, the names the file carries
        /// (safetensors written by `distill-eval logits`), else the student's order.
        labels: Option<Vec<String>>,
    },
}

/// What every evaluation command shares: the data, how models load and run, and what to compute.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The labelled data.
    pub data: DataSpec,
    /// Dtype, hub access and truncation.
    pub load: LoadOptions,
    /// Batch size and progress.
    pub pass: PassOptions,
    /// Temperature, bins and thresholds.
    pub metrics: MetricsConfig,
    /// Bootstrap and calibration.
    pub extras: Extras,
}

/// Everything `report` needs.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The teacher checkpoint or its saved logits.
    pub teacher: TeacherSource,
    /// The student checkpoint.
    pub student: ModelSource,
    /// Data, loading and metrics.
    pub setup: Setup,
}

/// A model's logits over a dataset, with its identity and timing.
#[derive(Debug)]
pub struct ModelLogits {
    /// `(n, C)` float32 logits in the model's label order, input row order, on the device.
    pub logits: Tensor,
    /// The model's class names in its id order.
    pub labels: Vec<String>,
    /// Identity and speed.
    pub run: ModelRun,
}

/// Loads `source`, a single-label classifier, runs it once over `data`, and drops the weights
/// before returning.
pub fn model_logits(
    source: &ModelSource,
    role: &str,
    data: &Dataset,
    device: &Device,
    load: &LoadOptions,
    pass: &PassOptions,
) -> Result<ModelLogits> {
    pass_logits(source, role, data, device, load, pass, true)
}

/// `model_logits`, optionally for any head (the `logits` command writes raw outputs).
fn pass_logits(
    source: &ModelSource,
    role: &str,
    data: &Dataset,
    device: &Device,
    load: &LoadOptions,
    pass: &PassOptions,
    single_label: bool,
) -> Result<ModelLogits> {
    let model: Model = distill_eval_model::load(source, device, load)?;
    if single_label {
        model.ensure_single_label()?;
    }
    let out: PassOutput = run_model(&model, &data.rows, role, pass)?;
    let examples_per_second = out.examples_per_second();
    Ok(ModelLogits {
        logits: out.logits,
        labels: model.labels().to_vec(),
        run: ModelRun {
            info: model.info.clone(),
            seconds: out.seconds,
            examples_per_second,
        },
    })
}

/// Describes the dataset for the report.
pub fn dataset_info(spec: &DataSpec, data: &Dataset) -> DatasetInfo {
    let hub = spec.source.starts_with(HF_DATASETS);
    DatasetInfo {
        source: data.source.clone(),
        subset: spec.subset.clone().filter(|_| hub),
        split: hub.then(|| spec.split.clone().unwrap_or_else(|| "test".to_owned())),
        rows: data.rows.len(),
        text_field: data.fields.text.clone(),
        text_pair_field: data.fields.text_pair.clone(),
        label_field: data.fields.label.clone(),
    }
}

/// The texts of the dataset, for the reports that show examples.
pub fn texts(data: &Dataset) -> Vec<ExampleText> {
    data.rows
        .iter()
        .map(|r| ExampleText {
            text: r.text.clone(),
            pair: r.pair.clone(),
        })
        .collect()
}

/// Teacher logits and class names, from a model pass or a file.
pub struct TeacherSide {
    /// `(n, C)` logits in the teacher's class order.
    pub logits: Tensor,
    /// The teacher's class names.
    pub labels: Vec<String>,
    /// The model run, when a model was run.
    pub run: Option<ModelRun>,
    /// The logits file, when one was read.
    pub file: Option<String>,
}

/// Produces the teacher side: a pass of the teacher model, or saved logits whose classes are
/// taken to be in `fallback_labels` order unless the file names them.
pub fn teacher_side(
    teacher: &TeacherSource,
    data: &Dataset,
    device: &Device,
    load: &LoadOptions,
    pass: &PassOptions,
    fallback_labels: impl FnOnce() -> Vec<String>,
) -> Result<TeacherSide> {
    match teacher {
        TeacherSource::Model(src) => {
            let t = model_logits(src, "teacher", data, device, load, pass)?;
            Ok(TeacherSide {
                logits: t.logits,
                labels: t.labels,
                run: Some(t.run),
                file: None,
            })
        }
        TeacherSource::Logits { spec, labels } => {
            let logits = read_logits(spec, device)?;
            let labels = match labels {
                Some(names) => names.clone(),
                None => crate::io::read_logit_labels(spec)?.unwrap_or_else(fallback_labels),
            };
            Ok(TeacherSide {
                logits,
                labels,
                run: None,
                file: Some(spec.clone()),
            })
        }
    }
}

/// Evaluates a student against the teacher side on `data`.
pub fn student_report(
    teacher: &TeacherSide,
    student: &ModelLogits,
    data: &Dataset,
    metrics: &MetricsConfig,
    more: &Extras,
) -> Result<Report> {
    let teacher_name = teacher
        .run
        .as_ref()
        .map(|r| r.info.id.clone())
        .or_else(|| teacher.file.clone())
        .unwrap_or_default();
    let perm = align::permutation(
        &teacher.labels,
        &student.labels,
        &teacher_name,
        &student.run.info.id,
    )?;
    let student_logits = align::reorder(&student.logits, &perm)?;
    let labels = align::label_ids(
        &data.rows,
        &teacher.labels,
        &data.source,
        &data.fields.label,
    )?;
    let origins = Origins {
        teacher: teacher_name,
        student: student.run.info.id.clone(),
        labels: data.source.clone(),
    };
    let evaluation = evaluate(&teacher.logits, &student_logits, &labels, metrics, &origins)?;
    let (bootstrap, calibration) = extras(
        &teacher.logits,
        &student_logits,
        &labels,
        &evaluation,
        metrics,
        more,
    )?;
    let mut report = Report::new(
        evaluation,
        teacher.labels.clone(),
        metrics.thresholds.clone(),
    );
    report.bootstrap = bootstrap;
    report.calibration = calibration;
    report.teacher_model = teacher.run.clone();
    report.student_model = Some(student.run.clone());
    if let Some(file) = &teacher.file {
        report.inputs = Some(LogitInputs {
            teacher_logits: file.clone(),
            student_logits: String::new(),
            labels: None,
        });
    }
    report.texts = Some(texts(data));
    report.attach_details(EXAMPLES_SHOWN);
    Ok(report)
}

/// The teacher side and, when the teacher is a logits file, the pass of `first` (a student run
/// before the teacher so that the file's classes can default to its label order). A teacher
/// model runs first and `None` is returned: the caller runs its students in order.
pub fn teacher_for(
    teacher: &TeacherSource,
    first: &ModelSource,
    data: &Dataset,
    device: &Device,
    setup: &Setup,
) -> Result<(TeacherSide, Option<ModelLogits>)> {
    match teacher {
        TeacherSource::Model(_) => {
            let t = teacher_side(teacher, data, device, &setup.load, &setup.pass, Vec::new)?;
            Ok((t, None))
        }
        TeacherSource::Logits { .. } => {
            let s = model_logits(first, "student", data, device, &setup.load, &setup.pass)?;
            let names = s.labels.clone();
            let t = teacher_side(teacher, data, device, &setup.load, &setup.pass, || names)?;
            Ok((t, Some(s)))
        }
    }
}

/// `distill-eval report`: the teacher (or its saved logits) and the student over the data.
pub fn report(opts: &ReportOptions, device: &Device) -> Result<Report> {
    let setup = &opts.setup;
    let data = open_dataset(&setup.data, &setup.load.hub)?;
    let (teacher, ran) = teacher_for(&opts.teacher, &opts.student, &data, device, setup)?;
    let student = match ran {
        Some(s) => s,
        None => model_logits(
            &opts.student,
            "student",
            &data,
            device,
            &setup.load,
            &setup.pass,
        )?,
    };
    let mut report = student_report(&teacher, &student, &data, &setup.metrics, &setup.extras)?;
    report.dataset = Some(dataset_info(&setup.data, &data));
    Ok(report)
}

/// What `distill-eval logits` writes.
#[derive(Debug, Clone)]
pub struct LogitsOptions {
    /// The checkpoint.
    pub model: ModelSource,
    /// The data.
    pub data: DataSpec,
    /// `.npy` or `.safetensors` output.
    pub out: PathBuf,
    /// Dtype, hub access and truncation.
    pub load: LoadOptions,
    /// Batch size and progress.
    pub pass: PassOptions,
}

/// `distill-eval logits`: one model's logits over the data, in input order, written atomically.
/// Safetensors files carry the class names and model id as metadata.
pub fn logits(opts: &LogitsOptions, device: &Device) -> Result<ModelLogits> {
    let data = open_dataset(&opts.data, &opts.load.hub)?;
    let m = pass_logits(
        &opts.model,
        "model",
        &data,
        device,
        &opts.load,
        &opts.pass,
        false,
    )?;
    let mut metadata = HashMap::new();
    metadata.insert(
        "labels".to_owned(),
        serde_json::Value::from(m.labels.clone()).to_string(),
    );
    metadata.insert("model".to_owned(), m.run.info.id.clone());
    if let Some(rev) = &m.run.info.revision {
        metadata.insert("revision".to_owned(), rev.clone());
    }
    metadata.insert("data".to_owned(), data.source.clone());
    write_logits(&opts.out, &m.logits, &metadata)?;
    Ok(m)
}
