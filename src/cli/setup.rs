//! Flags to runner options, with every check on the flags' values in one place.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use distill_eval_metrics::{MetricsConfig, Thresholds};
use distill_eval_model::{HubOptions, LoadOptions, ModelSource};
use distill_eval_runner::engine::pass::PassOptions;
use distill_eval_runner::engine::{Extras, LmOptions, Setup, TeacherSource};
use distill_eval_runner::input::dataset::DataOptions;
use distill_eval_runner::input::DataSpec;
use distill_eval_runner::output::{check_targets, Format, Request, Target};
use distill_eval_runner::report::gate::Gates;

use distill_eval_runner::family::generation::GenerationOptions;
use distill_eval_runner::family::ranking::RankingOptions;
use distill_eval_runner::family::{ReportTaskFields, Task, TaskOptions};

use distill_eval_runner::commands::saved::SavedStudent;

use super::args::{
    Cli, DataArgs, EvalArgs, ExtraArgs, GateArgs, LmArgs, LoadArgs, MetricArgs, OutputArgs,
    ReportArgs, SavedArgs, ScoreArgs, TeacherArgs,
};

/// A model spelled on the command line: a folder or a hub id.
pub(crate) fn model_source(spec: &str) -> Result<ModelSource> {
    Ok(spec.parse::<ModelSource>()?)
}

/// The bundled demo: `models/` in the current directory, else the one in the source tree.
pub(crate) fn bundled(rel: &str) -> String {
    let local = std::path::Path::new("models").join(rel);
    if local.exists() {
        return local.display().to_string();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(rel)
        .display()
        .to_string()
}

/// Progress bars go to stderr when it is a terminal, unless --quiet or an output takes stdout.
pub(crate) fn show_progress(cli: &Cli, stdout_taken: bool) -> bool {
    !cli.quiet && !stdout_taken && std::io::stderr().is_terminal()
}

impl MetricArgs {
    pub(crate) fn config(&self) -> Result<MetricsConfig> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            anyhow::bail!(
                "--temperature must be a positive number, got {}\nhint: the softmax \
                 temperature divides the logits: 1 is plain softmax, 2-4 is usual for distillation",
                self.temperature
            );
        }
        if self.bins == 0 {
            anyhow::bail!("--bins must be at least 1\nhint: 10 or 15 equal-width bins are usual");
        }
        Ok(MetricsConfig {
            temperature: self.temperature,
            bins: self.bins,
            thresholds: Thresholds {
                excellent_retention: self.excellent_retention.0,
                excellent_kl: self.excellent_kl.0,
                good_retention: self.good_retention.0,
                good_kl: self.good_kl.0,
                acceptable_retention: self.acceptable_retention.0,
            },
        })
    }
}

impl LmArgs {
    pub(crate) fn options(&self) -> LmOptions {
        LmOptions {
            context: self.context,
            stride: self.stride,
            top_k: self.top_k,
            choices: self.choices.clone(),
            chunking: self.chunking,
        }
    }
}

impl ExtraArgs {
    pub(crate) fn extras(&self) -> Extras {
        Extras {
            resamples: self.bootstrap,
            seed: self.seed,
            calibrate: self.calibrate,
        }
    }
}

impl GateArgs {
    pub(crate) fn gates(&self) -> Gates {
        Gates {
            fail_below: self.fail_below,
            min_retention: self.min_retention.map(|v| v.0),
            max_kl: self.max_kl.map(|v| v.0),
            max_ece: self.max_ece.map(|v| v.0),
            max_perplexity_ratio: self.max_perplexity_ratio.map(|v| v.0),
        }
    }
}

impl OutputArgs {
    /// The requested outputs, in the order they are written.
    pub(crate) fn requests(&self) -> Vec<(&'static str, Request)> {
        [
            ("--json", Format::Json, &self.json),
            ("--markdown", Format::Markdown, &self.markdown),
            ("--html", Format::Html, &self.html),
        ]
        .into_iter()
        .filter_map(|(flag, format, path)| {
            path.as_deref().map(|p| {
                (
                    flag,
                    Request {
                        format,
                        target: Target::parse(p),
                    },
                )
            })
        })
        .collect()
    }

    /// Whether an output goes to stdout (then the terminal report does not).
    pub(crate) fn takes_stdout(&self) -> bool {
        self.requests().iter().any(|(_, r)| r.target.is_stdout())
    }
}

/// Checks the outputs against each other and the command's inputs, and returns them.
pub(crate) fn outputs(
    requests: Vec<(&'static str, Request)>,
    inputs: &[PathBuf],
) -> Result<Vec<Request>> {
    let targets: Vec<(&str, Target)> = requests
        .iter()
        .map(|(flag, r)| (*flag, r.target.clone()))
        .collect();
    check_targets(&targets, inputs)?;
    Ok(requests.into_iter().map(|(_, r)| r).collect())
}

impl LoadArgs {
    pub(crate) fn hub(&self, progress: bool) -> HubOptions {
        HubOptions {
            offline: self.offline,
            cache_dir: self.cache_dir.clone(),
            progress,
        }
    }

    pub(crate) fn load(&self, progress: bool) -> LoadOptions {
        LoadOptions {
            dtype: self.dtype,
            hub: self.hub(progress),
            max_length: self.max_length,
            gguf_file: self.gguf_file.clone(),
        }
    }

    pub(crate) fn pass(&self, progress: bool) -> PassOptions {
        PassOptions {
            batch_size: self.batch_size.max(1),
            progress,
            hook: None,
        }
    }
}

impl DataArgs {
    pub(crate) fn spec(&self, source: String) -> DataSpec {
        DataSpec {
            source,
            subset: self.subset.clone(),
            split: Some(self.split.clone()),
            options: DataOptions {
                text_field: self.text_field.clone(),
                text_pair_field: self.text_pair_field.clone(),
                label_field: self.label_field.clone(),
                limit: self.limit,
                texts_only: false,
                numeric_labels: false,
            },
        }
    }

    /// The data source, required.
    pub(crate) fn require(&self) -> Result<String> {
        self.data.clone().context(
            "no data given\nhint: pass --data FILE (.jsonl, .csv, .tsv, .parquet) or \
             hf://datasets/ORG/NAME",
        )
    }
}

impl TeacherArgs {
    pub(crate) fn given(&self) -> bool {
        self.teacher.is_some() || self.teacher_logits.is_some()
    }

    pub(crate) fn source(&self) -> Result<TeacherSource> {
        match (&self.teacher, &self.teacher_logits) {
            (Some(m), None) => Ok(TeacherSource::Model(model_source(m)?)),
            (None, Some(f)) => Ok(TeacherSource::Logits {
                spec: f.clone(),
                labels: self.teacher_labels.clone(),
            }),
            _ => anyhow::bail!(
                "no teacher given\nhint: pass --teacher MODEL or --teacher-logits FILE"
            ),
        }
    }
}

/// Everything an evaluation command needs from its flags.
pub(crate) struct Evaluation {
    /// The runner's setup.
    pub(crate) setup: Setup,
    /// The resolved device.
    pub(crate) device: candle::Device,
    /// The gates.
    pub(crate) gates: Gates,
    /// The outputs, checked.
    pub(crate) outputs: Vec<Request>,
}

impl EvalArgs {
    /// The setup for data at `source`; `inputs` are the files and folders the command reads
    /// (no output may overwrite them).
    pub(crate) fn evaluation(
        &self,
        cli: &Cli,
        source: String,
        inputs: &[PathBuf],
    ) -> Result<Evaluation> {
        let outputs = outputs(self.output.requests(), inputs)?;
        let metrics = self.metrics.config()?;
        let progress = show_progress(cli, self.output.takes_stdout());
        let device = self.device.device.resolve()?;
        let setup = Setup {
            data: Some(self.data.spec(source)),
            labels: None,
            load: self.load.load(progress),
            pass: self.load.pass(progress),
            metrics,
            extras: self.extras.extras(),
            lm: self.lm.options(),
        };
        Ok(Evaluation {
            setup,
            device,
            gates: self.gates.gates(),
            outputs,
        })
    }
}

/// The family `report` was asked for (`None`: detected from the teacher) and its options,
/// checking that the flags given apply to it.
pub(crate) fn report_task(args: &ReportArgs) -> Result<(Option<Task>, TaskOptions)> {
    let g = &args.generation;
    let e = &args.eval;
    let generation_flags = [
        ("--max-new-tokens", g.max_new_tokens.is_some()),
        ("--prompt-field", g.prompt_field.is_some()),
        ("--reference-field", g.reference_field.is_some()),
    ];
    // Classifiers' and causal LMs' flags, which neither generation nor reranking takes.
    let model_flags = [
        ("--temperature", e.metrics.temperature != 1.0),
        ("--bins", e.metrics.bins != 10),
        ("--calibrate", e.extras.calibrate),
        ("--choices", e.lm.choices.is_some()),
        ("--context", e.lm.context.is_some()),
        ("--stride", e.lm.stride.is_some()),
    ];
    let teacher_logits = ("--teacher-logits", args.teacher.teacher_logits.is_some());
    match args.task {
        None => {
            if let Some((flag, _)) = generation_flags.iter().find(|(_, on)| *on) {
                anyhow::bail!(
                    "{flag} applies to report --task generation only\nhint: add --task \
                     generation to continue the --data records' prompts with both models"
                );
            }
            if !args.rerank.k.is_empty() {
                anyhow::bail!(
                    "--k applies to report --task ranking only\nhint: add --task ranking to \
                     rank the --data (query, passage) pairs with two cross-encoders"
                );
            }
            Ok((None, TaskOptions::default()))
        }
        Some(Task::Generation) => {
            let d = &e.data;
            let ignored = [
                teacher_logits,
                ("--text-field", d.text_field.is_some()),
                ("--text-pair-field", d.text_pair_field.is_some()),
                ("--label-field", d.label_field.is_some()),
                ("--subset", d.subset.is_some()),
            ]
            .into_iter()
            .chain(model_flags)
            .chain([("--k", !args.rerank.k.is_empty())]);
            if let Some((flag, _)) = ignored.into_iter().find(|(_, on)| *on) {
                anyhow::bail!(
                    "{flag} does not apply to report --task generation\nhint: report --task \
                     generation reads --teacher and --student causal LMs and --data records \
                     of prompt and reference (JSON Lines)"
                );
            }
            if d.data.as_deref().is_some_and(|s| s.starts_with("hf://")) {
                anyhow::bail!(
                    "report --task generation reads a local JSON Lines file of prompt and \
                     reference records, not a hub dataset\nhint: export the rows to a .jsonl \
                     file and pass it with --data"
                );
            }
            Ok((
                Some(Task::Generation),
                report_options(Task::Generation, args),
            ))
        }
        Some(Task::Ranking) => {
            let ignored = [teacher_logits]
                .into_iter()
                .chain(generation_flags)
                .chain(model_flags);
            if let Some((flag, _)) = ignored.into_iter().find(|(_, on)| *on) {
                anyhow::bail!(
                    "{flag} does not apply to report --task ranking\nhint: report --task \
                     ranking reads --teacher and --student cross-encoders (one-output heads) \
                     and --data rows of query (--text-field), passage (--text-pair-field) and \
                     relevance (--label-field)"
                );
            }
            Ok((Some(Task::Ranking), report_options(Task::Ranking, args)))
        }
        Some(other) => anyhow::bail!(
            "report --task {other} is not available: report detects the classification, \
             regression and causal-lm families from the teacher's config.json\nhint: leave \
             --task out, pass --task generation to generate with two causal LMs, or --task \
             ranking to rerank (query, passage) pairs with two cross-encoders"
        ),
    }
}

/// The options of `report --task task` from its flags.
fn report_options(task: Task, args: &ReportArgs) -> TaskOptions {
    let (g, d) = (&args.generation, &args.eval.data);
    TaskOptions::for_report(
        task,
        ReportTaskFields {
            text_field: d.text_field.clone(),
            label_field: d.label_field.clone(),
            prompt_field: g.prompt_field.clone(),
            reference_field: g.reference_field.clone(),
            max_new_tokens: g.max_new_tokens,
            limit: d.limit,
            k: args.rerank.k.clone(),
        },
    )
}

/// The local files among a command's inputs: paths that exist (hub ids and patterns do not).
pub(crate) fn local_inputs<'a>(specs: impl IntoIterator<Item = &'a str>) -> Vec<PathBuf> {
    specs
        .into_iter()
        .map(|s| {
            // `FILE:tensor` names a safetensors file.
            let path = PathBuf::from(s);
            if path.exists() {
                return path;
            }
            s.rsplit_once(':')
                .map_or(path, |(file, _)| PathBuf::from(file))
        })
        .filter(|p| p.exists())
        .collect()
}

/// The three files `score` reads, whatever the family (see `ScoreOptions`), and the family's
/// own options.
pub(crate) struct ScoreInputs {
    /// The teacher's outputs.
    pub(crate) teacher: String,
    /// The student's outputs.
    pub(crate) student: String,
    /// The labels, targets, records or ground truth.
    pub(crate) labels: PathBuf,
    /// Field names and settings.
    pub(crate) options: TaskOptions,
}

impl ScoreArgs {
    /// Checks that exactly the flags of the family were given, and gathers its inputs.
    pub(crate) fn inputs(&self) -> Result<ScoreInputs> {
        let (r, d) = (&self.records, &self.detection);
        let given: Vec<(&str, bool)> = vec![
            ("--teacher-logits", self.teacher_logits.is_some()),
            ("--student-logits", self.student_logits.is_some()),
            ("--labels", self.labels.is_some()),
            ("--data", r.data.is_some()),
            ("--query-field", r.query_field.is_some()),
            ("--relevance-field", r.relevance_field.is_some()),
            ("--teacher-field", r.teacher_field.is_some()),
            ("--student-field", r.student_field.is_some()),
            ("--k", !r.k.is_empty()),
            ("--reference-field", r.reference_field.is_some()),
            ("--allow-empty-hypotheses", r.allow_empty_hypotheses),
            ("--ground-truth", d.ground_truth.is_some()),
            ("--teacher-detections", d.teacher_detections.is_some()),
            ("--student-detections", d.student_detections.is_some()),
        ];
        let (required, optional, example): (&[&str], &[&str], &str) = match self.task {
            Task::CausalLm => anyhow::bail!(
                "score --task causal-lm: saved outputs are not read for causal LMs, whose \
                 token-level figures need both models run over the documents\nhint: run \
                 distill-eval report --teacher T --student S --data texts.jsonl"
            ),
            Task::Classification | Task::Regression => (
                &["--teacher-logits", "--student-logits", "--labels"],
                &[],
                "--teacher-logits T.npy --student-logits S.npy --labels Y.npy",
            ),
            Task::Ranking => (
                &["--data"],
                &[
                    "--query-field",
                    "--relevance-field",
                    "--teacher-field",
                    "--student-field",
                    "--k",
                ],
                "--data rows.jsonl (records of query, relevance, teacher, student)",
            ),
            Task::Generation => (
                &["--data"],
                &[
                    "--reference-field",
                    "--teacher-field",
                    "--student-field",
                    "--allow-empty-hypotheses",
                ],
                "--data rows.jsonl (records of reference, teacher, student)",
            ),
            Task::Detection => (
                &[
                    "--ground-truth",
                    "--teacher-detections",
                    "--student-detections",
                ],
                &[],
                "--ground-truth gt.json --teacher-detections t.json --student-detections s.json",
            ),
        };
        let task = self.task;
        if task != Task::Classification {
            // These shape the classification report only; the other families have no
            // softmax or calibration bins, so a value would be ignored. (`--bootstrap` and
            // `--seed` resample each family's units.)
            let ignored = [
                ("--temperature", self.metrics.temperature != 1.0),
                ("--bins", self.metrics.bins != 10),
                ("--calibrate", self.extras.calibrate),
            ];
            if let Some((flag, _)) = ignored.iter().find(|(_, on)| *on) {
                anyhow::bail!(
                    "{flag} does not apply to score --task {task}\nhint: it is a setting of \
                     the classification report; leave it out"
                );
            }
        }
        if let Some((flag, _)) = given
            .iter()
            .find(|(f, on)| *on && !required.contains(f) && !optional.contains(f))
        {
            anyhow::bail!(
                "{flag} does not apply to score --task {task}\nhint: score --task {task} reads \
                 {example}"
            );
        }
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|f| !given.iter().any(|(g, on)| g == f && *on))
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "score --task {task} needs {}\nhint: pass {example}",
                missing.join(", ")
            );
        }
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let or = |v: &Option<String>, default: String| v.clone().unwrap_or(default);
        let ranking = RankingOptions::default();
        let generation = GenerationOptions::default();
        let options = TaskOptions {
            ranking: RankingOptions {
                query_field: or(&r.query_field, ranking.query_field),
                relevance_field: or(&r.relevance_field, ranking.relevance_field),
                teacher_field: or(&r.teacher_field, ranking.teacher_field),
                student_field: or(&r.student_field, ranking.student_field),
                cutoffs: r.k.clone(),
            },
            generation: GenerationOptions {
                reference_field: or(&r.reference_field, generation.reference_field),
                teacher_field: or(&r.teacher_field, generation.teacher_field),
                student_field: or(&r.student_field, generation.student_field),
                allow_empty: r.allow_empty_hypotheses,
                ..GenerationOptions::default()
            },
        };
        // Every `unwrap_or_default` below is of a flag checked as required above.
        let (teacher, student, labels) = match self.task {
            // Causal LMs were refused above.
            Task::Classification | Task::Regression | Task::CausalLm => (
                self.teacher_logits.clone().unwrap_or_default(),
                self.student_logits.clone().unwrap_or_default(),
                self.labels.clone().unwrap_or_default(),
            ),
            Task::Ranking | Task::Generation => {
                let data = r.data.clone().unwrap_or_default();
                let file = data.display().to_string();
                (file.clone(), file, data)
            }
            Task::Detection => (
                path(&d.teacher_detections).unwrap_or_default(),
                path(&d.student_detections).unwrap_or_default(),
                d.ground_truth.clone().unwrap_or_default(),
            ),
        };
        Ok(ScoreInputs {
            teacher,
            student,
            labels,
            options,
        })
    }
}

/// What a saved-outputs `compare` or `track` reads: the teacher's file, the students and the
/// labels file (targets, records or ground truth), with the family's options.
pub(crate) struct SavedInputs {
    /// The teacher's outputs.
    pub(crate) teacher: String,
    /// The students, named by file or field.
    pub(crate) students: Vec<SavedStudent>,
    /// The targets, records or ground truth.
    pub(crate) labels: PathBuf,
    /// Field names and settings.
    pub(crate) options: TaskOptions,
}

impl SavedArgs {
    /// Without `--task` none of the saved-output flags applies.
    pub(crate) fn refuse_without_task(&self) -> Result<()> {
        let given = [
            ("--student-logits", !self.student_logits.is_empty()),
            ("--labels", self.labels.is_some()),
            ("--query-field", self.query_field.is_some()),
            ("--relevance-field", self.relevance_field.is_some()),
            ("--teacher-field", self.teacher_field.is_some()),
            ("--student-field", !self.student_field.is_empty()),
            ("--k", !self.k.is_empty()),
            ("--reference-field", self.reference_field.is_some()),
            ("--allow-empty-hypotheses", self.allow_empty_hypotheses),
            ("--ground-truth", self.ground_truth.is_some()),
            ("--teacher-detections", self.teacher_detections.is_some()),
            ("--student-detections", !self.student_detections.is_empty()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, on)| *on) {
            anyhow::bail!(
                "{flag} reads saved outputs of a task family\nhint: add --task regression, \
                 ranking, generation or detection"
            );
        }
        Ok(())
    }

    /// Checks that exactly the flags of the family were given (`command` names the command in
    /// messages), and gathers its inputs; `data` is `--data`, `teacher` the teacher flags.
    pub(crate) fn inputs(
        &self,
        command: &str,
        task: Task,
        teacher: &TeacherArgs,
        data: Option<&str>,
        checkpoints: bool,
    ) -> Result<SavedInputs> {
        let given: Vec<(&str, bool)> = vec![
            ("--teacher", teacher.teacher.is_some()),
            ("--teacher-labels", teacher.teacher_labels.is_some()),
            (
                if command == "track" {
                    "--checkpoints"
                } else {
                    "--student"
                },
                checkpoints,
            ),
            ("--teacher-logits", teacher.teacher_logits.is_some()),
            ("--student-logits", !self.student_logits.is_empty()),
            ("--labels", self.labels.is_some()),
            ("--data", data.is_some()),
            ("--query-field", self.query_field.is_some()),
            ("--relevance-field", self.relevance_field.is_some()),
            ("--teacher-field", self.teacher_field.is_some()),
            ("--student-field", !self.student_field.is_empty()),
            ("--k", !self.k.is_empty()),
            ("--reference-field", self.reference_field.is_some()),
            ("--allow-empty-hypotheses", self.allow_empty_hypotheses),
            ("--ground-truth", self.ground_truth.is_some()),
            ("--teacher-detections", self.teacher_detections.is_some()),
            ("--student-detections", !self.student_detections.is_empty()),
        ];
        let (required, optional, example): (&[&str], &[&str], &str) = match task {
            Task::Classification | Task::CausalLm => anyhow::bail!(
                "{command} --task {task}: --task reads saved outputs of regression, ranking, \
                 generation or detection\nhint: for classifiers and causal LMs pass \
                 --teacher and --student checkpoints (or --teacher-logits), without --task"
            ),
            Task::Regression => (
                &["--teacher-logits", "--student-logits", "--labels"],
                &[],
                "--teacher-logits T.npy --student-logits S1.npy --student-logits S2.npy \
                 --labels Y.npy",
            ),
            Task::Ranking => (
                &["--data", "--student-field"],
                &[
                    "--query-field",
                    "--relevance-field",
                    "--teacher-field",
                    "--k",
                ],
                "--data rows.jsonl --student-field student_a --student-field student_b",
            ),
            Task::Generation => (
                &["--data", "--student-field"],
                &[
                    "--reference-field",
                    "--teacher-field",
                    "--allow-empty-hypotheses",
                ],
                "--data rows.jsonl --student-field student_a --student-field student_b",
            ),
            Task::Detection => (
                &[
                    "--ground-truth",
                    "--teacher-detections",
                    "--student-detections",
                ],
                &[],
                "--ground-truth gt.json --teacher-detections t.json --student-detections s1.json \
                 --student-detections s2.json",
            ),
        };
        if let Some((flag, _)) = given
            .iter()
            .find(|(f, on)| *on && !required.contains(f) && !optional.contains(f))
        {
            anyhow::bail!(
                "{flag} does not apply to {command} --task {task}\nhint: {command} --task {task} \
                 reads {example}"
            );
        }
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|f| !given.iter().any(|(g, on)| g == f && *on))
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "{command} --task {task} needs {}\nhint: pass {example}",
                missing.join(", ")
            );
        }
        let or = |v: &Option<String>, default: String| v.clone().unwrap_or(default);
        let ranking = RankingOptions::default();
        let generation = GenerationOptions::default();
        let options = TaskOptions {
            ranking: RankingOptions {
                query_field: or(&self.query_field, ranking.query_field),
                relevance_field: or(&self.relevance_field, ranking.relevance_field),
                teacher_field: or(&self.teacher_field, ranking.teacher_field),
                student_field: ranking.student_field,
                cutoffs: self.k.clone(),
            },
            generation: GenerationOptions {
                reference_field: or(&self.reference_field, generation.reference_field),
                teacher_field: or(&self.teacher_field, generation.teacher_field),
                student_field: generation.student_field,
                allow_empty: self.allow_empty_hypotheses,
                ..GenerationOptions::default()
            },
        };
        let file = |name: String| SavedStudent {
            file: name.clone(),
            name,
            field: None,
        };
        // Every `unwrap_or_default` below is of a flag checked as required above.
        let (teacher, students, labels) = match task {
            Task::Classification | Task::CausalLm => {
                anyhow::bail!("{command} --task {task} reads no saved outputs")
            }
            Task::Regression => (
                teacher.teacher_logits.clone().unwrap_or_default(),
                self.student_logits.iter().cloned().map(file).collect(),
                self.labels.clone().unwrap_or_default(),
            ),
            Task::Ranking | Task::Generation => {
                let data = data.unwrap_or_default().to_owned();
                let students = self
                    .student_field
                    .iter()
                    .map(|f| SavedStudent {
                        name: f.clone(),
                        file: data.clone(),
                        field: Some(f.clone()),
                    })
                    .collect();
                (data.clone(), students, PathBuf::from(data))
            }
            Task::Detection => (
                self.teacher_detections
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                self.student_detections
                    .iter()
                    .map(|p| file(p.display().to_string()))
                    .collect(),
                self.ground_truth.clone().unwrap_or_default(),
            ),
        };
        Ok(SavedInputs {
            teacher,
            students,
            labels,
            options,
        })
    }
}
