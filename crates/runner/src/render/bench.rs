//! The terminal table of `distill-eval bench`.

use std::io::{self, Write};

use super::fmt::{int, params};
use super::table::{Align, Table};
use crate::bench::BenchReport;

/// Writes the benchmark figures.
pub fn render(report: &BenchReport, out: &mut dyn Write) -> io::Result<()> {
    let m = &report.model;
    writeln!(
        out,
        "{} ({}, {} params) on {} in {}: {} tokens per example, {} timed passes",
        m.id,
        m.architecture,
        params(m.parameters),
        m.device,
        m.dtype,
        report.seq_len,
        report.iters
    )?;
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
    out.write_all(t.text("  ").as_bytes())
}
