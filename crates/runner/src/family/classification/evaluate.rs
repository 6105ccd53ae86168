//! Streams whole-dataset logits into the metrics accumulator in bounded chunks, and turns the
//! metrics crate's row-level errors into messages that name the file or model they came from.

use candle::{Device, Tensor};
use distill_eval_metrics::{
    bootstrap, temperature_scaling, Accumulator, Bootstrap, BootstrapConfig, Evaluation,
    MetricsConfig, TemperatureScaling,
};
use serde::Serialize;

use crate::engine::Extras;
use crate::error::{Error, Origins, Result};
use crate::location::Position;

/// Rows per accumulator update: bounds the float64 intermediates to a few hundred MB even for
/// 1,000-class logits, while keeping the number of device calls small.
pub(super) const CHUNK_ELEMENTS: usize = 4 << 20;

/// Evaluates `(n, C)` teacher and student logits (same device) against `labels`.
///
/// Checks that the shapes agree and the labels are in range first, so that every mismatch is
/// reported with the names in `origins`.
pub fn evaluate(
    teacher: &Tensor,
    student: &Tensor,
    labels: &[i64],
    cfg: &MetricsConfig,
    origins: &Origins,
) -> Result<Evaluation> {
    let (n_t, c_t) = logits_dims(teacher, &origins.teacher)?;
    let (n_s, c_s) = logits_dims(student, &origins.student)?;
    if n_t != n_s {
        return Err(Error::RowCountMismatch {
            first: origins.teacher.clone(),
            first_rows: n_t,
            second: origins.student.clone(),
            second_rows: n_s,
        });
    }
    if c_t != c_s {
        return Err(Error::ClassCountMismatch {
            teacher: origins.teacher.clone(),
            teacher_classes: c_t,
            student: origins.student.clone(),
            student_classes: c_s,
        });
    }
    if labels.len() != n_t {
        return Err(Error::RowCountMismatch {
            first: origins.teacher.clone(),
            first_rows: n_t,
            second: origins.labels.clone(),
            second_rows: labels.len(),
        });
    }
    if n_t == 0 {
        return Err(Error::NoExamples {
            source_name: origins.teacher.clone(),
        });
    }
    if let Some((row, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l < 0 || l as usize >= c_t)
    {
        return Err(Error::LabelOutOfRange {
            source_name: origins.labels.clone(),
            at: Position::Example(row as u64),
            label,
            num_classes: c_t,
        });
    }
    let device = teacher.device();
    let labels: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let labels = Tensor::from_vec(labels, n_t, &Device::Cpu)?;
    let mut acc = Accumulator::new(c_t, cfg)?;
    let chunk = (CHUNK_ELEMENTS / c_t.max(1)).max(1);
    let mut start = 0;
    while start < n_t {
        let len = chunk.min(n_t - start);
        acc.update(
            &teacher.narrow(0, start, len)?,                   // (len, C)
            &student.narrow(0, start, len)?,                   // (len, C)
            &labels.narrow(0, start, len)?.to_device(device)?, // (len)
        )?;
        start += len;
    }
    acc.finish().map_err(|e| Error::from_metrics(e, origins))
}

fn logits_dims(t: &Tensor, origin: &str) -> Result<(usize, usize)> {
    t.dims2().map_err(|_| Error::LogitsRank {
        source_name: origin.to_owned(),
        shape: t.dims().to_vec(),
    })
}

/// Reports below this many examples get a bootstrap by default.
pub(crate) const BOOTSTRAP_BELOW: usize = 100_000;
/// Default number of bootstrap resamples.
pub(crate) const DEFAULT_RESAMPLES: usize = 1000;

/// Temperature scaling of both models.
#[derive(Debug, Clone, Serialize)]
pub struct Calibrated {
    /// The teacher's.
    pub teacher: TemperatureScaling,
    /// The student's.
    pub student: TemperatureScaling,
}

/// Runs the requested extras on `(n, C)` logits already aligned to the teacher's classes.
pub(super) fn extras(
    teacher: &Tensor,
    student: &Tensor,
    labels: &[i64],
    evaluation: &Evaluation,
    cfg: &MetricsConfig,
    extras: &Extras,
) -> Result<(Option<Bootstrap>, Option<Calibrated>)> {
    let boot = extras_of(evaluation, cfg, extras)?;
    let calibrated = if extras.calibrate {
        let y: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        let y = Tensor::from_vec(y, labels.len(), teacher.device())?;
        Some(Calibrated {
            teacher: temperature_scaling(teacher, &y, cfg.temperature, cfg.bins)?,
            student: temperature_scaling(student, &y, cfg.temperature, cfg.bins)?,
        })
    } else {
        None
    };
    Ok((boot, calibrated))
}

/// The bootstrap the extras ask for (none for `Some(0)`; by default 1000 resamples below
/// 100,000 examples), from the evaluation's per-example vectors alone.
pub(super) fn extras_of(
    evaluation: &Evaluation,
    cfg: &MetricsConfig,
    extras: &Extras,
) -> Result<Option<Bootstrap>> {
    let n = evaluation.n_examples;
    let resamples = extras.resamples.unwrap_or(if n < BOOTSTRAP_BELOW {
        DEFAULT_RESAMPLES
    } else {
        0
    });
    if resamples == 0 {
        return Ok(None);
    }
    Ok(Some(bootstrap(
        &evaluation.examples,
        cfg.bins,
        &cfg.thresholds,
        &BootstrapConfig {
            resamples,
            seed: extras.seed,
            level: 0.95,
        },
    )?))
}
