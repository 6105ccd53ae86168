//! Commands and flags (clap derive; the doc comments are the help text).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use distill_eval_metrics::{MetricsConfig, Thresholds, Verdict};
use distill_eval_model::{DTypeSpec, DeviceSpec, HubOptions, LoadOptions, ModelSource};
use distill_eval_runner::bench::{bench, BenchOptions};
use distill_eval_runner::compare::{compare, expand_students, CompareOptions, Comparison};
use distill_eval_runner::data::DataOptions;
use distill_eval_runner::evaluate::Extras;
use distill_eval_runner::gate::{GateResult, Gates};
use distill_eval_runner::io::write_atomic;
use distill_eval_runner::pass::PassOptions;
use distill_eval_runner::render::{self, ColorChoice};
use distill_eval_runner::report::Report;
use distill_eval_runner::run::{
    self as runs, DataSpec, LogitsOptions, ReportOptions, Setup, TeacherSource,
};
use distill_eval_runner::score::{score, ScoreOptions};
use distill_eval_runner::track::{track, Track, TrackOptions};

/// How much did the distilled student lose against its teacher, and is it ready for production?
#[derive(Debug, Parser)]
#[command(name = "distill-eval", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No progress bars and no log output below errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Colour in the terminal report: auto, always or never (NO_COLOR is honoured).
    #[arg(long, global = true, default_value = "auto", value_parser = clap::value_parser!(ColorChoice))]
    color: ColorChoice,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a teacher and a student over labelled data and report how much the student lost
    /// (with no arguments: the bundled demo pair on the bundled data).
    Report(ReportArgs),
    /// Score saved logits (.npy, .safetensors or JSONL) against labels.
    Score(ScoreArgs),
    /// Compare several students against one teacher pass, with the Pareto frontier of
    /// accuracy and KL.
    Compare(CompareArgs),
    /// Evaluate a student's checkpoints over training against one teacher pass.
    Track(TrackArgs),
    /// Write one model's logits over the data (.npy or .safetensors), in input order.
    Logits(LogitsArgs),
    /// Measure a model's forward-pass throughput on its device, by batch size.
    Bench(BenchArgs),
}

/// Temperature, calibration bins and verdict thresholds.
#[derive(Debug, Args)]
#[command(next_help_heading = "Metrics")]
struct MetricArgs {
    /// Softmax temperature applied to both models' logits.
    #[arg(
        long,
        short = 'T',
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    temperature: f64,
    /// Number of equal-width calibration bins.
    #[arg(long, default_value_t = 10)]
    bins: usize,
    /// EXCELLENT needs accuracy retention above this...
    #[arg(long, default_value_t = 0.95, help_heading = "Verdict thresholds",
        value_parser = non_negative,
        allow_negative_numbers = true
    )]
    excellent_retention: f64,
    /// ...and KL(teacher || student) below this.
    #[arg(long, default_value_t = 0.1, help_heading = "Verdict thresholds",
        value_parser = non_negative,
        allow_negative_numbers = true
    )]
    excellent_kl: f64,
    /// GOOD needs accuracy retention above this...
    #[arg(long, default_value_t = 0.92, help_heading = "Verdict thresholds",
        value_parser = non_negative,
        allow_negative_numbers = true
    )]
    good_retention: f64,
    /// ...and KL below this.
    #[arg(long, default_value_t = 0.3, help_heading = "Verdict thresholds",
        value_parser = non_negative,
        allow_negative_numbers = true
    )]
    good_kl: f64,
    /// ACCEPTABLE needs accuracy retention above this; anything lower is WEAK.
    #[arg(long, default_value_t = 0.90, help_heading = "Verdict thresholds",
        value_parser = non_negative,
        allow_negative_numbers = true
    )]
    acceptable_retention: f64,
}

/// Parses a threshold or gate: a finite number of at least 0. (A NaN would make every
/// comparison false, so a gate of NaN could never fail.)
fn non_negative(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("must be a finite number of at least 0, got {s}"))
    }
}

impl MetricArgs {
    fn config(&self) -> Result<MetricsConfig> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            anyhow::bail!(
                "--temperature must be a positive number, got {}",
                self.temperature
            );
        }
        if self.bins == 0 {
            anyhow::bail!("--bins must be at least 1");
        }
        Ok(MetricsConfig {
            temperature: self.temperature,
            bins: self.bins,
            thresholds: Thresholds {
                excellent_retention: self.excellent_retention,
                excellent_kl: self.excellent_kl,
                good_retention: self.good_retention,
                good_kl: self.good_kl,
                acceptable_retention: self.acceptable_retention,
            },
        })
    }
}

/// Uncertainty and calibration fixes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Analysis")]
struct ExtraArgs {
    /// Paired bootstrap resamples for 95% intervals (default: 1000 below 100,000 examples,
    /// else none; 0 turns it off).
    #[arg(long, value_name = "N")]
    bootstrap: Option<usize>,
    /// Seed of the bootstrap: the same seed gives the same intervals.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fit a temperature for each model on half of the data and report ECE and NLL before and
    /// after on the other half (then the halves swap).
    #[arg(long)]
    calibrate: bool,
}

impl ExtraArgs {
    fn extras(&self) -> Extras {
        Extras {
            resamples: self.bootstrap,
            seed: self.seed,
            calibrate: self.calibrate,
        }
    }
}

/// Quality gates for CI: a failed gate exits with code 1 and one line saying why.
#[derive(Debug, Args)]
struct GateArgs {
    /// Fail when the verdict is below this level (EXCELLENT, GOOD or ACCEPTABLE).
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(Verdict), help_heading = "Quality gates")]
    fail_below: Option<Verdict>,
    /// Fail when the accuracy retention is below this (e.g. 0.95).
    #[arg(
        long,
        value_name = "X",
        help_heading = "Quality gates",
        value_parser = non_negative,
        allow_negative_numbers = true
    )]
    min_retention: Option<f64>,
    /// Fail when KL(teacher || student) is above this.
    #[arg(
        long,
        value_name = "X",
        help_heading = "Quality gates",
        value_parser = non_negative,
        allow_negative_numbers = true
    )]
    max_kl: Option<f64>,
    /// Fail when the student's ECE is above this.
    #[arg(
        long,
        value_name = "X",
        help_heading = "Quality gates",
        value_parser = non_negative,
        allow_negative_numbers = true
    )]
    max_ece: Option<f64>,
}

impl GateArgs {
    fn gates(&self) -> Gates {
        Gates {
            fail_below: self.fail_below,
            min_retention: self.min_retention,
            max_kl: self.max_kl,
            max_ece: self.max_ece,
        }
    }
}

/// Report files.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
struct OutputArgs {
    /// Write the JSON report to this file ("-" for stdout, which replaces the terminal report).
    #[arg(long, value_name = "OUT")]
    json: Option<PathBuf>,
    /// Write the Markdown report to this file ("-" for stdout).
    #[arg(long, value_name = "OUT")]
    markdown: Option<PathBuf>,
    /// Write a self-contained HTML report (charts, examples) to this file ("-" for stdout).
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
}

/// Where the computation runs.
#[derive(Debug, Args)]
#[command(next_help_heading = "Model loading")]
struct DeviceArgs {
    /// auto, cpu, cuda[:N] or metal[:N]; auto picks CUDA, then Metal, then the CPU.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(DeviceSpec))]
    device: DeviceSpec,
}

/// How checkpoints are loaded and run.
#[derive(Debug, Args)]
#[command(next_help_heading = "Model loading")]
struct LoadArgs {
    /// Weights and activations: auto (f32 on CPU, bf16 where supported), f32, f16 or bf16.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(DTypeSpec))]
    dtype: DTypeSpec,
    /// Examples per forward pass.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Truncate inputs to at most this many tokens (default: what each model accepts).
    #[arg(long)]
    max_length: Option<usize>,
    /// Never use the network: hub models and datasets must be in the cache (also HF_HUB_OFFLINE=1).
    #[arg(long)]
    offline: bool,
    /// Hub cache folder (default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

impl LoadArgs {
    fn hub(&self, progress: bool) -> HubOptions {
        HubOptions {
            offline: self.offline,
            cache_dir: self.cache_dir.clone(),
            progress,
        }
    }

    fn load(&self, progress: bool) -> LoadOptions {
        LoadOptions {
            dtype: self.dtype,
            hub: self.hub(progress),
            max_length: self.max_length,
        }
    }

    fn pass(&self, progress: bool) -> PassOptions {
        PassOptions {
            batch_size: self.batch_size.max(1),
            progress,
        }
    }
}

/// The labelled data.
#[derive(Debug, Args)]
#[command(next_help_heading = "Data")]
struct DataArgs {
    /// Labelled data: a .jsonl, .csv, .tsv or .parquet file, or hf://datasets/ORG/NAME[@REV].
    #[arg(long, value_name = "D")]
    data: Option<String>,
    /// Hub dataset subset (configuration).
    #[arg(long)]
    subset: Option<String>,
    /// Hub dataset split.
    #[arg(long, default_value = "test")]
    split: String,
    /// Column with the text (default: detected: text, sentence, content, review...).
    #[arg(long)]
    text_field: Option<String>,
    /// Column with the second text of a pair (default: detected: sentence2, hypothesis...).
    #[arg(long)]
    text_pair_field: Option<String>,
    /// Column with the label, a name or an id of the teacher (default: detected: label, labels...).
    #[arg(long)]
    label_field: Option<String>,
    /// Evaluate only the first N rows.
    #[arg(long)]
    limit: Option<usize>,
}

impl DataArgs {
    fn spec(&self, source: String) -> DataSpec {
        DataSpec {
            source,
            subset: self.subset.clone(),
            split: Some(self.split.clone()),
            options: DataOptions {
                text_field: self.text_field.clone(),
                text_pair_field: self.text_pair_field.clone(),
                label_field: self.label_field.clone(),
                limit: self.limit,
            },
        }
    }
}

/// The teacher: a checkpoint, or logits saved from it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Models")]
struct TeacherArgs {
    /// Teacher: a local folder or a hub repo id, optionally pinned as ORG/NAME@REVISION.
    #[arg(long, value_name = "M", conflicts_with = "teacher_logits")]
    teacher: Option<String>,
    /// Teacher logits saved by `distill-eval logits` (or any framework), instead of --teacher.
    #[arg(long, value_name = "FILE")]
    teacher_logits: Option<String>,
    /// Class names of the --teacher-logits columns, comma-separated (default: the names a
    /// safetensors file from `distill-eval logits` carries, else the student's label order).
    #[arg(long, value_delimiter = ',', requires = "teacher_logits")]
    teacher_labels: Option<Vec<String>>,
}

impl TeacherArgs {
    fn given(&self) -> bool {
        self.teacher.is_some() || self.teacher_logits.is_some()
    }

    fn source(&self) -> Result<TeacherSource> {
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

/// What every evaluation command shares.
#[derive(Debug, Args)]
struct EvalArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    metrics: MetricArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    extras: ExtraArgs,
    #[command(flatten)]
    gates: GateArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

impl EvalArgs {
    /// The runner's setup for data at `source`, and the resolved device.
    fn setup(&self, cli: &Cli, source: String) -> Result<(Setup, candle::Device)> {
        let metrics = self.metrics.config()?;
        let progress = show_progress(cli, json_to_stdout(&self.output));
        let device = self.device.device.resolve()?;
        let setup = Setup {
            data: self.data.spec(source),
            load: self.load.load(progress),
            pass: self.load.pass(progress),
            metrics,
            extras: self.extras.extras(),
        };
        Ok((setup, device))
    }
}

#[derive(Debug, Args)]
struct ReportArgs {
    #[command(flatten)]
    teacher: TeacherArgs,
    /// Student: a local folder or a hub repo id[@revision].
    #[arg(long, value_name = "M")]
    student: Option<String>,
    #[command(flatten)]
    eval: EvalArgs,
}

#[derive(Debug, Args)]
struct CompareArgs {
    #[command(flatten)]
    teacher: TeacherArgs,
    /// A student (repeat for each; a quoted pattern such as 'students/*' expands to every
    /// checkpoint folder it matches).
    #[arg(long, value_name = "M", required = true)]
    student: Vec<String>,
    #[command(flatten)]
    eval: EvalArgs,
}

#[derive(Debug, Args)]
struct TrackArgs {
    #[command(flatten)]
    teacher: TeacherArgs,
    /// Checkpoint folders, or a quoted pattern such as 'out/checkpoint-*' (steps come from
    /// trainer_state.json, else from the folder name).
    #[arg(long, value_name = "DIR", required = true, num_args = 1..)]
    checkpoints: Vec<String>,
    #[command(flatten)]
    eval: EvalArgs,
}

#[derive(Debug, Args)]
struct LogitsArgs {
    /// The model: a local folder or a hub repo id[@revision].
    #[arg(long, value_name = "M")]
    model: String,
    #[command(flatten)]
    data: DataArgs,
    /// Output file: .npy (float32) or .safetensors (with the class names as metadata).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// The model: a local folder or a hub repo id[@revision] (default: the bundled teacher).
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// Batch sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8, 32, 128])]
    batch_sizes: Vec<usize>,
    /// Tokens per example (capped at what the model accepts).
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    /// Untimed passes before each measurement.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed passes per batch size.
    #[arg(long, default_value_t = 10)]
    iters: usize,
    /// Write the figures as JSON to this file ("-" for stdout).
    #[arg(long, value_name = "OUT")]
    json: Option<PathBuf>,
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Debug, Args)]
struct ScoreArgs {
    /// Teacher logits, shape (n, C): .npy, .safetensors (FILE or FILE:tensor) or JSONL (arrays,
    /// or records with a "logits" array).
    #[arg(long, value_name = "FILE")]
    teacher_logits: String,
    /// Student logits, same shape and class order as the teacher's.
    #[arg(long, value_name = "FILE")]
    student_logits: String,
    /// True labels (class ids): .npy of integers, JSONL (integers, or records with a "label"),
    /// or whitespace-separated integers.
    #[arg(long, value_name = "FILE")]
    labels: PathBuf,
    #[command(flatten)]
    metrics: MetricArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    extras: ExtraArgs,
    #[command(flatten)]
    gates: GateArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

/// Parses the command line and runs the command.
pub(crate) fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match &cli.command {
        Command::Report(args) => run_report(&cli, args),
        Command::Score(args) => run_score(&cli, args),
        Command::Compare(args) => run_compare(&cli, args),
        Command::Track(args) => run_track(&cli, args),
        Command::Logits(args) => run_logits(&cli, args),
        Command::Bench(args) => run_bench(&cli, args),
    }
}

/// The bundled demo: `models/` in the current directory, else the one in the source tree.
fn bundled(rel: &str) -> String {
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

fn model_source(spec: &str) -> Result<ModelSource> {
    Ok(spec.parse::<ModelSource>()?)
}

/// Progress bars go to stderr when it is a terminal, unless --quiet or JSON goes to stdout.
fn show_progress(cli: &Cli, json_stdout: bool) -> bool {
    !cli.quiet && !json_stdout && std::io::stderr().is_terminal()
}

/// Whether a machine-readable output goes to stdout (then the terminal report does not).
fn json_to_stdout(output: &OutputArgs) -> bool {
    [&output.json, &output.markdown, &output.html]
        .into_iter()
        .any(|o| o.as_deref().is_some_and(is_stdout))
}

fn run_report(cli: &Cli, args: &ReportArgs) -> Result<ExitCode> {
    let e = &args.eval;
    let demo = !args.teacher.given() && args.student.is_none() && e.data.data.is_none();
    let (teacher, student, data) = if demo {
        (
            TeacherSource::Model(model_source(&bundled("teacher_bert"))?),
            model_source(&bundled("distilbert"))?,
            bundled("data/test.jsonl"),
        )
    } else {
        let teacher = args.teacher.source()?;
        let student = args
            .student
            .as_deref()
            .context("no student given\nhint: pass --student MODEL (a folder or a hub repo id)")?;
        (teacher, model_source(student)?, require_data(&e.data)?)
    };
    let (setup, device) = e.setup(cli, data)?;
    let mut report = runs::report(
        &ReportOptions {
            teacher,
            student,
            setup,
        },
        &device,
    )?;
    let failures = gate(&e.gates, &mut report);
    emit(cli, &e.output, &report, &failures)
}

fn require_data(data: &DataArgs) -> Result<String> {
    data.data.clone().context(
        "no data given\nhint: pass --data FILE (.jsonl, .csv, .tsv, .parquet) or \
         hf://datasets/ORG/NAME",
    )
}

/// Applies the gates to a report and records the outcome in it.
fn gate(args: &GateArgs, report: &mut Report) -> Vec<String> {
    let gates = args.gates();
    if gates.is_empty() {
        return Vec::new();
    }
    let failures = gates.failures(&report.evaluation);
    report.gate = Some(GateResult {
        passed: failures.is_empty(),
        failures: failures.clone(),
    });
    failures
}

fn run_compare(cli: &Cli, args: &CompareArgs) -> Result<ExitCode> {
    let e = &args.eval;
    let students = expand_students(&args.student)?
        .iter()
        .map(|s| model_source(s))
        .collect::<Result<Vec<_>>>()?;
    let (setup, device) = e.setup(cli, require_data(&e.data)?)?;
    let mut comparison = compare(
        &CompareOptions {
            teacher: args.teacher.source()?,
            students,
            setup,
        },
        &device,
    )?;
    // Every student must pass.
    let mut failures = Vec::new();
    for (summary, report) in comparison
        .students
        .iter()
        .zip(comparison.reports.iter_mut())
    {
        failures.extend(
            gate(&e.gates, report)
                .into_iter()
                .map(|f| format!("{}: {f}", summary.id)),
        );
    }
    if !e.gates.gates().is_empty() {
        comparison.gate = Some(GateResult {
            passed: failures.is_empty(),
            failures: failures.clone(),
        });
    }
    emit(cli, &e.output, &comparison, &failures)
}

fn run_track(cli: &Cli, args: &TrackArgs) -> Result<ExitCode> {
    let e = &args.eval;
    let (setup, device) = e.setup(cli, require_data(&e.data)?)?;
    let mut tracked = track(
        &TrackOptions {
            teacher: args.teacher.source()?,
            checkpoints: args.checkpoints.clone(),
            setup,
        },
        &device,
    )?;
    // The gates judge the latest checkpoint: the one a pipeline would ship.
    let step = tracked.points.last().map_or(0, |p| p.step);
    let failures: Vec<String> = match tracked.reports.last_mut() {
        Some(report) => gate(&e.gates, report)
            .into_iter()
            .map(|f| format!("step {step}: {f}"))
            .collect(),
        None => Vec::new(),
    };
    if !e.gates.gates().is_empty() {
        tracked.gate = Some(GateResult {
            passed: failures.is_empty(),
            failures: failures.clone(),
        });
    }
    emit(cli, &e.output, &tracked, &failures)
}

fn run_logits(cli: &Cli, args: &LogitsArgs) -> Result<ExitCode> {
    let data = require_data(&args.data)?;
    let progress = show_progress(cli, false);
    let device = args.device.device.resolve()?;
    let run = runs::logits(
        &LogitsOptions {
            model: model_source(&args.model)?,
            data: args.data.spec(data),
            out: args.out.clone(),
            load: args.load.load(progress),
            pass: args.load.pass(progress),
        },
        &device,
    )?;
    if !cli.quiet {
        let run = &run;
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "wrote {}: {} columns in the model's label order ({}), {:.1} examples/s",
            args.out.display(),
            run.labels.len(),
            run.labels.join(", "),
            run.run.examples_per_second
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_bench(cli: &Cli, args: &BenchArgs) -> Result<ExitCode> {
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| bundled("teacher_bert"));
    let device = args.device.device.resolve()?;
    let report = bench(
        &BenchOptions {
            model: model_source(&model)?,
            load: args.load.load(show_progress(cli, false)),
            batch_sizes: args.batch_sizes.clone(),
            seq_len: args.seq_len,
            warmup: args.warmup,
            iters: args.iters,
        },
        &device,
    )?;
    let json_stdout = args.json.as_deref().is_some_and(is_stdout);
    if let Some(path) = &args.json {
        let write = |w: &mut dyn Write| -> std::io::Result<()> {
            serde_json::to_writer_pretty(&mut *w, &report)?;
            writeln!(w)
        };
        if json_stdout {
            write(&mut std::io::stdout().lock())?;
        } else {
            write_atomic(path, write)
                .with_context(|| format!("cannot write the benchmark to {}", path.display()))?;
        }
    }
    if !json_stdout {
        render::bench::render(&report, &mut std::io::stdout().lock())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn run_score(cli: &Cli, args: &ScoreArgs) -> Result<ExitCode> {
    let metrics = args.metrics.config()?;
    let device = args.device.device.resolve()?;
    let mut report = score(
        &ScoreOptions {
            teacher_logits: args.teacher_logits.clone(),
            student_logits: args.student_logits.clone(),
            labels: args.labels.clone(),
            metrics,
            extras: args.extras.extras(),
        },
        &device,
    )?;
    let failures = gate(&args.gates, &mut report);
    emit(cli, &args.output, &report, &failures)
}

fn is_stdout(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// A result the CLI can write in every format.
trait Document: serde::Serialize {
    /// The terminal form.
    fn text(&self, out: &mut dyn Write, color: bool) -> std::io::Result<()>;
    /// The Markdown form.
    fn markdown(&self, out: &mut dyn Write) -> std::io::Result<()>;
    /// The self-contained HTML form.
    fn html(&self, out: &mut dyn Write) -> std::io::Result<()>;
}

impl Document for Report {
    fn text(&self, out: &mut dyn Write, color: bool) -> std::io::Result<()> {
        let opts = render::text::TextOptions {
            color,
            ..Default::default()
        };
        render::text::render(self, out, &opts)
    }
    fn markdown(&self, out: &mut dyn Write) -> std::io::Result<()> {
        render::markdown::render(self, out)
    }
    fn html(&self, out: &mut dyn Write) -> std::io::Result<()> {
        render::html::report(self, out)
    }
}

impl Document for Comparison {
    fn text(&self, out: &mut dyn Write, _color: bool) -> std::io::Result<()> {
        render::many::compare_text(self, out)
    }
    fn markdown(&self, out: &mut dyn Write) -> std::io::Result<()> {
        render::many::compare_markdown(self, out)
    }
    fn html(&self, out: &mut dyn Write) -> std::io::Result<()> {
        render::html::compare(self, out)
    }
}

impl Document for Track {
    fn text(&self, out: &mut dyn Write, _color: bool) -> std::io::Result<()> {
        render::many::track_text(self, out)
    }
    fn markdown(&self, out: &mut dyn Write) -> std::io::Result<()> {
        render::many::track_markdown(self, out)
    }
    fn html(&self, out: &mut dyn Write) -> std::io::Result<()> {
        render::html::track(self, out)
    }
}

/// Writes one output: to stdout for "-", else atomically to the file.
fn write_output(
    path: &std::path::Path,
    write: impl Fn(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    if is_stdout(path) {
        let mut out = std::io::stdout().lock();
        write(&mut out)?;
        out.flush()?;
    } else {
        write_atomic(path, write)?;
    }
    Ok(())
}

/// Writes the requested files, the terminal form unless stdout was taken, and the Markdown
/// form to `GITHUB_STEP_SUMMARY` when set; then applies the gates' outcome.
fn emit<D: Document>(
    cli: &Cli,
    output: &OutputArgs,
    doc: &D,
    failures: &[String],
) -> Result<ExitCode> {
    if let Some(path) = &output.json {
        write_output(path, |w| {
            serde_json::to_writer_pretty(&mut *w, doc)?;
            writeln!(w)
        })?;
    }
    if let Some(path) = &output.markdown {
        write_output(path, |w| doc.markdown(w))?;
    }
    if let Some(path) = &output.html {
        write_output(path, |w| doc.html(w))?;
    }
    if !json_to_stdout(output) {
        let stdout = std::io::stdout();
        let color = cli.color.enabled(stdout.is_terminal());
        let mut lock = stdout.lock();
        doc.text(&mut lock, color)?;
        lock.flush()?;
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let path = PathBuf::from(summary);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| {
                format!("cannot append to GITHUB_STEP_SUMMARY ({})", path.display())
            })?;
        let mut text = Vec::new();
        doc.markdown(&mut text)?;
        file.write_all(&text)?;
    }
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "distill-eval: quality gate failed: {}",
            failures.join("; ")
        )?;
        Ok(ExitCode::from(1))
    }
}
