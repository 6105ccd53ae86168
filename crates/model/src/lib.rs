//! Checkpoint resolution (local folder, hub cache, hub download), config probing, tokenization
//! and the Candle models, one file per architecture in [`arch`].
//!
//! This file is the crate's facade: [`load`] (the pipeline in `load.rs`) turns a
//! [`ModelSource`] into a [`Model`] (`model.rs`) on a device, in a dtype.
#![deny(missing_docs)]

pub mod arch;
mod config;
mod convert;
mod device;
mod error;
mod generate;
mod gguf;
mod gguf_vocab;
pub mod hub;
mod load;
mod model;
mod source;
mod tokenizer;
mod weights;

pub use arch::Task;

/// The most attention-score entries per head one batch may hold (batch size x tokens²): 2^27,
/// e.g. 512 texts of 512 tokens or 8,192 of 128. Above it a forward pass would allocate tens of
/// gigabytes (BERT-base: 12 heads x 4 bytes each, per layer), so passes split batches to stay
/// below it and `bench` refuses batch sizes that would not.
pub const MAX_ATTENTION_CELLS: usize = 1 << 27;
pub use config::ProbeConfig;
pub use device::{device_label, dtype_label, DTypeSpec, DeviceSpec};
pub use error::{Error, Result};
pub use generate::{Decoding, GenerateOptions, Generated};
pub use gguf::GgufInfo;
pub use hub::HubOptions;
pub use load::{load, probe, Probed};
pub use model::{LoadOptions, Model, ModelInfo};
pub use source::{parse_hub_id, ModelSource};
pub use tokenizer::{Batch, Encoded, TextInput, VocabDifference};
