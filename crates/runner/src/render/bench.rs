//! The terminal table of `distill-eval bench`.

use std::io::{self, Write};

use super::fmt::{int, params};
use super::table::{Align, Table};
use crate::report::bench::BenchReport;

/// The line naming the model and the settings.
fn title(report: &BenchReport) -> String {
    let m = &report.model;
    format!(
        "{} ({}, {} params) on {} in {}: {} tokens per example, {} timed passes",
        m.id,
        m.architecture,
        params(m.parameters),
        m.device,
        m.dtype,
        report.seq_len,
        report.iters
    )
}

fn table(report: &BenchReport) -> Table {
    let mut t = Table::new(
        &["batch", "ms/batch", "best ms", "examples/s", "tokens/s"],
        &[Align::Right; 5],
    );
    for r in &report.rows {
        t.row(vec![
            r.batch_size.to_string(),
            format!("{:.2}", r.ms_per_batch),
            format!("{:.2}", r.ms_min),
            int(r.examples_per_second.round() as u64),
            int(r.tokens_per_second.round() as u64),
        ]);
    }
    t
}

/// Writes the benchmark figures for the terminal.
pub fn render(report: &BenchReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", title(report))?;
    out.write_all(table(report).text("  ").as_bytes())
}

/// Writes the benchmark figures as Markdown.
pub fn markdown(report: &BenchReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## Benchmark\n\n{}\n", title(report))?;
    out.write_all(table(report).markdown().as_bytes())
}

/// Writes the benchmark figures as a self-contained HTML page.
pub fn html(report: &BenchReport, out: &mut dyn Write) -> io::Result<()> {
    use super::escape::html as esc;
    super::html::head(out, "distill-eval: benchmark")?;
    writeln!(
        out,
        "<h1>Benchmark</h1>\n<p class=\"muted\">{}</p>",
        esc(&title(report))
    )?;
    writeln!(out, "<table><tr><th>batch</th><th>ms/batch</th><th>best ms</th><th>examples/s</th><th>tokens/s</th></tr>")?;
    for r in &report.rows {
        writeln!(
            out,
            "<tr><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{}</td></tr>",
            r.batch_size,
            r.ms_per_batch,
            r.ms_min,
            int(r.examples_per_second.round() as u64),
            int(r.tokens_per_second.round() as u64)
        )?;
    }
    writeln!(out, "</table>")?;
    super::html::foot(out, crate::report::SCHEMA_VERSION)
}
