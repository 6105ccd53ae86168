//! The lines every terminal report opens with: the models that were run (identity, size,
//! speed, device), the saved-output files, and the data.

use std::io::{self, Write};

use super::fmt::{params, pct, rate};
use crate::engine::ModelRun;
use crate::report::Report;

/// The teacher and student lines (or their logits files), then the data line.
pub(crate) fn text(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if let (Some(t), Some(s)) = (&report.teacher_model, &report.student_model) {
        write_model(out, "Teacher", t, None)?;
        write_model(out, "Student", s, Some(t))?;
    } else if let Some(t) = &report.teacher_model {
        write_model(out, "Teacher", t, None)?;
    }
    if let Some(inputs) = &report.inputs {
        if report.teacher_model.is_none() {
            writeln!(out, " Teacher  {} (logits)", inputs.teacher_logits)?;
        }
        if report.student_model.is_none() {
            writeln!(out, " Student  {} (logits)", inputs.student_logits)?;
        }
        if let Some(labels) = &inputs.labels {
            writeln!(out, " Labels   {labels}")?;
        }
    }
    if let Some(d) = &report.dataset {
        let mut source = d.source.clone();
        if let Some(subset) = &d.subset {
            source.push_str(&format!(" ({subset})"));
        }
        if let Some(split) = &d.split {
            source.push_str(&format!(" [{split}]"));
        }
        writeln!(out, " Data     {source}")?;
    }
    Ok(())
}

fn write_model(
    out: &mut dyn Write,
    role: &str,
    run: &ModelRun,
    teacher: Option<&ModelRun>,
) -> io::Result<()> {
    let i = &run.info;
    let rev = i
        .revision
        .as_deref()
        .map(|r| format!("@{}", &r[..r.len().min(10)]))
        .unwrap_or_default();
    let mut line = format!(
        " {role:<8} {}{rev}  {} · {} params · {} · {} {}",
        i.id,
        i.architecture,
        params(i.parameters),
        rate(run.examples_per_second),
        i.device,
        i.dtype
    );
    if let Some(t) = teacher {
        let size = i.parameters as f64 / t.info.parameters.max(1) as f64;
        let speed = run.examples_per_second / t.examples_per_second;
        line.push_str(&format!(
            "\n          {} of the teacher's size, {:.1}x its speed",
            pct(size),
            speed
        ));
    }
    writeln!(out, "{line}")
}
