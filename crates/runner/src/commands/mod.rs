//! The commands: each a few lines of glue over the layers below (open a [`Session`], evaluate
//! with the family, summarise). No command imports another.
//!
//! [`Session`]: crate::engine::Session

pub mod bench;
pub mod compare;
pub mod logits;
pub mod report;
pub mod saved;
pub mod score;
pub mod track;
