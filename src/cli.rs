//! Commands and flags (clap derive; the doc comments are the help text).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use distill_eval_metrics::{MetricsConfig, Thresholds};
use distill_eval_model::DeviceSpec;
use distill_eval_runner::io::write_atomic;
use distill_eval_runner::render::{self, ColorChoice};
use distill_eval_runner::report::Report;
use distill_eval_runner::score::{score, ScoreOptions};

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
    /// Score saved logits (.npy, .safetensors or JSONL) against labels.
    Score(ScoreArgs),
}

/// Temperature, calibration bins and verdict thresholds.
#[derive(Debug, Args)]
struct MetricArgs {
    /// Softmax temperature applied to both models' logits.
    #[arg(long, short = 'T', default_value_t = 1.0)]
    temperature: f64,
    /// Number of equal-width calibration bins.
    #[arg(long, default_value_t = 10)]
    bins: usize,
    /// EXCELLENT needs accuracy retention above this...
    #[arg(long, default_value_t = 0.95, help_heading = "Verdict thresholds")]
    excellent_retention: f64,
    /// ...and KL(teacher || student) below this.
    #[arg(long, default_value_t = 0.1, help_heading = "Verdict thresholds")]
    excellent_kl: f64,
    /// GOOD needs accuracy retention above this...
    #[arg(long, default_value_t = 0.92, help_heading = "Verdict thresholds")]
    good_retention: f64,
    /// ...and KL below this.
    #[arg(long, default_value_t = 0.3, help_heading = "Verdict thresholds")]
    good_kl: f64,
    /// ACCEPTABLE needs accuracy retention above this; anything lower is WEAK.
    #[arg(long, default_value_t = 0.90, help_heading = "Verdict thresholds")]
    acceptable_retention: f64,
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

/// Report files.
#[derive(Debug, Args)]
struct OutputArgs {
    /// Write the JSON report to this file ("-" for stdout, which replaces the terminal report).
    #[arg(long, value_name = "OUT")]
    json: Option<PathBuf>,
    /// Write the Markdown report to this file ("-" for stdout).
    #[arg(long, value_name = "OUT")]
    markdown: Option<PathBuf>,
}

/// Where the computation runs.
#[derive(Debug, Args)]
struct DeviceArgs {
    /// auto, cpu, cuda[:N] or metal[:N]; auto picks CUDA, then Metal, then the CPU.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(DeviceSpec))]
    device: DeviceSpec,
}

#[derive(Debug, Args)]
struct ScoreArgs {
    /// Teacher logits, shape (n, C): .npy, .safetensors (FILE or FILE:tensor) or JSONL.
    #[arg(long, value_name = "FILE")]
    teacher_logits: String,
    /// Student logits, same shape and class order as the teacher's.
    #[arg(long, value_name = "FILE")]
    student_logits: String,
    /// True labels (class ids): .npy of integers, JSONL, or whitespace-separated integers.
    #[arg(long, value_name = "FILE")]
    labels: PathBuf,
    #[command(flatten)]
    metrics: MetricArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

/// Parses the command line and runs the command.
pub(crate) fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match &cli.command {
        Command::Score(args) => run_score(&cli, args),
    }
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
    let report = score(
        &ScoreOptions {
            teacher_logits: args.teacher_logits.clone(),
            student_logits: args.student_logits.clone(),
            labels: args.labels.clone(),
            metrics,
        },
        &device,
    )?;
    emit(cli, &args.output, &report)?;
    Ok(ExitCode::SUCCESS)
}

fn is_stdout(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes the requested files (each atomically) and the terminal report.
fn emit(cli: &Cli, output: &OutputArgs, report: &Report) -> Result<()> {
    let mut stdout_taken = false;
    if let Some(path) = &output.json {
        if is_stdout(path) {
            stdout_taken = true;
            render::json::render(report, &mut std::io::stdout().lock())?;
        } else {
            write_atomic(path, |w| render::json::render(report, w))
                .with_context(|| format!("cannot write the JSON report to {}", path.display()))?;
        }
    }
    if let Some(path) = &output.markdown {
        if is_stdout(path) {
            stdout_taken = true;
            render::markdown::render(report, &mut std::io::stdout().lock())?;
        } else {
            write_atomic(path, |w| render::markdown::render(report, w)).with_context(|| {
                format!("cannot write the Markdown report to {}", path.display())
            })?;
        }
    }
    if !stdout_taken {
        let stdout = std::io::stdout();
        let color = cli.color.enabled(stdout.is_terminal());
        let mut lock = stdout.lock();
        render::text::render(
            report,
            &mut lock,
            &render::text::TextOptions {
                color,
                ..Default::default()
            },
        )?;
        lock.flush()?;
    }
    Ok(())
}
