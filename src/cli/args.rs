//! The command line's definition (clap derive; the doc comments are the help text) and
//! nothing else: turning flags into runner options is `setup.rs`'s job.

use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};
use distill_eval_metrics::Verdict;
use distill_eval_model::{DTypeSpec, DeviceSpec};
use distill_eval_runner::render::ColorChoice;

/// The help heading of the verdict thresholds.
const THRESHOLDS: &str = "Verdict thresholds";

/// A threshold or gate: a finite number of at least 0. (A NaN would make every comparison
/// false, so a gate of NaN could never fail.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NonNegative(pub(crate) f64);

impl FromStr for NonNegative {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a number"))?;
        if v.is_finite() && v >= 0.0 {
            Ok(Self(v))
        } else {
            Err(format!("must be a finite number of at least 0, got {s}"))
        }
    }
}

/// Parses a count in `LO..=HI`: every size flag has a bounded range, so no value can ask for
/// an absurd allocation (the README's "Limits" lists them).
pub(crate) fn within<const LO: usize, const HI: usize>(s: &str) -> Result<usize, String> {
    let v: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if (LO..=HI).contains(&v) {
        Ok(v)
    } else if HI == usize::MAX {
        Err(format!("must be at least {LO}, got {s}"))
    } else {
        Err(format!("must be from {LO} to {HI}, got {s}"))
    }
}

impl std::fmt::Display for NonNegative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How much did the distilled student lose against its teacher, and is it ready for production?
#[derive(Debug, Parser)]
#[command(name = "distill-eval", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// No progress bars and no log output below errors.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Colour in the terminal report: auto, always or never (NO_COLOR is honoured).
    #[arg(long, global = true, default_value = "auto", value_parser = clap::value_parser!(ColorChoice))]
    pub(crate) color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a teacher and a student over labelled data and report how much the student lost
    /// (with no arguments: the bundled demo pair on the bundled data).
    Report(ReportArgs),
    /// Score saved outputs against the truth: logits against labels (or, with --task,
    /// regression predictions, ranking scores, generations or COCO detections).
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
pub(crate) struct MetricArgs {
    /// Softmax temperature applied to both models' logits.
    #[arg(
        long,
        short = 'T',
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub(crate) temperature: f64,
    /// Number of equal-width calibration bins.
    #[arg(long, default_value_t = 10, value_parser = within::<1, 10_000>)]
    pub(crate) bins: usize,
    /// EXCELLENT needs accuracy retention above this...
    #[arg(long, default_value_t = NonNegative(0.95), help_heading = THRESHOLDS, allow_negative_numbers = true)]
    pub(crate) excellent_retention: NonNegative,
    /// ...and KL(teacher || student) below this.
    #[arg(long, default_value_t = NonNegative(0.1), help_heading = THRESHOLDS, allow_negative_numbers = true)]
    pub(crate) excellent_kl: NonNegative,
    /// GOOD needs accuracy retention above this...
    #[arg(long, default_value_t = NonNegative(0.92), help_heading = THRESHOLDS, allow_negative_numbers = true)]
    pub(crate) good_retention: NonNegative,
    /// ...and KL below this.
    #[arg(long, default_value_t = NonNegative(0.3), help_heading = THRESHOLDS, allow_negative_numbers = true)]
    pub(crate) good_kl: NonNegative,
    /// ACCEPTABLE needs accuracy retention above this; anything lower is WEAK.
    #[arg(long, default_value_t = NonNegative(0.90), help_heading = THRESHOLDS, allow_negative_numbers = true)]
    pub(crate) acceptable_retention: NonNegative,
}

/// Uncertainty and calibration fixes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Analysis")]
pub(crate) struct ExtraArgs {
    /// Paired bootstrap resamples for 95% intervals (default: 1000 below 100,000 examples,
    /// else none; 0 turns it off).
    #[arg(long, value_name = "N", value_parser = within::<0, 100_000>)]
    pub(crate) bootstrap: Option<usize>,
    /// Seed of the bootstrap: the same seed gives the same intervals.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Fit a temperature for each model on half of the data and report ECE and NLL before and
    /// after on the other half (then the halves swap).
    #[arg(long)]
    pub(crate) calibrate: bool,
}

/// Quality gates for CI: a failed gate exits with code 1 and one line saying why.
#[derive(Debug, Args)]
#[command(next_help_heading = "Quality gates")]
pub(crate) struct GateArgs {
    /// Fail when the verdict is below this level (EXCELLENT, GOOD or ACCEPTABLE).
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(Verdict))]
    pub(crate) fail_below: Option<Verdict>,
    /// Fail when the accuracy retention is below this (e.g. 0.95).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub(crate) min_retention: Option<NonNegative>,
    /// Fail when KL(teacher || student) is above this.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub(crate) max_kl: Option<NonNegative>,
    /// Fail when the student's ECE is above this.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub(crate) max_ece: Option<NonNegative>,
    /// Causal LMs: fail when PPL(student) / PPL(teacher) is above this (e.g. 1.05).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub(crate) max_perplexity_ratio: Option<NonNegative>,
}

/// How causal LMs are scored (ignored for classifiers).
#[derive(Debug, Args)]
#[command(next_help_heading = "Causal LMs")]
pub(crate) struct LmArgs {
    /// Tokens per window (default: the models' maximum positions, capped at 2048).
    #[arg(long, value_name = "N", value_parser = within::<2, 1_048_576>)]
    pub(crate) context: Option<usize>,
    /// Tokens each window advances (default: half the window); every token is scored once,
    /// with at least context - stride tokens before it.
    #[arg(long, value_name = "K", value_parser = within::<1, 1_048_576>)]
    pub(crate) stride: Option<usize>,
    /// The k of the top-k overlap.
    #[arg(long, value_name = "K", default_value_t = 5, value_parser = within::<1, 1000>)]
    pub(crate) top_k: usize,
    /// Multiple-choice questions: JSONL of `question`, `choices` (texts) and `answer` (index).
    #[arg(long, value_name = "FILE")]
    pub(crate) choices: Option<PathBuf>,
    /// windows (each document alone, every token scored once) or llama-cpp (llama-perplexity's
    /// scheme: one token stream in chunks of --context, each chunk's second half scored).
    #[arg(long, default_value = "windows", value_parser = clap::value_parser!(distill_eval_runner::engine::Chunking))]
    pub(crate) chunking: distill_eval_runner::engine::Chunking,
}

/// Report files.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub(crate) struct OutputArgs {
    /// Write the JSON report to this file ("-" for stdout, which replaces the terminal report).
    #[arg(long, value_name = "OUT")]
    pub(crate) json: Option<PathBuf>,
    /// Write the Markdown report to this file ("-" for stdout).
    #[arg(long, value_name = "OUT")]
    pub(crate) markdown: Option<PathBuf>,
    /// Write a self-contained HTML report (charts, examples) to this file ("-" for stdout).
    #[arg(long, value_name = "OUT")]
    pub(crate) html: Option<PathBuf>,
}

/// Where the computation runs.
#[derive(Debug, Args)]
#[command(next_help_heading = "Model loading")]
pub(crate) struct DeviceArgs {
    /// auto, cpu, cuda[:N] or metal[:N]; auto picks CUDA, then Metal, then the CPU.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(DeviceSpec))]
    pub(crate) device: DeviceSpec,
}

/// How checkpoints are loaded and run.
#[derive(Debug, Args)]
#[command(next_help_heading = "Model loading")]
pub(crate) struct LoadArgs {
    /// Weights and activations: auto (f32 on CPU, bf16 where supported), f32, f16 or bf16.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(DTypeSpec))]
    pub(crate) dtype: DTypeSpec,
    /// Examples per forward pass.
    #[arg(long, default_value_t = 64, value_parser = within::<1, 65_536>)]
    pub(crate) batch_size: usize,
    /// Truncate inputs to at most this many tokens (default: what each model accepts).
    #[arg(long, value_parser = within::<1, 1_048_576>)]
    pub(crate) max_length: Option<usize>,
    /// Load a model folder or hub repo that holds this .gguf file from that file (a path
    /// ending in .gguf is loaded as GGUF without it).
    #[arg(long, value_name = "NAME")]
    pub(crate) gguf_file: Option<String>,
    /// Never use the network: hub models and datasets must be in the cache (also HF_HUB_OFFLINE=1).
    #[arg(long)]
    pub(crate) offline: bool,
    /// Hub cache folder (default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub).
    #[arg(long, value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
}

/// The labelled data.
#[derive(Debug, Args)]
#[command(next_help_heading = "Data")]
pub(crate) struct DataArgs {
    /// Labelled data: a .jsonl, .csv, .tsv or .parquet file, or hf://datasets/ORG/NAME[@REV]
    /// (for causal LMs, a text column suffices, and a .txt file is one document).
    #[arg(long, value_name = "D")]
    pub(crate) data: Option<String>,
    /// Hub dataset subset (configuration).
    #[arg(long)]
    pub(crate) subset: Option<String>,
    /// Hub dataset split.
    #[arg(long, default_value = "test")]
    pub(crate) split: String,
    /// Column with the text (default: detected: text, sentence, content, review...).
    #[arg(long)]
    pub(crate) text_field: Option<String>,
    /// Column with the second text of a pair (default: detected: sentence2, hypothesis...).
    #[arg(long)]
    pub(crate) text_pair_field: Option<String>,
    /// Column with the label, a name or an id of the teacher (default: detected: label, labels...).
    #[arg(long)]
    pub(crate) label_field: Option<String>,
    /// Evaluate only the first N rows.
    #[arg(long, value_parser = within::<1, { usize::MAX }>)]
    pub(crate) limit: Option<usize>,
}

/// The teacher: a checkpoint, or logits saved from it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Models")]
pub(crate) struct TeacherArgs {
    /// Teacher: a local folder or a hub repo id, optionally pinned as ORG/NAME@REVISION.
    #[arg(long, value_name = "M", conflicts_with = "teacher_logits")]
    pub(crate) teacher: Option<String>,
    /// Teacher logits saved by `distill-eval logits` (or any framework), instead of --teacher;
    /// for a causal-LM student, a llama.cpp base file (FILE.kld, `--kl-divergence-base`).
    #[arg(long, value_name = "FILE")]
    pub(crate) teacher_logits: Option<String>,
    /// Class names of the --teacher-logits columns, comma-separated (default: the names a
    /// safetensors file from `distill-eval logits` carries, else the student's label order).
    #[arg(long, value_delimiter = ',', requires = "teacher_logits")]
    pub(crate) teacher_labels: Option<Vec<String>>,
}

/// What every evaluation command shares.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    #[command(flatten)]
    pub(crate) load: LoadArgs,
    #[command(flatten)]
    pub(crate) metrics: MetricArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    #[command(flatten)]
    pub(crate) extras: ExtraArgs,
    #[command(flatten)]
    pub(crate) gates: GateArgs,
    #[command(flatten)]
    pub(crate) lm: LmArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) teacher: TeacherArgs,
    /// Student: a local folder or a hub repo id[@revision].
    #[arg(long, value_name = "M")]
    pub(crate) student: Option<String>,
    /// The task family (default: detected from the teacher's config.json): generation
    /// continues each --data record's prompt greedily with both causal LMs and scores the texts
    /// against its reference; ranking scores each --data (query, passage) pair with both
    /// cross-encoders (one-output heads) and ranks each query's passages.
    #[arg(long, value_name = "TASK")]
    pub(crate) task: Option<distill_eval_runner::family::Task>,
    #[command(flatten)]
    pub(crate) generation: GenerateArgs,
    #[command(flatten)]
    pub(crate) rerank: RerankArgs,
    #[command(flatten)]
    pub(crate) eval: EvalArgs,
}

/// How `report --task ranking` ranks.
#[derive(Debug, Args)]
#[command(next_help_heading = "Ranking")]
pub(crate) struct RerankArgs {
    /// NDCG cut-offs besides 5 and 10, comma-separated (e.g. 1,3,20).
    #[arg(long, value_name = "K", value_delimiter = ',', value_parser = within::<1, 100_000>)]
    pub(crate) k: Vec<usize>,
}

/// How `report --task generation` generates.
#[derive(Debug, Args)]
#[command(next_help_heading = "Generation")]
pub(crate) struct GenerateArgs {
    /// Tokens each model generates at most per prompt, the EOS included [default: 64].
    #[arg(long, value_name = "N", value_parser = within::<1, 4096>)]
    pub(crate) max_new_tokens: Option<usize>,
    /// The field with the prompt [default: prompt].
    #[arg(long, value_name = "NAME")]
    pub(crate) prompt_field: Option<String>,
    /// The field with the reference text [default: reference].
    #[arg(long, value_name = "NAME")]
    pub(crate) reference_field: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    #[command(flatten)]
    pub(crate) teacher: TeacherArgs,
    /// A student (repeat for each; a quoted pattern such as 'students/*' expands to every
    /// checkpoint folder it matches).
    #[arg(long, value_name = "M", required_unless_present = "task")]
    pub(crate) student: Vec<String>,
    #[command(flatten)]
    pub(crate) saved: SavedArgs,
    #[command(flatten)]
    pub(crate) eval: EvalArgs,
}

#[derive(Debug, Args)]
pub(crate) struct TrackArgs {
    #[command(flatten)]
    pub(crate) teacher: TeacherArgs,
    /// Checkpoint folders, or a quoted pattern such as 'out/checkpoint-*' (steps come from
    /// trainer_state.json, else from the folder name).
    #[arg(long, value_name = "DIR", required_unless_present = "task", num_args = 1..)]
    pub(crate) checkpoints: Vec<String>,
    #[command(flatten)]
    pub(crate) saved: SavedArgs,
    #[command(flatten)]
    pub(crate) eval: EvalArgs,
}

/// Several students' saved outputs of a task family, for `compare --task` and `track --task`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Saved outputs of a task family")]
pub(crate) struct SavedArgs {
    /// Read saved outputs of this family instead of running checkpoints: regression
    /// (--teacher-logits, --student-logits, --labels), ranking or generation (--data records
    /// with one --student-field per student), detection (--ground-truth, --teacher-detections,
    /// --student-detections). `track` takes each student's step from the last number in its
    /// file or field name.
    #[arg(long, value_name = "TASK")]
    pub(crate) task: Option<distill_eval_runner::family::Task>,
    /// Regression: a student's predictions (repeat for each student).
    #[arg(long, value_name = "FILE")]
    pub(crate) student_logits: Vec<String>,
    /// Regression: the float targets.
    #[arg(long, value_name = "FILE")]
    pub(crate) labels: Option<PathBuf>,
    /// Ranking: the field with the query id (default: query).
    #[arg(long, value_name = "NAME")]
    pub(crate) query_field: Option<String>,
    /// Ranking: the field with the graded relevance (default: relevance).
    #[arg(long, value_name = "NAME")]
    pub(crate) relevance_field: Option<String>,
    /// Ranking and generation: the field with the teacher's scores or texts (default: teacher).
    #[arg(long, value_name = "NAME")]
    pub(crate) teacher_field: Option<String>,
    /// Ranking and generation: a student's field (repeat for each student).
    #[arg(long, value_name = "NAME")]
    pub(crate) student_field: Vec<String>,
    /// Ranking: NDCG cut-offs besides 5 and 10, comma-separated.
    #[arg(long, value_name = "K", value_delimiter = ',', value_parser = within::<1, 100_000>)]
    pub(crate) k: Vec<usize>,
    /// Generation: the field with the reference text (default: reference).
    #[arg(long, value_name = "NAME")]
    pub(crate) reference_field: Option<String>,
    /// Generation: score empty generations instead of refusing them.
    #[arg(long)]
    pub(crate) allow_empty_hypotheses: bool,
    /// Detection: the COCO ground truth.
    #[arg(long, value_name = "FILE")]
    pub(crate) ground_truth: Option<PathBuf>,
    /// Detection: the teacher's COCO results.
    #[arg(long, value_name = "FILE")]
    pub(crate) teacher_detections: Option<PathBuf>,
    /// Detection: a student's COCO results (repeat for each student).
    #[arg(long, value_name = "FILE")]
    pub(crate) student_detections: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct LogitsArgs {
    /// The model: a local folder or a hub repo id[@revision].
    #[arg(long, value_name = "M")]
    pub(crate) model: String,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Output file: .npy (float32) or .safetensors (with the class names as metadata).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) load: LoadArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// The model: a local folder or a hub repo id[@revision] (default: the bundled teacher).
    #[arg(long, value_name = "M")]
    pub(crate) model: Option<String>,
    /// Batch sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8, 32, 128], value_parser = within::<1, 65_536>)]
    pub(crate) batch_sizes: Vec<usize>,
    /// Tokens per example (capped at what the model accepts).
    #[arg(long, default_value_t = 128, value_parser = within::<2, 1_048_576>)]
    pub(crate) seq_len: usize,
    /// Untimed passes before each measurement.
    #[arg(long, default_value_t = 2, value_parser = within::<0, 10_000>)]
    pub(crate) warmup: usize,
    /// Timed passes per batch size.
    #[arg(long, default_value_t = 10, value_parser = within::<1, 100_000>)]
    pub(crate) iters: usize,
    /// Write the figures as JSON to this file ("-" for stdout).
    #[arg(long, value_name = "OUT")]
    pub(crate) json: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) load: LoadArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ScoreArgs {
    /// The task family: classification (logits and class-id labels), regression (predictions
    /// of shape (n, 1) and float targets), ranking or generation (--data records), detection
    /// (COCO ground truth and result lists).
    #[arg(long, value_name = "TASK", default_value = "classification")]
    pub(crate) task: distill_eval_runner::family::Task,
    /// Teacher logits, shape (n, C): .npy, .safetensors (FILE or FILE:tensor) or JSONL (arrays,
    /// or records with a "logits" array). Regression: predictions, (n) or (n, 1).
    #[arg(long, value_name = "FILE")]
    pub(crate) teacher_logits: Option<String>,
    /// Student logits, same shape and class order as the teacher's.
    #[arg(long, value_name = "FILE")]
    pub(crate) student_logits: Option<String>,
    /// True labels (class ids): .npy of integers, JSONL (integers, or records with a "label"),
    /// or whitespace-separated integers. Regression: float targets in the same formats.
    #[arg(long, value_name = "FILE")]
    pub(crate) labels: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) records: RecordArgs,
    #[command(flatten)]
    pub(crate) detection: DetectionArgs,
    #[command(flatten)]
    pub(crate) metrics: MetricArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    #[command(flatten)]
    pub(crate) extras: ExtraArgs,
    #[command(flatten)]
    pub(crate) gates: GateArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
}

/// The records of `score --task ranking` and `--task generation`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Ranking and generation")]
pub(crate) struct RecordArgs {
    /// JSON Lines records, one per line: ranking {query, relevance, teacher, student} per
    /// (query, document); generation {reference, teacher, student} texts.
    #[arg(long, value_name = "FILE")]
    pub(crate) data: Option<PathBuf>,
    /// Ranking: the field with the query id (default: query).
    #[arg(long, value_name = "NAME")]
    pub(crate) query_field: Option<String>,
    /// Ranking: the field with the graded relevance, 0 = irrelevant (default: relevance).
    #[arg(long, value_name = "NAME")]
    pub(crate) relevance_field: Option<String>,
    /// The field with the teacher's score or text (default: teacher).
    #[arg(long, value_name = "NAME")]
    pub(crate) teacher_field: Option<String>,
    /// The field with the student's score or text (default: student).
    #[arg(long, value_name = "NAME")]
    pub(crate) student_field: Option<String>,
    /// Ranking: NDCG cut-offs besides 5 and 10, comma-separated (e.g. 1,3,20).
    #[arg(long, value_name = "K", value_delimiter = ',', value_parser = within::<1, 100_000>)]
    pub(crate) k: Vec<usize>,
    /// Generation: the field with the reference text (default: reference).
    #[arg(long, value_name = "NAME")]
    pub(crate) reference_field: Option<String>,
    /// Generation: score empty generations (they match nothing, as in sacrebleu) instead of
    /// refusing them.
    #[arg(long)]
    pub(crate) allow_empty_hypotheses: bool,
}

/// The files of `score --task detection`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Detection")]
pub(crate) struct DetectionArgs {
    /// COCO ground truth (images, annotations, categories).
    #[arg(long, value_name = "FILE")]
    pub(crate) ground_truth: Option<PathBuf>,
    /// The teacher's COCO results: [{image_id, category_id, bbox: [x, y, w, h], score}].
    #[arg(long, value_name = "FILE")]
    pub(crate) teacher_detections: Option<PathBuf>,
    /// The student's COCO results.
    #[arg(long, value_name = "FILE")]
    pub(crate) student_detections: Option<PathBuf>,
}
