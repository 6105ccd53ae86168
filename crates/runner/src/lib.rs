//! Data loading, batching, one pass per model, feeding the metrics, and the report renderers.
#![deny(missing_docs)]

pub mod data;
mod error;
pub mod io;

pub use error::{Error, Result};
