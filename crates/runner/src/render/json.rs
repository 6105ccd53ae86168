//! The machine-readable report: the serde form of [`Report`], pretty-printed.
//!
//! Undefined figures (a correlation of constant confidences, a retention over a teacher that
//! scores zero) are `null`.

use std::io::{self, Write};

use crate::report::Report;

/// Writes the report as pretty JSON followed by a newline.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
