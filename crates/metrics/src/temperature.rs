//! Temperature scaling: the single temperature that minimises a model's negative log-likelihood,
//! fitted and measured on different halves of the data.

use candle::{DType, Device, Tensor};
use serde::Serialize;

use crate::calibration::calibration;
use crate::error::{Error, Result};
use crate::probs;

/// Search range of the temperature.
pub const RANGE: (f64, f64) = (0.05, 20.0);

/// Mean NLL of `labels` (u32, on the logits' device) under softmax(logits / t); one scalar copied.
fn mean_nll(logits: &Tensor, labels: &Tensor, t: f64) -> Result<f64> {
    let dtype = probs::precise_dtype(logits.device());
    let lp = probs::log_probs(logits, t, dtype)?; // (n, C)
    let nll = probs::nll_per_example(&lp, labels)?; // (n)
    Ok(nll.mean_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

fn check(logits: &Tensor, labels: &Tensor) -> Result<(usize, usize)> {
    let (n, c) = logits.dims2().map_err(|_| Error::Shape {
        what: "logits",
        expected: "(examples, classes)".into(),
        found: logits.dims().to_vec(),
    })?;
    if labels.dims() != [n] {
        return Err(Error::Shape {
            what: "labels",
            expected: format!("({n})"),
            found: labels.dims().to_vec(),
        });
    }
    Ok((n, c))
}

/// The temperature in [`RANGE`] minimising the mean NLL of `labels` under softmax(logits / T),
/// by golden-section search over log T (the NLL is convex in 1 / T, so unimodal in log T),
/// to a relative precision of about 1e-5. Runs on the logits' device; each step copies back one
/// scalar.
pub fn fit_temperature(logits: &Tensor, labels: &Tensor) -> Result<f64> {
    let (n, _) = check(logits, labels)?;
    if n == 0 {
        return Err(Error::Empty);
    }
    let labels = labels.to_device(logits.device())?.to_dtype(DType::U32)?;
    let f = |u: f64| mean_nll(logits, &labels, u.exp());
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (RANGE.0.ln(), RANGE.1.ln());
    let mut c = b - phi * (b - a);
    let mut d = a + phi * (b - a);
    let (mut fc, mut fd) = (f(c)?, f(d)?);
    while b - a > 1e-5 {
        if fc <= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - phi * (b - a);
            fc = f(c)?;
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + phi * (b - a);
            fd = f(d)?;
        }
    }
    Ok(((a + b) / 2.0).exp())
}

/// Calibration before and after temperature scaling, measured on data the temperature was not
/// fitted to.
#[derive(Debug, Clone, Serialize)]
pub struct TemperatureScaling {
    /// The temperature fitted on each half.
    pub temperatures: [f64; 2],
    /// Their geometric mean: the temperature to deploy with.
    pub temperature: f64,
    /// ECE at the base temperature, averaged over the two held-out halves.
    pub ece_before: f64,
    /// ECE at the fitted temperatures, averaged over the two held-out halves.
    pub ece_after: f64,
    /// NLL at the base temperature, averaged likewise.
    pub nll_before: f64,
    /// NLL at the fitted temperatures, averaged likewise.
    pub nll_after: f64,
}

/// ECE and NLL of `logits` at temperature `t`.
fn measure(
    logits: &Tensor,
    labels: &Tensor,
    host_labels: &[u32],
    t: f64,
    bins: usize,
) -> Result<(f64, f64)> {
    let (conf, pred) = probs::confidence_and_prediction(logits, t)?;
    let conf = conf.to_device(&Device::Cpu)?.to_vec1::<f32>()?;
    let pred = pred.to_device(&Device::Cpu)?.to_vec1::<u32>()?;
    let correct: Vec<bool> = pred.iter().zip(host_labels).map(|(p, l)| p == l).collect();
    Ok((
        calibration(&conf, &correct, bins).ece,
        mean_nll(logits, labels, t)?,
    ))
}

/// Two-fold temperature scaling: rows are split into even and odd indices (deterministic, and
/// free of any ordering of the data); a temperature is fitted on one half and ECE and NLL are
/// measured on the other, before (at `base_temperature`) and after, then the halves swap and
/// the two measurements are averaged.
pub fn temperature_scaling(
    logits: &Tensor,
    labels: &Tensor,
    base_temperature: f64,
    bins: usize,
) -> Result<TemperatureScaling> {
    let (n, _) = check(logits, labels)?;
    if n < 2 {
        return Err(Error::InvalidConfig {
            name: "temperature scaling",
            expected: "at least 2 examples (one per half)",
            value: n.to_string(),
            hint: "evaluate more examples, or leave out --calibrate",
        });
    }
    let dev = logits.device();
    let labels = labels.to_device(dev)?.to_dtype(DType::U32)?;
    let host_labels = labels.to_device(&Device::Cpu)?.to_vec1::<u32>()?;
    let halves: [Vec<u32>; 2] = [
        (0..n as u32).step_by(2).collect(),
        (1..n as u32).step_by(2).collect(),
    ];
    let part = |idx: &[u32]| -> Result<(Tensor, Tensor, Vec<u32>)> {
        let i = Tensor::new(idx, dev)?;
        Ok((
            logits.index_select(&i, 0)?, // (n/2, C)
            labels.index_select(&i, 0)?, // (n/2)
            idx.iter().map(|&k| host_labels[k as usize]).collect(),
        ))
    };
    let a = part(&halves[0])?;
    let b = part(&halves[1])?;
    let mut temperatures = [0.0; 2];
    let mut sums = [0.0; 4];
    for (k, (fit, held)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
        let t = fit_temperature(&fit.0, &fit.1)?;
        temperatures[k] = t;
        let (ece0, nll0) = measure(&held.0, &held.1, &held.2, base_temperature, bins)?;
        let (ece1, nll1) = measure(&held.0, &held.1, &held.2, t, bins)?;
        for (s, v) in sums.iter_mut().zip([ece0, ece1, nll0, nll1]) {
            *s += v / 2.0;
        }
    }
    Ok(TemperatureScaling {
        temperatures,
        temperature: (temperatures[0] * temperatures[1]).sqrt(),
        ece_before: sums[0],
        ece_after: sums[1],
        nll_before: sums[2],
        nll_after: sums[3],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Logits of a calibrated model: labels drawn from softmax(logits) with a seeded generator.
    fn calibrated(n: usize, c: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut logits = Vec::with_capacity(n * c);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f32> = (0..c).map(|_| rng.random_range(-3.0f32..3.0)).collect();
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f64> = row.iter().map(|&x| f64::from(x - m).exp()).collect();
            let s: f64 = e.iter().sum();
            let mut u = rng.random_range(0.0..s);
            let mut label = c - 1;
            for (k, v) in e.iter().enumerate() {
                if u < *v {
                    label = k;
                    break;
                }
                u -= v;
            }
            labels.push(label as u32);
            logits.extend(row);
        }
        (logits, labels)
    }

    fn tensors(dev: &Device, scale: f32) -> (Tensor, Tensor) {
        let (l, y) = calibrated(4000, 4, 42);
        let n = y.len();
        let l: Vec<f32> = l.into_iter().map(|x| x * scale).collect();
        (
            Tensor::from_vec(l, (n, 4), dev).unwrap(),
            Tensor::from_vec(y, n, dev).unwrap(),
        )
    }

    #[test]
    fn a_calibrated_model_keeps_a_temperature_near_one() {
        let (l, y) = tensors(&Device::Cpu, 1.0);
        let t = fit_temperature(&l, &y).unwrap();
        assert!((t - 1.0).abs() < 0.1, "{t}");
    }

    #[test]
    fn an_over_confident_student_is_cooled_down() {
        // Logits five times too large: over-confident.
        let (l, y) = tensors(&Device::Cpu, 5.0);
        let s = temperature_scaling(&l, &y, 1.0, 10).unwrap();
        assert!(s.temperature > 3.5 && s.temperature < 6.5, "{s:?}");
        assert!(s.nll_after < s.nll_before * 0.7, "{s:?}");
        assert!(s.ece_after < s.ece_before / 2.0, "{s:?}");
        // And an under-confident one is sharpened.
        let (l, y) = tensors(&Device::Cpu, 0.2);
        let s = temperature_scaling(&l, &y, 1.0, 10).unwrap();
        assert!(s.temperature < 0.3, "{s:?}");
        assert!(s.nll_after < s.nll_before, "{s:?}");
    }

    #[test]
    fn golden_section_agrees_with_a_grid_search() {
        let (l, y) = tensors(&Device::Cpu, 2.5);
        let t = fit_temperature(&l, &y).unwrap();
        let y32 = y.to_dtype(DType::U32).unwrap();
        let (mut best, mut best_nll) = (0.0, f64::INFINITY);
        for i in 0..4000 {
            let g = 0.5 + i as f64 * 0.001;
            let v = mean_nll(&l, &y32, g).unwrap();
            if v < best_nll {
                (best, best_nll) = (g, v);
            }
        }
        assert!((t - best).abs() < 1e-3, "{t} vs {best}");
    }

    #[test]
    fn too_little_data_is_refused() {
        let l = Tensor::new(&[[1f32, 2.]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1u32], &Device::Cpu).unwrap();
        assert!(temperature_scaling(&l, &y, 1.0, 10).is_err());
        let bad = Tensor::new(&[1u32, 0], &Device::Cpu).unwrap();
        assert!(fit_temperature(&l, &bad).is_err());
    }
}
