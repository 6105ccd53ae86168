//! The output layer: one [`Format`] enum for every form a result takes, one [`Document`] trait
//! every command's result implements, and one [`emit`] that writes the requested files and the
//! terminal form, all or none (`files.rs`), plus writing logits (`logits.rs`).
//!
//! Adding a format is one `Format` variant and a renderer per document type.

pub mod files;
pub mod logits;

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

pub use files::{check_targets, write_atomic, Outputs, Target};

use crate::error::{Error, Result};
use crate::render;
use crate::report::bench::BenchReport;
use crate::report::compare::Comparison;
use crate::report::track::Track;
use crate::report::{Report, Style};

/// A form a result can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The terminal report (stdout unless another output takes it).
    Text,
    /// GitHub-flavoured Markdown (pull requests, `GITHUB_STEP_SUMMARY`).
    Markdown,
    /// One self-contained HTML file.
    Html,
    /// Pretty JSON with a `schema_version`.
    Json,
}

/// A result every format can render.
pub trait Document {
    /// Writes the result in `format`.
    fn render(&self, format: Format, out: &mut dyn Write, style: Style) -> io::Result<()>;
}

/// Pretty JSON followed by a newline.
fn json<T: Serialize + ?Sized>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

impl Document for Report {
    fn render(&self, format: Format, out: &mut dyn Write, style: Style) -> io::Result<()> {
        match format {
            Format::Text => self.findings.text(self, out, style),
            Format::Markdown => self.findings.markdown(self, out),
            Format::Html => self.findings.html(self, out),
            Format::Json => json(self, out),
        }
    }
}

impl Document for Comparison {
    fn render(&self, format: Format, out: &mut dyn Write, _style: Style) -> io::Result<()> {
        match format {
            Format::Text => render::many::compare_text(self, out),
            Format::Markdown => render::many::compare_markdown(self, out),
            Format::Html => render::html::compare(self, out),
            Format::Json => json(self, out),
        }
    }
}

impl Document for Track {
    fn render(&self, format: Format, out: &mut dyn Write, _style: Style) -> io::Result<()> {
        match format {
            Format::Text => render::many::track_text(self, out),
            Format::Markdown => render::many::track_markdown(self, out),
            Format::Html => render::html::track(self, out),
            Format::Json => json(self, out),
        }
    }
}

impl Document for BenchReport {
    fn render(&self, format: Format, out: &mut dyn Write, _style: Style) -> io::Result<()> {
        match format {
            Format::Text => render::bench::render(self, out),
            Format::Markdown => render::bench::markdown(self, out),
            Format::Html => render::bench::html(self, out),
            Format::Json => json(self, out),
        }
    }
}

/// One requested output.
#[derive(Debug, Clone)]
pub struct Request {
    /// Its form.
    pub format: Format,
    /// Where it goes.
    pub target: Target,
}

/// Writes every requested output of `doc` and, unless one of them takes standard output, the
/// terminal form to stdout; all are rendered before any is made visible. Then, when
/// `step_summary` is given (GitHub's `GITHUB_STEP_SUMMARY`), appends the Markdown form to it.
pub fn emit(
    doc: &dyn Document,
    requests: &[Request],
    style: Style,
    step_summary: Option<&Path>,
) -> Result<()> {
    let mut outputs = Outputs::new();
    for r in requests {
        outputs.stage(&r.target, |w| doc.render(r.format, w, style))?;
    }
    if !requests.iter().any(|r| r.target.is_stdout()) {
        outputs.stage(&Target::Stdout, |w| doc.render(Format::Text, w, style))?;
    }
    outputs.commit()?;
    if let Some(path) = step_summary {
        let mut text = Vec::new();
        doc.render(Format::Markdown, &mut text, style)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?
                    .write_all(&text)
            })
            .map_err(|source| Error::Write {
                path: path.to_owned(),
                source,
            })?;
    }
    Ok(())
}
