//! Data loading, one pass per model, the task families, the reports and their outputs.
//!
//! The crate is layered; each layer imports only those above it in this list:
//!
//! | layer | what it owns |
//! | --- | --- |
//! | [`location`], [`error`] | where a problem is, and every error with its `hint:` |
//! | [`input`] | datasets, saved logits and labels, checkpoint folders |
//! | [`engine`] | one pass per model, label alignment, the [`Session`](engine::Session) every evaluation runs |
//! | [`report`] | the [`Report`](report::Report) (built whole), `compare`/`track` summaries, gates |
//! | [`render`] | formats, tables, charts, page frame; the `compare`, `track` and `bench` renderers |
//! | [`output`] | the [`Format`](output::Format)s, [`emit`](output::emit), all-or-none file writing |
//! | [`family`] | the task families (classification, ...), each one module plus one registry line |
//! | [`commands`] | `report`, `score`, `compare`, `track`, `logits`, `bench`: a few lines each |
#![deny(missing_docs)]

pub mod commands;
pub mod engine;
pub mod error;
pub mod family;
pub mod input;
pub mod location;
pub mod output;
pub mod render;
pub mod report;

pub use error::{Error, Result};
