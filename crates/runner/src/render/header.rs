//! The lines every terminal report opens with: the models that were run (identity, size,
//! speed, device), the saved-output files, and the data.

use std::io::{self, Write};

use super::fmt::{params, pct, rate, token_rate};
use crate::engine::ModelRun;
use crate::report::Report;

/// The teacher and student lines (or their logits files), then the data line.
pub(crate) fn text(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let inputs = report.inputs.as_ref();
    match (&report.teacher_model, inputs) {
        (Some(t), _) => write_model(out, "Teacher", t, None)?,
        (None, Some(i)) => writeln!(out, " Teacher  {} (logits)", i.teacher_logits)?,
        (None, None) => {}
    }
    match (&report.student_model, inputs) {
        (Some(s), _) => write_model(out, "Student", s, report.teacher_model.as_ref())?,
        (None, Some(i)) => writeln!(out, " Student  {} (logits)", i.student_logits)?,
        (None, None) => {}
    }
    if let Some(labels) = inputs.and_then(|i| i.labels.as_ref()) {
        writeln!(out, " Labels   {labels}")?;
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
        run.tokens_per_second
            .map_or_else(|| rate(run.examples_per_second), token_rate),
        i.device,
        i.dtype
    );
    if let Some(g) = &i.gguf {
        let mut types: Vec<(&String, &usize)> = g.tensor_types.iter().collect();
        types.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let types: Vec<String> = types.iter().map(|(t, n)| format!("{t} x{n}")).collect();
        line.push_str(&format!(
            "\n          GGUF {} · {:.1} MiB on disk · {:.2} bits per weight",
            types.join(", "),
            g.file_bytes as f64 / (1024.0 * 1024.0),
            g.bits_per_weight
        ));
    }
    if let Some(t) = teacher {
        let size = i.parameters as f64 / t.info.parameters.max(1) as f64;
        let speed = match (run.tokens_per_second, t.tokens_per_second) {
            (Some(s), Some(t)) => s / t,
            _ => run.examples_per_second / t.examples_per_second,
        };
        line.push_str(&format!(
            "\n          {} of the teacher's size, {:.1}x its speed",
            pct(size),
            speed
        ));
    }
    writeln!(out, "{line}")
}
