//! Distillation-quality statistics computed from teacher and student logits.
//!
//! Softmax, log-softmax, KL and confidences run on the tensors' device ([`probs`]); only
//! per-example vectors come back to the host, where every summary statistic is computed
//! ([`Evaluation::from_examples`]). Conventions follow the libraries users already trust:
//! scikit-learn for precision/recall/F1, SciPy for rank correlations and their p-values,
//! PyTorch's float32 softmax for confidences.
//!
//! ```
//! use candle::{Device, Tensor};
//! use distill_eval_metrics::{Accumulator, MetricsConfig, Verdict};
//!
//! let dev = Device::Cpu;
//! let teacher = Tensor::new(&[[4f32, 0.0], [0.0, 4.0], [3.0, 0.0]], &dev)?;
//! let student = Tensor::new(&[[3f32, 0.0], [0.0, 3.0], [2.0, 0.0]], &dev)?;
//! let labels = Tensor::new(&[0u32, 1, 0], &dev)?;
//! let mut acc = Accumulator::new(2, &MetricsConfig::default())?;
//! acc.update(&teacher, &student, &labels)?;
//! let eval = acc.finish()?;
//! assert_eq!(eval.accuracy_retention, Some(1.0));
//! assert_eq!(eval.agreement, 1.0);
//! assert!(eval.kl_divergence > 0.0);
//! assert_eq!(eval.verdict, Verdict::Excellent);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod accumulator;
pub mod bootstrap;
pub mod calibration;
pub mod classification;
mod error;
mod evaluation;
mod fused;
pub mod llama_cpp;
pub mod probs;
pub mod rank;
pub mod significance;
pub mod tasks;
pub mod temperature;
pub mod token_summary;
pub mod tokens;
mod verdict;

pub use accumulator::{Accumulator, TENSOR_PATH_ENV};
pub use bootstrap::{
    bootstrap, figure_intervals, retention_bootstrap, Bootstrap, BootstrapConfig, FigureIntervals,
    Interval, RetentionBootstrap, RetentionResample,
};
pub use calibration::CalibrationBin;
pub use classification::ClassMetrics;
pub use error::{Error, Result, Side};
pub use evaluation::{
    percentile, wasserstein_1, ErrorCounts, Evaluation, Examples, KlPercentiles, Ranking,
    SideExamples, SideMetrics, ONLY_STUDENT_WRONG_WARNING,
};
pub use significance::{mcnemar, McNemar};
pub use temperature::{fit_temperature, temperature_scaling, TemperatureScaling};
pub use verdict::{Thresholds, Verdict};

/// Temperature, calibration bins and verdict thresholds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MetricsConfig {
    /// Softmax temperature applied to both models' logits.
    pub temperature: f64,
    /// Equal-width calibration bins.
    pub bins: usize,
    /// Verdict thresholds.
    pub thresholds: Thresholds,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            bins: 10,
            thresholds: Thresholds::default(),
        }
    }
}
