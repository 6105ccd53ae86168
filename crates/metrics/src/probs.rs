//! Device-side probability arithmetic: temperature-scaled softmax confidences and predictions,
//! log-probabilities, and the per-example divergences, losses and finiteness flags.
//!
//! Everything here takes and returns tensors on the caller's device; nothing is copied to the
//! host.

use std::f64::consts::LN_2;

use candle::{DType, Device, Tensor, D};

use crate::error::Result;

/// Classes up to which this tensor path sums the softmax denominator left to right, column by
/// column (PyTorch's order for rows shorter than one of its vectors); above it, candle's
/// vectorised sum. The tensor path runs on GPUs; the CPU's fused kernel
/// (`fused.rs`) follows PyTorch's CPU summation order for every row length instead.
pub const SEQUENTIAL_SUM_MAX_CLASSES: usize = 64;

/// The dtype for divergences and losses: float64 where the device has it, float32 on Metal.
pub fn precise_dtype(device: &Device) -> DType {
    if device.is_metal() {
        DType::F32
    } else {
        DType::F64
    }
}

/// `logits / temperature` in `dtype`, as a true division (like PyTorch's `logits / T`, not a
/// multiplication by `1 / T`, which rounds differently).
pub fn scale(logits: &Tensor, temperature: f64, dtype: DType) -> Result<Tensor> {
    let z = logits.to_dtype(dtype)?;
    if temperature == 1.0 {
        return Ok(z);
    }
    let t = Tensor::new(temperature, z.device())?.to_dtype(dtype)?;
    Ok(z.broadcast_div(&t)?)
}

/// Confidence (largest probability, float32) and prediction (first index of the largest
/// probability, u32) of each row of `(b, C)` logits at `temperature`.
///
/// Follows PyTorch's float32 softmax step by step (max, `exp(z - max)`, a sum, one reciprocal,
/// a product), because ties between confidences change rank correlations and the reference
/// values are PyTorch's.
pub fn confidence_and_prediction(logits: &Tensor, temperature: f64) -> Result<(Tensor, Tensor)> {
    let z = scale(logits, temperature, DType::F32)?; // (b, C)
    let (_, c) = z.dims2()?;
    let m = z.max_keepdim(D::Minus1)?; // (b, 1)
    let e = z.broadcast_sub(&m)?.exp()?; // (b, C)
    let s = if c <= SEQUENTIAL_SUM_MAX_CLASSES {
        let mut acc = e.narrow(1, 0, 1)?; // (b, 1)
        for j in 1..c {
            acc = (acc + e.narrow(1, j, 1)?)?;
        }
        acc
    } else {
        e.sum_keepdim(D::Minus1)?
    };
    let probs = e.broadcast_mul(&s.recip()?)?; // (b, C)
    let confidence = probs.max(D::Minus1)?; // (b)
    let prediction = probs.argmax(D::Minus1)?; // (b)
                                               // float32 cannot hold the scaled logits only for float64 logits or below T = 1; there the
                                               // rows whose float32 softmax failed (NaN, which reductions may turn into anything but a
                                               // confidence in (0, 1]) are taken from the wide computation.
    if logits.dtype() != DType::F64 && temperature >= 1.0 {
        return Ok((confidence, prediction));
    }
    let (wide_conf, wide_pred) = wide_confidence(logits, temperature)?;
    let valid = confidence.gt(0.0)?; // (b) u8; NaN compares false
    Ok((
        valid.where_cond(&confidence, &wide_conf)?,
        valid.where_cond(&prediction, &wide_pred)?,
    ))
}

/// Confidence and prediction computed in the device's precise dtype with the maximum
/// subtracted before dividing by the temperature, `exp((x - max) / T)`: finite wherever the
/// logits are, whatever their range or the temperature. The confidence is then rounded to
/// float32.
pub fn wide_confidence(logits: &Tensor, temperature: f64) -> Result<(Tensor, Tensor)> {
    let dtype = precise_dtype(logits.device());
    let x = logits.to_dtype(dtype)?;
    let m = x.max_keepdim(D::Minus1)?; // (b, 1)
    let z = scale(&x.broadcast_sub(&m)?, temperature, dtype)?;
    let e = z.exp()?; // (b, C)
    let s = e.sum_keepdim(D::Minus1)?; // (b, 1)
    let probs = e.broadcast_mul(&s.recip()?)?; // (b, C)
    Ok((
        probs.max(D::Minus1)?.to_dtype(DType::F32)?,
        probs.argmax(D::Minus1)?,
    ))
}

/// Log-probabilities of `(b, C)` logits at `temperature`, in `dtype`.
pub fn log_probs(logits: &Tensor, temperature: f64, dtype: DType) -> Result<Tensor> {
    let z = scale(logits, temperature, dtype)?;
    Ok(candle_nn::ops::log_softmax(&z, D::Minus1)?)
}

/// Per-row divergences between two distributions given as log-probabilities.
#[derive(Debug)]
pub struct Divergences {
    /// `KL(p || q) = sum_c p_c (log p_c - log q_c)`, `(b)`.
    pub kl: Tensor,
    /// `KL(q || p)`, `(b)`.
    pub reverse_kl: Tensor,
    /// Jensen-Shannon divergence (natural log, at most ln 2), `(b)`.
    pub js: Tensor,
}

/// `x` clamped below at +0 with NaN kept (`maximum` keeps its left side unless it is smaller,
/// and `+ 0` turns -0 into +0): divergences are never negative, and rounding must not show
/// one as `-0.0000` or `-1e-17`.
pub fn non_negative(x: &Tensor) -> Result<Tensor> {
    Ok((x.maximum(0.0)? + 0.0)?)
}

/// KL both ways and Jensen-Shannon per row, from log-probabilities `log_p`, `log_q` and their
/// probabilities `p`, `q` (passed in so each exponential is computed once per batch).
///
/// KL is `sum p (log p - log q)`, never `log(softmax)`; reverse KL is `sum q (log q - log p)`,
/// so identical rows give exactly +0 both ways. For JS, `log p - log m` and `log q - log m`
/// (`m` the mixture) are written through `d = log p - log q` as `ln 2 - softplus(-d)` and
/// `ln 2 - softplus(d)`, with `softplus(x) = max(x, 0) + ln(1 + exp(-|x|))`: exactly 0 where
/// `p = q`, and finite where probabilities underflow (no `log 0`). Each row is clamped at 0.
pub fn divergences(log_p: &Tensor, log_q: &Tensor, p: &Tensor, q: &Tensor) -> Result<Divergences> {
    let d = (log_p - log_q)?; // (b, C)
    let kl = (p * &d)?.sum(D::Minus1)?;
    let reverse_kl = (q * (log_q - log_p)?)?.sum(D::Minus1)?;
    let l = (d.abs()?.neg()?.exp()? + 1.0)?.log()?; // ln(1 + exp(-|d|))
    let to_m_p = (d.neg()?.relu()? + &l)?.affine(-1.0, LN_2)?; // log p - log m
    let to_m_q = (d.relu()? + &l)?.affine(-1.0, LN_2)?; // log q - log m
    let js_p = (p * to_m_p)?.sum(D::Minus1)?;
    let js_q = (q * to_m_q)?.sum(D::Minus1)?;
    Ok(Divergences {
        kl: non_negative(&kl)?,
        reverse_kl: non_negative(&reverse_kl)?,
        js: non_negative(&((js_p + js_q)? * 0.5)?)?,
    })
}

/// Cosine distance `1 - <t, s> / (|t| |s|)` between the raw logit rows (no temperature: the
/// distance does not depend on one), in `dtype`. A row of zeros has similarity 0 with anything
/// (scikit-learn's `cosine_distances` convention), so its distance is 1. The similarity is
/// clamped to [-1, 1] against rounding.
pub fn cosine_distance(teacher: &Tensor, student: &Tensor, dtype: DType) -> Result<Tensor> {
    let (t, s) = (teacher.to_dtype(dtype)?, student.to_dtype(dtype)?);
    let dot = (&t * &s)?.sum(D::Minus1)?;
    let norms = (t.sqr()?.sum(D::Minus1)?.sqrt()? * s.sqr()?.sum(D::Minus1)?.sqrt()?)?;
    let zero = norms.eq(0.0)?;
    let safe = zero.where_cond(&norms.ones_like()?, &norms)?;
    // Rounding can take |cos| a hair past 1: clamped, so the distance stays in [0, 2].
    let sim = zero
        .where_cond(&norms.zeros_like()?, &(dot / safe)?)?
        .clamp(-1.0, 1.0)?;
    Ok(sim.affine(-1.0, 1.0)?)
}

/// Negative log-likelihood of the true class per row; `labels` is `(b)` u32 in range.
/// Computed as `-1 * x + 0`, so a certain prediction gives +0, never -0.
pub fn nll_per_example(log_p: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let picked = log_p.gather(&labels.unsqueeze(1)?, 1)?; // (b, 1)
    Ok(picked.squeeze(1)?.affine(-1.0, 0.0)?)
}

/// Brier score per row from probabilities `p`,
/// `sum_c (p_c - 1[c = label])^2 = sum p^2 - 2 p_label + 1`.
pub fn brier_per_example(p: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let sq = p.sqr()?.sum(D::Minus1)?; // (b)
    let p_label = p.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?; // (b)
    Ok(((sq - (p_label * 2.0)?)? + 1.0)?)
}

/// Per row, 0 when every logit is finite and stays finite divided by `temperature` in
/// `dtype`; NaN when a logit is NaN or infinite; infinity when the logits are finite but one
/// overflows once divided. `0 * x` is NaN exactly for NaN and the infinities, and cannot
/// overflow the way a plain row sum can.
pub fn finite_flags(logits: &Tensor, temperature: f64, dtype: DType) -> Result<Tensor> {
    let raw = logits.to_dtype(dtype)?.affine(0.0, 0.0)?.sum(D::Minus1)?; // (b)
    if temperature == 1.0 {
        return Ok(raw);
    }
    let scaled = scale(logits, temperature, dtype)?
        .affine(0.0, 0.0)?
        .sum(D::Minus1)?;
    let overflow = scaled.ne(&scaled)?; // (b) u8: NaN after dividing
    let inf = Tensor::full(f64::INFINITY, raw.shape(), raw.device())?.to_dtype(dtype)?;
    let zero = raw.zeros_like()?;
    Ok((raw + overflow.where_cond(&inf, &zero)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(rows: &[&[f32]]) -> Tensor {
        let c = rows[0].len();
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_vec(flat, (rows.len(), c), &Device::Cpu).unwrap()
    }

    #[test]
    fn confidence_is_the_largest_probability_and_ties_take_the_first_index() {
        let logits = t(&[&[0.0, 0.0], &[1.0, 3.0]]);
        let (conf, pred) = confidence_and_prediction(&logits, 1.0).unwrap();
        // softmax([0, 0]) = [1/2, 1/2]; softmax([1, 3]) max = 1 / (1 + e^-2) = 0.8808
        let conf = conf.to_vec1::<f32>().unwrap();
        assert_eq!(pred.to_vec1::<u32>().unwrap(), vec![0, 1]);
        assert!((conf[0] - 0.5).abs() < 1e-7);
        assert!((conf[1] - 0.8808).abs() < 1e-4);
    }

    #[test]
    fn temperature_flattens_the_distribution() {
        let logits = t(&[&[0.0, 2.0]]);
        let (c1, _) = confidence_and_prediction(&logits, 1.0).unwrap();
        let (c2, _) = confidence_and_prediction(&logits, 2.0).unwrap();
        // 1 / (1 + e^-2) = 0.8808 at T = 1; 1 / (1 + e^-1) = 0.7311 at T = 2
        assert!((c1.to_vec1::<f32>().unwrap()[0] - 0.8808).abs() < 1e-4);
        assert!((c2.to_vec1::<f32>().unwrap()[0] - 0.7311).abs() < 1e-4);
    }

    #[test]
    fn divergences_by_hand() {
        let lt = log_probs(&t(&[&[0.0, 0.0]]), 1.0, DType::F64).unwrap();
        let ls = log_probs(&t(&[&[0.0, 3.0f32.ln()]]), 1.0, DType::F64).unwrap();
        // p = [1/2, 1/2], q = [1/4, 3/4]: KL(p||q) = 1/2 ln 2 + 1/2 ln(2/3) = 0.1438
        let (pt, ps) = (lt.exp().unwrap(), ls.exp().unwrap());
        let d = divergences(&lt, &ls, &pt, &ps).unwrap();
        let kl = d.kl.to_vec1::<f64>().unwrap()[0];
        assert!((kl - 0.1438).abs() < 1e-4, "{kl}");
        // KL(q||p) = 1/4 ln(1/2) + 3/4 ln(3/2) = 0.1308
        let rkl = d.reverse_kl.to_vec1::<f64>().unwrap()[0];
        assert!((rkl - 0.1308).abs() < 1e-4, "{rkl}");
        // m = [3/8, 5/8]: JS = 1/2 (1/2 ln(4/3) + 1/2 ln(4/5)) + 1/2 (1/4 ln(2/3) + 3/4 ln(6/5)) = 0.0338
        let js = d.js.to_vec1::<f64>().unwrap()[0];
        assert!((js - 0.0338).abs() < 1e-4, "{js}");
        let labels = Tensor::new(&[1u32], &Device::Cpu).unwrap();
        // -ln(3/4) = 0.2877
        let nll = nll_per_example(&ls, &labels)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()[0];
        assert!((nll - 0.2877).abs() < 1e-4);
        // (1/4)^2 + (3/4 - 1)^2 = 1/8
        let brier = brier_per_example(&ps, &labels)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()[0];
        assert!((brier - 0.125).abs() < 1e-7); // float32 ln 3 in the logits
    }

    #[test]
    fn js_stays_finite_when_probabilities_underflow() {
        let lt = log_probs(&t(&[&[0.0, -2000.0, -3000.0]]), 1.0, DType::F64).unwrap();
        let ls = log_probs(&t(&[&[-1000.0, 0.0, -3000.0]]), 1.0, DType::F64).unwrap();
        let (pt, ps) = (lt.exp().unwrap(), ls.exp().unwrap());
        let js = divergences(&lt, &ls, &pt, &ps)
            .unwrap()
            .js
            .to_vec1::<f64>()
            .unwrap()[0];
        assert!((js - std::f64::consts::LN_2).abs() < 1e-12, "{js}");
    }

    #[test]
    fn finite_flags_catch_nan_and_infinities() {
        let logits = t(&[
            &[1.0, 2.0],
            &[f32::NAN, 0.0],
            &[f32::INFINITY, 0.0],
            &[0.0, f32::NEG_INFINITY],
            &[3.0e38, 3.0e38],
        ]);
        let f = finite_flags(&logits, 1.0, DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let finite: Vec<bool> = f.iter().map(|v| v.is_finite()).collect();
        assert_eq!(finite, vec![true, false, false, false, true]);
    }
}
