//! Distillation-quality statistics computed from teacher and student logits.
//!
//! Softmax, log-softmax, KL and confidences run on the tensors' device; only per-example
//! vectors come back to the host, where every summary statistic is computed.
#![deny(missing_docs)]
