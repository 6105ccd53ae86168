//! Token-level statistics for causal LMs: per scored token, the divergence of the student's
//! next-token distribution from the teacher's, whether their argmaxes agree, and each model's
//! negative log-likelihood of the true next token.
//!
//! Everything over the vocabulary runs on the logits' device; only per-token scalars come
//! back to the host ([`TokenStats`]), so host memory is O(tokens), not O(tokens x vocab).
//! The temperature applies to the divergences only; NLL (hence perplexity) is always at T = 1.

use candle::{DType, Tensor, D};

use crate::error::{Error, Result};
use crate::probs::{divergences, log_probs, nll_per_example, precise_dtype};

/// Per-token figures for a batch of scored positions, on the host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenStats {
    /// KL(p || q) at the temperature, per token.
    pub kl: Vec<f64>,
    /// KL(q || p) at the temperature.
    pub reverse_kl: Vec<f64>,
    /// Jensen-Shannon divergence (natural log) at the temperature.
    pub js: Vec<f64>,
    /// Whether the teacher's and student's argmax agree.
    pub top1_agree: Vec<bool>,
    /// Teacher's NLL of the true next token (T = 1).
    pub teacher_nll: Vec<f64>,
    /// Student's NLL of the true next token (T = 1).
    pub student_nll: Vec<f64>,
    /// |top-k(p) ∩ top-k(q)| / k per token (k of [`token_stats`], at T = 1).
    pub topk_overlap: Vec<f64>,
    /// The teacher's k most likely next tokens per token (ids and probabilities at T = 1, most
    /// likely first; ties broken towards the lower id).
    pub teacher_top: Vec<Vec<(u32, f32)>>,
    /// The student's k most likely next tokens per token.
    pub student_top: Vec<Vec<(u32, f32)>>,
}

impl TokenStats {
    /// Appends another batch's figures.
    pub fn extend(&mut self, other: TokenStats) {
        self.kl.extend(other.kl);
        self.reverse_kl.extend(other.reverse_kl);
        self.js.extend(other.js);
        self.top1_agree.extend(other.top1_agree);
        self.teacher_nll.extend(other.teacher_nll);
        self.student_nll.extend(other.student_nll);
        self.topk_overlap.extend(other.topk_overlap);
        self.teacher_top.extend(other.teacher_top);
        self.student_top.extend(other.student_top);
    }

    /// Number of scored tokens.
    pub fn len(&self) -> usize {
        self.kl.len()
    }

    /// Whether no token was scored.
    pub fn is_empty(&self) -> bool {
        self.kl.is_empty()
    }

    /// Mean KL(p || q), or `None` with no token.
    pub fn mean_kl(&self) -> Option<f64> {
        mean(&self.kl)
    }

    /// Share of tokens whose argmaxes agree.
    pub fn top1_agreement(&self) -> Option<f64> {
        let n = self.top1_agree.len();
        (n > 0).then(|| self.top1_agree.iter().filter(|&&a| a).count() as f64 / n as f64)
    }

    /// Teacher's perplexity: exp of the mean NLL pooled over all scored tokens.
    pub fn teacher_perplexity(&self) -> Option<f64> {
        mean(&self.teacher_nll).map(f64::exp)
    }

    /// Student's perplexity.
    pub fn student_perplexity(&self) -> Option<f64> {
        mean(&self.student_nll).map(f64::exp)
    }
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The `k` largest entries of each row of `(n, V)` `log_p` (ties towards the lower index), as
/// `(n, k)` u32 ids and `(n, k)` values, on the device: `k` rounds of a first-maximum scan with
/// the winners masked, O(k V) per row rather than a sort of the vocabulary.
pub fn top_k(log_p: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
    let (n, v) = log_p.dims2()?;
    let k = k.min(v);
    let device = log_p.device();
    let columns = Tensor::arange(0u32, v as u32, device)?.reshape((1, v))?;
    let floor = Tensor::new(f64::NEG_INFINITY, device)?
        .to_dtype(log_p.dtype())?
        .broadcast_as((n, v))?;
    let mut rest = log_p.clone();
    let (mut ids, mut values) = (Vec::with_capacity(k), Vec::with_capacity(k));
    for _ in 0..k {
        let id = rest.argmax_keepdim(D::Minus1)?; // (n, 1)
        values.push(log_p.gather(&id, D::Minus1)?);
        let hit = columns.broadcast_eq(&id)?; // (n, v)
        rest = hit.where_cond(&floor, &rest)?;
        ids.push(id);
    }
    Ok((Tensor::cat(&ids, 1)?, Tensor::cat(&values, 1)?))
}

/// Each model's log-probability (T = 1) of `targets` under `(n, V)` logits, on the host: the
/// pieces of a multiple-choice continuation score.
pub fn target_log_probs(logits: &Tensor, targets: &Tensor) -> Result<Vec<f64>> {
    let log_p = log_probs(logits, 1.0, precise_dtype(logits.device()))?;
    let nll = nll_per_example(&log_p, &targets.to_dtype(DType::U32)?)?;
    Ok(nll.neg()?.to_dtype(DType::F64)?.to_vec1()?)
}

/// Per-token figures for `(n, V)` teacher and student logits of the same `n` positions and
/// the `(n)` u32 true next tokens `targets`; `k` sets the top-k overlap and how many top
/// tokens come back.
pub fn token_stats(
    teacher: &Tensor,
    student: &Tensor,
    targets: &Tensor,
    temperature: f64,
    k: usize,
) -> Result<TokenStats> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(Error::InvalidConfig {
            name: "temperature",
            expected: "a finite number > 0",
            value: temperature.to_string(),
            hint: "pass --temperature 1 for the models' own distributions",
        });
    }
    let (n, v) = teacher.dims2()?;
    let (ns, vs) = student.dims2()?;
    let nt = targets.dims1()?;
    if (ns, vs) != (n, v) || nt != n {
        return Err(Error::InvalidConfig {
            name: "token logits",
            expected:
                "(positions, vocab) teacher and student logits and (positions) targets of one shape",
            value: format!(
                "teacher {:?}, student {:?}, targets {:?}",
                (n, v),
                (ns, vs),
                nt
            ),
            hint: "score the same positions with models of one vocabulary",
        });
    }
    if n == 0 {
        return Ok(TokenStats::default());
    }
    let dtype = precise_dtype(teacher.device());
    let log_p = log_probs(teacher, temperature, dtype)?;
    let log_q = log_probs(student, temperature, dtype)?;
    let d = divergences(&log_p, &log_q, &log_p.exp()?, &log_q.exp()?)?;
    let (lp1, lq1) = if temperature == 1.0 {
        (log_p, log_q)
    } else {
        (
            log_probs(teacher, 1.0, dtype)?,
            log_probs(student, 1.0, dtype)?,
        )
    };
    let agree = teacher.argmax(D::Minus1)?.eq(&student.argmax(D::Minus1)?)?;
    assemble(&lp1, &lq1, d, &agree, targets, k)
}

/// llama.cpp's floor of a base's log-probabilities: entries at or below it are left out of
/// KL(base ‖ Q) (`p_log_base > -16.f` in `perplexity.cpp`'s `log_softmax`).
pub const BASE_LOG_PROB_FLOOR: f64 = -16.0;

/// [`token_stats`] against a teacher given as `(n, V)` log-probabilities (a llama.cpp base
/// file's, at T = 1), used as stored, the way `llama-perplexity --kl-divergence` uses them:
/// not renormalized, the teacher's NLL is minus its stored log-probability of the target, and
/// KL(p ‖ q) = Σ p (log p - log q) over the entries above [`BASE_LOG_PROB_FLOOR`], not clamped
/// at 0 (a 16-bit base can make it slightly negative). Reverse KL and Jensen-Shannon use the
/// same masked p. The argmaxes compared are the first maxima of the stored log-probabilities
/// and of the student's logits.
pub fn base_token_stats(
    base_log_p: &Tensor,
    student: &Tensor,
    targets: &Tensor,
    k: usize,
) -> Result<TokenStats> {
    let (n, v) = base_log_p.dims2()?;
    let (ns, vs) = student.dims2()?;
    let nt = targets.dims1()?;
    if (ns, vs) != (n, v) || nt != n {
        return Err(Error::InvalidConfig {
            name: "token logits",
            expected: "(positions, vocab) base log-probabilities and student logits and (positions) targets of one shape",
            value: format!("base {:?}, student {:?}, targets {:?}", (n, v), (ns, vs), nt),
            hint: "score the same positions with models of one vocabulary",
        });
    }
    if n == 0 {
        return Ok(TokenStats::default());
    }
    let dtype = precise_dtype(student.device());
    let log_p = base_log_p.to_dtype(dtype)?;
    let log_q = log_probs(student, 1.0, dtype)?;
    let kept = log_p.gt(BASE_LOG_PROB_FLOOR)?;
    let p = kept.where_cond(&log_p.exp()?, &log_p.zeros_like()?)?;
    let q = log_q.exp()?;
    let mut d = divergences(&log_p, &log_q, &p, &q)?;
    d.kl = (&p * (&log_p - &log_q)?)?.sum(D::Minus1)?;
    let agree = base_log_p
        .argmax(D::Minus1)?
        .eq(&student.argmax(D::Minus1)?)?;
    assemble(&log_p, &log_q, d, &agree, targets, k)
}

/// The per-token figures from T = 1 log-probabilities `lp1`, `lq1`, the divergences and the
/// argmax agreement.
fn assemble(
    lp1: &Tensor,
    lq1: &Tensor,
    d: crate::probs::Divergences,
    agree: &Tensor,
    targets: &Tensor,
    k: usize,
) -> Result<TokenStats> {
    let v = lp1.dims2()?.1;
    let targets = targets.to_dtype(DType::U32)?;
    let t_nll = nll_per_example(lp1, &targets)?;
    let s_nll = nll_per_example(lq1, &targets)?;
    let k = k.clamp(1, v);
    let (t_ids, t_lp) = top_k(lp1, k)?;
    let (s_ids, s_lp) = top_k(lq1, k)?;
    // (n, k, 1) against (n, 1, k): a top-k id of one model found among the other's.
    let common = t_ids
        .unsqueeze(2)?
        .broadcast_eq(&s_ids.unsqueeze(1)?)?
        .to_dtype(DType::F32)?
        .sum(2)?
        .sum(1)?; // (n)
    let overlap = (common.to_dtype(DType::F64)? / k as f64)?;
    let host = |t: &Tensor| -> Result<Vec<f64>> { Ok(t.to_dtype(DType::F64)?.to_vec1()?) };
    let tops = |ids: &Tensor, lp: &Tensor| -> Result<Vec<Vec<(u32, f32)>>> {
        let ids = ids.to_vec2::<u32>()?;
        let p = lp.exp()?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        Ok(ids
            .into_iter()
            .zip(p)
            .map(|(i, p)| i.into_iter().zip(p).collect())
            .collect())
    };
    Ok(TokenStats {
        topk_overlap: host(&overlap)?,
        teacher_top: tops(&t_ids, &t_lp)?,
        student_top: tops(&s_ids, &s_lp)?,
        kl: host(&d.kl)?,
        reverse_kl: host(&d.reverse_kl)?,
        js: host(&d.js)?,
        top1_agree: agree.to_vec1::<u8>()?.into_iter().map(|a| a != 0).collect(),
        teacher_nll: host(&t_nll)?,
        student_nll: host(&s_nll)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle::Device;

    /// Independent f64 host reference.
    fn reference(t: &[f64], s: &[f64], temp: f64) -> (f64, f64) {
        let ls = |z: &[f64], tt: f64| {
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = z.iter().map(|x| ((x - m) / tt).exp()).sum::<f64>().ln();
            z.iter().map(|x| (x - m) / tt - lse).collect::<Vec<_>>()
        };
        let (lp, lq) = (ls(t, temp), ls(s, temp));
        let kl = lp.iter().zip(&lq).map(|(a, b)| a.exp() * (a - b)).sum();
        let rkl = lp.iter().zip(&lq).map(|(a, b)| b.exp() * (b - a)).sum();
        (kl, rkl)
    }

    #[test]
    fn matches_host_reference_and_pools_perplexity_at_t1() -> Result<()> {
        let dev = Device::Cpu;
        let t = [
            [2.0f32, 0.5, -1.0, 0.0],
            [0.0, 3.0, 1.0, -2.0],
            [1.0, 1.0, 1.0, 1.0],
        ];
        let s = [
            [1.5f32, 0.7, -0.5, 0.2],
            [2.5, 0.0, 1.0, -1.0],
            [1.0, 1.0, 1.0, 1.0],
        ];
        let targets = Tensor::new(&[0u32, 1, 3], &dev)?;
        let temp = 2.0;
        let st = token_stats(
            &Tensor::new(&t, &dev)?,
            &Tensor::new(&s, &dev)?,
            &targets,
            temp,
            2,
        )?;
        assert_eq!(st.len(), 3);
        // Top-2 at T = 1: teacher rows {0, 1}, {1, 2}, {0, 1} (ties to the lower id); student
        // rows {0, 1}, {0, 2}, {0, 1}.
        let ids = |top: &[Vec<(u32, f32)>]| -> Vec<Vec<u32>> {
            top.iter()
                .map(|r| r.iter().map(|x| x.0).collect())
                .collect()
        };
        assert_eq!(ids(&st.teacher_top), [[0, 1], [1, 2], [0, 1]]);
        assert_eq!(ids(&st.student_top), [[0, 1], [0, 2], [0, 1]]);
        assert_eq!(st.topk_overlap, [1.0, 0.5, 1.0]);
        assert!((st.teacher_top[2][0].1 - 0.25).abs() < 1e-6);
        let total: f32 = st.student_top[0].iter().map(|x| x.1).sum();
        assert!(total < 1.0 && total > 0.5, "{total}");
        for i in 0..3 {
            let tf: Vec<f64> = t[i].iter().map(|&x| x as f64).collect();
            let sf: Vec<f64> = s[i].iter().map(|&x| x as f64).collect();
            let (kl, rkl) = reference(&tf, &sf, temp);
            assert!((st.kl[i] - kl).abs() < 1e-6, "kl {i}: {} vs {kl}", st.kl[i]);
            assert!((st.reverse_kl[i] - rkl).abs() < 1e-6);
            assert!(st.js[i] <= std::f64::consts::LN_2 && st.js[i] >= 0.0);
        }
        assert_eq!(st.kl[2], 0.0);
        assert_eq!(st.top1_agree, vec![true, false, true]);
        // NLL at T = 1 regardless of the divergence temperature.
        let tf: Vec<f64> = t[1].iter().map(|&x| x as f64).collect();
        let lse = tf.iter().map(|x| x.exp()).sum::<f64>().ln();
        assert!((st.teacher_nll[1] - (lse - 3.0)).abs() < 1e-6);
        assert!((st.student_nll[2] - 4f64.ln()).abs() < 1e-6);
        let ppl = (st.teacher_nll.iter().sum::<f64>() / 3.0).exp();
        assert!((st.teacher_perplexity().unwrap() - ppl).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn a_stored_base_is_used_as_llama_cpp_uses_it() -> Result<()> {
        let dev = Device::Cpu;
        // Stored log-probabilities, not normalized (16-bit rounding), one entry at the floor.
        let base = [[-0.5f32, -1.2, -20.0, -3.0], [-2.0, -0.3, -2.0, -4.0]];
        let student = [[1.0f32, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0]];
        let targets = Tensor::new(&[3u32, 1], &dev)?;
        let st = base_token_stats(
            &Tensor::new(&base, &dev)?,
            &Tensor::new(&student, &dev)?,
            &targets,
            2,
        )?;
        for i in 0..2 {
            let s: Vec<f64> = student[i].iter().map(|&x| f64::from(x)).collect();
            let lse = s.iter().map(|x| x.exp()).sum::<f64>().ln();
            // Σ over entries above -16 of p (log p - log q), p = exp(stored), no clamp.
            let kl: f64 = base[i]
                .iter()
                .zip(&s)
                .filter(|(&b, _)| b > -16.0)
                .map(|(&b, &z)| f64::from(b).exp() * (f64::from(b) - (z - lse)))
                .sum();
            assert!((st.kl[i] - kl).abs() < 1e-9, "{i}: {} vs {kl}", st.kl[i]);
        }
        // The teacher's NLL is minus the stored value; the student's is its log-softmax's.
        assert!((st.teacher_nll[0] - 3.0).abs() < 1e-9);
        assert!((st.teacher_nll[1] - 0.3).abs() < 1e-6);
        assert!((st.student_nll[1] - 4f64.ln()).abs() < 1e-9);
        // Argmaxes: 0 and 0 agree; the base's 1 against the uniform student's first, 0.
        assert_eq!(st.top1_agree, [true, false]);
        assert_eq!(st.teacher_top[1][0].0, 1);
        // A uniform student against a base of mass above 1 gives a negative KL, kept.
        let heavy = Tensor::new(&[[-1.0f32, -1.0, -1.0, -1.0]], &dev)?;
        let flat = Tensor::new(&[[0.0f32; 4]], &dev)?;
        let st = base_token_stats(&heavy, &flat, &Tensor::new(&[0u32], &dev)?, 1)?;
        let want = 4.0 * (-1f64).exp() * (-1.0 + 4f64.ln());
        assert!((st.kl[0] - want).abs() < 1e-9 && st.kl[0] > 0.0);
        let light = Tensor::new(&[[-2.0f32, -2.0, -2.0, -2.0]], &dev)?;
        let st = base_token_stats(&light, &flat, &Tensor::new(&[0u32], &dev)?, 1)?;
        assert!(st.kl[0] < 0.0, "{}", st.kl[0]);
        Ok(())
    }

    #[test]
    fn rejects_mismatched_shapes_and_bad_temperature() -> Result<()> {
        let dev = Device::Cpu;
        let a = Tensor::zeros((2, 3), DType::F32, &dev)?;
        let b = Tensor::zeros((2, 4), DType::F32, &dev)?;
        let y = Tensor::new(&[0u32, 1], &dev)?;
        assert!(token_stats(&a, &b, &y, 1.0, 5).is_err());
        assert!(token_stats(&a, &a, &y, 0.0, 5).is_err());
        let st = token_stats(&a, &a, &y, 1.0, 5)?;
        // k is capped at the vocabulary.
        assert_eq!(st.teacher_top[0].len(), 3);
        assert_eq!(st.topk_overlap, [1.0, 1.0]);
        let lp = target_log_probs(&a, &y)?;
        assert!((lp[0] + 3f64.ln()).abs() < 1e-6);
        assert_eq!(st.mean_kl(), Some(0.0));
        assert!((st.teacher_perplexity().unwrap() - 3.0).abs() < 1e-6);
        Ok(())
    }
}
