//! The command line: parse (`args.rs`), turn flags into runner options (`setup.rs`), run the
//! command, write its outputs, and choose the exit code (0, or 1 when a quality gate failed).

mod args;
mod setup;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use distill_eval_runner::commands::bench::{bench, BenchOptions};
use distill_eval_runner::commands::compare::{compare, CompareOptions};
use distill_eval_runner::commands::logits::{logits, LogitsOptions};
use distill_eval_runner::commands::report::{report, ReportOptions};
use distill_eval_runner::commands::saved::{compare_saved, track_saved, SavedOptions};
use distill_eval_runner::commands::score::{score, ScoreOptions};
use distill_eval_runner::commands::track::{track, TrackOptions};
use distill_eval_runner::engine::{Setup, TeacherSource};
use distill_eval_runner::input::checkpoints;
use distill_eval_runner::output::{emit, Document, Format, Request, Target};
use distill_eval_runner::report::Style;

use args::{BenchArgs, Cli, Command, CompareArgs, LogitsArgs, ReportArgs, ScoreArgs, TrackArgs};
use setup::{bundled, local_inputs, model_source, outputs, show_progress};

/// Parses the command line and runs the command.
pub(crate) fn run() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(e),
    };
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

/// `--help` and `--version` print and succeed; any other parse error becomes one message with a
/// hint, and exit code 2, like every other error.
fn usage(e: clap::Error) -> Result<ExitCode> {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.print()?;
        return Ok(ExitCode::SUCCESS);
    }
    let text = e.to_string();
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("For more information"))
        .collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let message = lines.join("\n");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let command = std::env::args()
        .nth(1)
        .filter(|a| {
            <Cli as clap::CommandFactory>::command()
                .find_subcommand(a)
                .is_some()
        })
        .map(|c| format!("{c} "))
        .unwrap_or_default();
    anyhow::bail!("{message}\nhint: `distill-eval {command}--help` lists every flag and its values")
}

fn run_report(cli: &Cli, args: &ReportArgs) -> Result<ExitCode> {
    let e = &args.eval;
    let demo = !args.teacher.given() && args.student.is_none() && e.data.data.is_none();
    let (teacher, student, data) = if demo {
        (
            TeacherSource::Model(model_source(&bundled("teacher_bert"))?),
            bundled("distilbert"),
            bundled("data/test.jsonl"),
        )
    } else {
        let teacher = args.teacher.source()?;
        let student = args
            .student
            .clone()
            .context("no student given\nhint: pass --student MODEL (a folder or a hub repo id)")?;
        (teacher, student, e.data.require()?)
    };
    let inputs = local_inputs(teacher_specs(&args.teacher).chain([student.as_str(), &data]));
    let (task, options) = setup::report_task(args)?;
    let ev = e.evaluation(cli, data, &inputs)?;
    let report = report(
        &ReportOptions {
            teacher,
            student: model_source(&student)?,
            setup: ev.setup,
            gates: ev.gates,
            task,
            options,
        },
        &ev.device,
    )?;
    let failures = report.gate_failures().to_vec();
    finish(cli, &report, &ev.outputs, &failures, true)
}

/// The teacher's spelling on the command line (a folder or a logits file).
fn teacher_specs(t: &args::TeacherArgs) -> impl Iterator<Item = &str> {
    t.teacher
        .iter()
        .chain(&t.teacher_logits)
        .map(String::as_str)
}

fn run_score(cli: &Cli, args: &ScoreArgs) -> Result<ExitCode> {
    let files = args.inputs()?;
    let labels = files.labels.display().to_string();
    let inputs = local_inputs([files.teacher.as_str(), &files.student, &labels]);
    let outputs = outputs(args.output.requests(), &inputs)?;
    let metrics = args.metrics.config()?;
    let device = args.device.device.resolve()?;
    let setup = Setup {
        data: None,
        labels: Some(files.labels),
        load: Default::default(),
        pass: Default::default(),
        metrics,
        extras: args.extras.extras(),
        lm: Default::default(),
    };
    let report = score(
        &ScoreOptions {
            teacher_logits: files.teacher,
            student_logits: files.student,
            setup,
            gates: args.gates.gates(),
            task: args.task,
            options: files.options,
        },
        &device,
    )?;
    let failures = report.gate_failures().to_vec();
    finish(cli, &report, &outputs, &failures, true)
}

/// `compare --task` and `track --task`: several students' saved outputs of a family.
fn run_saved(
    cli: &Cli,
    command: &str,
    task: distill_eval_runner::family::Task,
    teacher: &args::TeacherArgs,
    saved: &args::SavedArgs,
    e: &args::EvalArgs,
    checkpoints: bool,
) -> Result<ExitCode> {
    let files = saved.inputs(command, task, teacher, e.data.data.as_deref(), checkpoints)?;
    // Settings of the classification report, or of models, that a family of saved outputs
    // would ignore.
    let ignored = [
        ("--temperature", e.metrics.temperature != 1.0),
        ("--bins", e.metrics.bins != 10),
        ("--calibrate", e.extras.calibrate),
        ("--text-field", e.data.text_field.is_some()),
        ("--label-field", e.data.label_field.is_some()),
        ("--limit", e.data.limit.is_some()),
    ];
    if let Some((flag, _)) = ignored.iter().find(|(_, on)| *on) {
        anyhow::bail!(
            "{flag} does not apply to {command} --task {task}\nhint: it is a setting of the \
             classification report or of checkpoints; leave it out"
        );
    }
    let labels = files.labels.display().to_string();
    let inputs = local_inputs(
        [files.teacher.as_str(), &labels]
            .into_iter()
            .chain(files.students.iter().map(|s| s.file.as_str())),
    );
    let outputs = outputs(e.output.requests(), &inputs)?;
    let device = e.device.device.resolve()?;
    let opts = SavedOptions {
        task,
        data: labels,
        teacher: files.teacher,
        students: files.students,
        setup: Setup {
            data: None,
            labels: Some(files.labels),
            load: Default::default(),
            pass: Default::default(),
            metrics: e.metrics.config()?,
            extras: e.extras.extras(),
            lm: Default::default(),
        },
        gates: e.gates.gates(),
        options: files.options,
    };
    if command == "track" {
        let tracked = track_saved(&opts, &device)?;
        let failures = gate_failures(tracked.gate.as_ref());
        finish(cli, &tracked, &outputs, &failures, true)
    } else {
        let comparison = compare_saved(&opts, &device)?;
        let failures = gate_failures(comparison.gate.as_ref());
        finish(cli, &comparison, &outputs, &failures, true)
    }
}

fn run_compare(cli: &Cli, args: &CompareArgs) -> Result<ExitCode> {
    let e = &args.eval;
    if let Some(task) = args.saved.task {
        let students = !args.student.is_empty();
        return run_saved(
            cli,
            "compare",
            task,
            &args.teacher,
            &args.saved,
            e,
            students,
        );
    }
    args.saved.refuse_without_task()?;
    let students = checkpoints::expand(&args.student)?;
    let data = e.data.require()?;
    let inputs = local_inputs(
        teacher_specs(&args.teacher)
            .chain(students.iter().map(String::as_str))
            .chain([data.as_str()]),
    );
    let ev = e.evaluation(cli, data, &inputs)?;
    let comparison = compare(
        &CompareOptions {
            teacher: args.teacher.source()?,
            students: students
                .iter()
                .map(|s| model_source(s))
                .collect::<Result<Vec<_>>>()?,
            setup: ev.setup,
            gates: ev.gates,
        },
        &ev.device,
    )?;
    let failures = gate_failures(comparison.gate.as_ref());
    finish(cli, &comparison, &ev.outputs, &failures, true)
}

fn run_track(cli: &Cli, args: &TrackArgs) -> Result<ExitCode> {
    let e = &args.eval;
    if let Some(task) = args.saved.task {
        let folders = !args.checkpoints.is_empty();
        return run_saved(cli, "track", task, &args.teacher, &args.saved, e, folders);
    }
    args.saved.refuse_without_task()?;
    let data = e.data.require()?;
    let folders = checkpoints::expand(&args.checkpoints)?;
    let inputs = local_inputs(
        teacher_specs(&args.teacher)
            .chain(folders.iter().map(String::as_str))
            .chain([data.as_str()]),
    );
    let ev = e.evaluation(cli, data, &inputs)?;
    let tracked = track(
        &TrackOptions {
            teacher: args.teacher.source()?,
            checkpoints: args.checkpoints.clone(),
            setup: ev.setup,
            gates: ev.gates,
        },
        &ev.device,
    )?;
    let failures = gate_failures(tracked.gate.as_ref());
    finish(cli, &tracked, &ev.outputs, &failures, true)
}

fn gate_failures(gate: Option<&distill_eval_runner::report::gate::GateResult>) -> Vec<String> {
    gate.map(|g| g.failures.clone()).unwrap_or_default()
}

fn run_logits(cli: &Cli, args: &LogitsArgs) -> Result<ExitCode> {
    let data = args.data.require()?;
    outputs(
        vec![(
            "--out",
            Request {
                format: Format::Json,
                target: Target::File(args.out.clone()),
            },
        )],
        &local_inputs([args.model.as_str(), &data]),
    )?;
    let progress = show_progress(cli, false);
    let device = args.device.device.resolve()?;
    let setup = Setup {
        data: Some(args.data.spec(data)),
        labels: None,
        load: args.load.load(progress),
        pass: args.load.pass(progress),
        metrics: Default::default(),
        extras: Default::default(),
        lm: Default::default(),
    };
    let written = logits(
        &LogitsOptions {
            model: model_source(&args.model)?,
            setup,
            out: args.out.clone(),
        },
        &device,
    )?;
    if !cli.quiet {
        let mut err = std::io::stderr().lock();
        match written.run.tokens_per_second {
            Some(rate) => writeln!(
                err,
                "wrote {}: ({}, {}) float32 logits, every position of every document, {:.1} tokens/s",
                args.out.display(),
                written.shape.0,
                written.shape.1,
                rate
            )?,
            None => writeln!(
                err,
                "wrote {}: {} columns in the model's label order ({}), {:.1} examples/s",
                args.out.display(),
                written.labels.len(),
                written.labels.join(", "),
                written.run.examples_per_second
            )?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_bench(cli: &Cli, args: &BenchArgs) -> Result<ExitCode> {
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| bundled("teacher_bert"));
    let requests = args
        .json
        .as_deref()
        .map(|p| {
            (
                "--json",
                Request {
                    format: Format::Json,
                    target: Target::parse(p),
                },
            )
        })
        .into_iter()
        .collect();
    let outputs = outputs(requests, &local_inputs([model.as_str()]))?;
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
    finish(cli, &report, &outputs, &[], false)
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

/// Writes the outputs (and, for evaluations, the Markdown form to `GITHUB_STEP_SUMMARY` when
/// set), then turns the gates' failures into the exit code.
fn finish(
    cli: &Cli,
    doc: &dyn Document,
    outputs: &[Request],
    failures: &[String],
    step_summary: bool,
) -> Result<ExitCode> {
    let style = Style {
        color: cli.color.enabled(std::io::stdout().is_terminal()),
    };
    let summary = step_summary
        .then(|| std::env::var_os("GITHUB_STEP_SUMMARY"))
        .flatten()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    emit(doc, outputs, style, summary.as_deref())?;
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
