//! Data loading, batching, one pass per model, feeding the metrics, and the report renderers.
#![deny(missing_docs)]

pub mod align;
pub mod bench;
pub mod compare;
pub mod data;
pub mod details;
mod error;
pub mod evaluate;
pub mod gate;
pub mod io;
pub mod pass;
pub mod render;
pub mod report;
pub mod run;
pub mod score;
pub mod track;

pub use error::{Error, Result};
