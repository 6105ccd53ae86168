//! Checkpoint resolution (local folder, hub cache, hub download), config probing, tokenization
//! and the Candle sequence classifiers, one file per architecture.
#![deny(missing_docs)]
