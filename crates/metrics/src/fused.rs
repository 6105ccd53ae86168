//! The CPU path of `Accumulator::update`: every per-example quantity of a batch in one pass over
//! each pair of rows, rows in parallel.
//!
//! On the CPU, candle runs the tensor path of `probs` as some thirty whole-batch operations, each
//! reading and writing `(b, C)` arrays on one thread. Here each row pair is read once, its
//! temporaries stay in a row-sized buffer, and rayon spreads the rows over the cores.
//!
//! The float64 arithmetic (log-probabilities, divergences, NLL, Brier) is the tensor path's,
//! operation for operation: the same divisions, the same libm `exp` and `ln`, the same
//! comparisons for max and argmax (first index wins), every sum left to right from zero, as
//! candle's CPU reductions take float64 sums. Those vectors agree bit for bit (tested in
//! `accumulator.rs`).
//!
//! The float32 confidences follow PyTorch's CPU softmax instead, down to the order in which it
//! sums a row ([`SumOrder`]), because that order decides the last bit of each confidence, and
//! the last bit decides which confidences tie, which moves rank correlations and their p-values.

use std::f64::consts::LN_2;

use candle::{DType, Device, Storage, Tensor};
use rayon::prelude::*;

use crate::error::Result;

/// How PyTorch's float32 CPU softmax sums `exp(z - max)` over a row: ATen's `vec::reduce_all`
/// (`aten/src/ATen/native/cpu/SoftMaxKernel.cpp`, `_vec_softmax_lastdim`), whose order depends
/// on the vector width of the kernels PyTorch dispatches to on the CPU at hand.
///
/// A row shorter than one vector is summed left to right. A longer row is summed into `width`
/// interleaved lanes (element `j` into lane `j % width`; the last partial vector adds into the
/// first lanes), and the lanes are then reduced: by halves (lane `i` plus lane `i + width/2`,
/// and so on: the shuffles of the AVX2 and AVX-512 kernels) or left to right (ATen's generic
/// vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SumOrder {
    /// Left to right, whatever the length (the tensor path's order up to 64 classes).
    // NOTE: no CPU kernel of PyTorch sums this way; the tests use it to compare with the tensor
    // path and to show what PyTorch's order changes.
    #[cfg_attr(not(test), allow(dead_code))]
    Sequential,
    /// `width` lanes, reduced by halves when `halves`, else left to right.
    Lanes {
        /// Floats per vector: 16 for AVX-512, 8 for AVX2 and the generic kernels.
        width: usize,
        /// Whether the lanes are reduced by halves (AVX2, AVX-512).
        halves: bool,
    },
}

impl SumOrder {
    /// AVX-512 kernels: 16 lanes reduced by halves.
    pub(crate) const AVX512: Self = Self::Lanes {
        width: 16,
        halves: true,
    };
    /// AVX2 kernels: 8 lanes reduced by halves.
    pub(crate) const AVX2: Self = Self::Lanes {
        width: 8,
        halves: true,
    };
    /// ATen's generic vectors: 8 lanes reduced left to right.
    pub(crate) const GENERIC: Self = Self::Lanes {
        width: 8,
        halves: false,
    };

    /// The order PyTorch uses on this CPU: `ATEN_CPU_CAPABILITY` when set (as PyTorch honours
    /// it), else the widest of AVX-512 and AVX2 this CPU has with the companion features
    /// PyTorch requires, else the generic kernels.
    pub(crate) fn detect() -> Self {
        if let Ok(cap) = std::env::var("ATEN_CPU_CAPABILITY") {
            match cap.trim().to_ascii_lowercase().as_str() {
                "avx512" => return Self::AVX512,
                "avx2" => return Self::AVX2,
                "default" => return Self::GENERIC,
                _ => {}
            }
        }
        #[cfg(target_arch = "x86_64")]
        {
            // https://github.com/pytorch/pytorch/blob/v2.5.0/aten/src/ATen/native/DispatchStub.cpp:
            // AVX-512 needs avx512vl, avx512bw, avx512dq and fma; AVX2 needs avx2 and fma.
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("fma")
            {
                return Self::AVX512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Self::AVX2;
            }
        }
        Self::GENERIC
    }

    /// The float32 sum of `v` in this order.
    fn sum(self, v: &[f32]) -> f32 {
        let (width, halves) = match self {
            Self::Lanes { width, halves } if v.len() >= width => (width, halves),
            // Left to right: the order, or a row shorter than one vector.
            _ => return v.iter().fold(0.0, |s, &x| s + x),
        };
        let mut lanes = [0f32; 16];
        let lanes = &mut lanes[..width];
        lanes.copy_from_slice(&v[..width]);
        let mut chunks = v[width..].chunks_exact(width);
        for chunk in &mut chunks {
            for (l, &x) in lanes.iter_mut().zip(chunk) {
                *l += x;
            }
        }
        for (l, &x) in lanes.iter_mut().zip(chunks.remainder()) {
            *l += x;
        }
        if !halves {
            return lanes.iter().skip(1).fold(lanes[0], |s, &x| s + x);
        }
        let mut half = width / 2;
        while half > 0 {
            for i in 0..half {
                lanes[i] += lanes[i + half];
            }
            half /= 2;
        }
        lanes[0]
    }
}

/// Rows per rayon task: enough work per task to amortise scheduling for small class counts.
const ROWS_PER_TASK: usize = 256;

/// Per-example vectors of one batch, on the host (which is the device here).
pub(crate) struct Columns {
    pub(crate) t_conf: Vec<f32>,
    pub(crate) t_pred: Vec<u32>,
    pub(crate) s_conf: Vec<f32>,
    pub(crate) s_pred: Vec<u32>,
    pub(crate) t_nll: Vec<f64>,
    pub(crate) s_nll: Vec<f64>,
    pub(crate) t_brier: Vec<f64>,
    pub(crate) s_brier: Vec<f64>,
    pub(crate) kl: Vec<f64>,
    pub(crate) reverse_kl: Vec<f64>,
    pub(crate) js: Vec<f64>,
    pub(crate) cosine: Vec<f64>,
    pub(crate) t_finite: Vec<f64>,
    pub(crate) s_finite: Vec<f64>,
}

/// One side's results for one row.
#[derive(Clone, Copy, Default)]
struct SideRow {
    conf: f32,
    pred: u32,
    nll: f64,
    brier: f64,
    finite: f64,
}

/// Both sides' and the divergences' results for one row.
#[derive(Clone, Copy, Default)]
struct Row {
    teacher: SideRow,
    student: SideRow,
    kl: f64,
    reverse_kl: f64,
    js: f64,
    cosine: f64,
}

/// Row-sized scratch space, one per rayon task.
struct Scratch {
    e32: Vec<f32>,
    lp: Vec<f64>,
    lq: Vec<f64>,
    p: Vec<f64>,
    q: Vec<f64>,
}

impl Scratch {
    fn new(c: usize) -> Self {
        Self {
            e32: vec![0.0; c],
            lp: vec![0.0; c],
            lq: vec![0.0; c],
            p: vec![0.0; c],
            q: vec![0.0; c],
        }
    }
}

/// Whether `update` can take this path: float CPU tensors.
pub(crate) fn applies(teacher: &Tensor, student: &Tensor) -> bool {
    let float = |t: &Tensor| {
        matches!(
            t.dtype(),
            DType::F64 | DType::F32 | DType::F16 | DType::BF16
        )
    };
    matches!(teacher.device(), Device::Cpu)
        && matches!(student.device(), Device::Cpu)
        && float(teacher)
        && float(student)
}

/// A logit as the two paths read it: as float32 for confidences (the tensor path's
/// `to_dtype(F32)`), as float64 for log-probabilities (its `to_dtype(F64)`).
trait Logit: candle::WithDType + Copy + Send + Sync {
    fn as_f32(self) -> f32;
    fn as_f64(self) -> f64;
}

impl Logit for f32 {
    fn as_f32(self) -> f32 {
        self
    }
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Logit for f64 {
    fn as_f32(self) -> f32 {
        self as f32
    }
    fn as_f64(self) -> f64 {
        self
    }
}

/// Runs `f` on the contiguous values of `t` in `T` without copying them when possible.
fn with_values<T: Logit, R>(t: &Tensor, f: impl FnOnce(&[T]) -> Result<R>) -> Result<R> {
    let t = t.to_dtype(T::DTYPE)?.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    if let (Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
        return f(&cpu.as_slice::<T>()?[start..end]);
    }
    drop(storage);
    f(&t.flatten_all()?.to_vec1::<T>()?)
}

/// Confidence and prediction of one row as `probs::confidence_and_prediction` computes them,
/// with the softmax denominator summed in `order`.
///
/// Where float32 cannot hold the scaled logits (float64 logits beyond its range, or values
/// that overflow once divided by a small temperature) the float32 softmax is NaN; that row is
/// computed again in float64 with the maximum subtracted before dividing
/// ([`confidence_wide`]), as the tensor path does.
fn confidence<T: Logit>(
    x: &[T],
    temperature: f64,
    order: SumOrder,
    e: &mut [f32],
    e64: &mut [f64],
) -> (f32, u32) {
    let t32 = temperature as f32;
    let z = |v: T| {
        let v = v.as_f32();
        if temperature == 1.0 {
            v
        } else {
            v / t32
        }
    };
    let mut m = z(x[0]);
    for &v in &x[1..] {
        let v = z(v);
        if m < v {
            m = v;
        }
    }
    for (e, &v) in e.iter_mut().zip(x) {
        *e = (z(v) - m).exp();
    }
    let (conf, pred) = first_max(e, order.sum(e).recip());
    // NaN (a failed float32 softmax) or 0 falls back, as in the tensor path's check.
    if conf.is_nan() || conf <= 0.0 {
        return confidence_wide(x, temperature, e64);
    }
    (conf, pred)
}

/// The float64 fallback of [`confidence`]: `exp((x - max) / T)` summed left to right, the
/// largest probability rounded to float32, and the first index of it (`probs::wide_confidence`
/// operation for operation).
fn confidence_wide<T: Logit>(x: &[T], temperature: f64, e: &mut [f64]) -> (f32, u32) {
    let mut m = x[0].as_f64();
    for &v in &x[1..] {
        let v = v.as_f64();
        if m < v {
            m = v;
        }
    }
    let mut s = 0f64;
    for (e, &v) in e.iter_mut().zip(x) {
        *e = ((v.as_f64() - m) / temperature).exp();
        s += *e;
    }
    let (conf, pred) = first_max(e, s.recip());
    (conf as f32, pred)
}

/// The largest of `e[j] * r` and the first index of it, each product rounded as written (the
/// softmax normalisation of both confidence paths).
fn first_max<F: Copy + PartialOrd + std::ops::Mul<Output = F>>(e: &[F], r: F) -> (F, u32) {
    let mut conf = e[0] * r;
    let mut pred = 0u32;
    for (j, &e) in e.iter().enumerate().skip(1) {
        let p = e * r;
        if conf < p {
            conf = p;
            pred = j as u32;
        }
    }
    (conf, pred)
}

/// Float64 log-probabilities of one row as `probs::log_probs` computes them
/// (candle's `log_softmax`: `z - max - ln(sum(exp(z - max)))`).
fn log_probs<T: Logit>(x: &[T], temperature: f64, out: &mut [f64]) {
    let z = |v: T| {
        let v = v.as_f64();
        if temperature == 1.0 {
            v
        } else {
            v / temperature
        }
    };
    let mut m = z(x[0]);
    for &v in &x[1..] {
        let v = z(v);
        if m < v {
            m = v;
        }
    }
    let mut s = 0f64;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = z(v) - m;
        s += o.exp();
    }
    let log_s = s.ln();
    for o in out.iter_mut() {
        *o -= log_s;
    }
}

/// 0 when every value is finite and stays finite divided by the temperature in float64; NaN
/// when a value is not finite; infinity when the values are finite but one overflows once
/// divided (as `probs::finite_flags`).
fn finite<T: Logit>(x: &[T], temperature: f64) -> f64 {
    if !x.iter().all(|v| v.as_f64().is_finite()) {
        f64::NAN
    } else if temperature != 1.0 && !x.iter().all(|v| (v.as_f64() / temperature).is_finite()) {
        f64::INFINITY
    } else {
        0.0
    }
}

/// `x` clamped below at +0, NaN kept: a divergence is never negative, and rounding must not
/// print one as `-0.0000` or `-1e-17` (as `probs::non_negative`).
fn non_negative(x: f64) -> f64 {
    if x < 0.0 {
        0.0
    } else {
        x + 0.0
    }
}

/// NLL and Brier of one side from its log-probabilities and probabilities.
fn losses(lp: &[f64], p: &[f64], label: usize) -> (f64, f64) {
    let mut sq = 0f64;
    for &v in p {
        sq += v * v;
    }
    // `-1 * x + 0` (the tensor path's `affine(-1, 0)`) gives +0, never -0, for a certain class.
    (-lp[label] + 0.0, (sq - p[label] * 2.0) + 1.0)
}

/// The parameters shared by every row of a batch.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    /// Softmax temperature.
    pub(crate) temperature: f64,
    /// How the float32 softmax denominator is summed.
    pub(crate) order: SumOrder,
}

fn row<T: Logit>(t: &[T], s: &[T], label: usize, params: Params, w: &mut Scratch) -> Row {
    let (temperature, order) = (params.temperature, params.order);
    let (t_conf, t_pred) = confidence(t, temperature, order, &mut w.e32, &mut w.p);
    let (s_conf, s_pred) = confidence(s, temperature, order, &mut w.e32, &mut w.p);
    log_probs(t, temperature, &mut w.lp);
    log_probs(s, temperature, &mut w.lq);
    for (p, &l) in w.p.iter_mut().zip(&w.lp) {
        *p = l.exp();
    }
    for (q, &l) in w.q.iter_mut().zip(&w.lq) {
        *q = l.exp();
    }
    let (mut kl, mut rkl, mut js_p, mut js_q) = (0f64, 0f64, 0f64, 0f64);
    for j in 0..t.len() {
        let (lp, lq, p, q) = (w.lp[j], w.lq[j], w.p[j], w.q[j]);
        let d = lp - lq;
        kl += p * d;
        rkl += q * (lq - lp);
        // log p - log m = ln 2 - softplus(-d) and log q - log m = ln 2 - softplus(d), with
        // softplus(x) = max(x, 0) + ln(1 + exp(-|x|)) (`probs::divergences`).
        let l = ((-d.abs()).exp() + 1.0).ln();
        js_p += p * (-((-d).max(0.0) + l) + LN_2);
        js_q += q * (-(d.max(0.0) + l) + LN_2);
    }
    // Cosine distance of the raw logits (`probs::cosine_distance`).
    let (mut dot, mut tt, mut ss) = (0f64, 0f64, 0f64);
    for (a, b) in t.iter().zip(s) {
        let (a, b) = (a.as_f64(), b.as_f64());
        dot += a * b;
        tt += a * a;
        ss += b * b;
    }
    let norms = tt.sqrt() * ss.sqrt();
    let cosine = 1.0
        - if norms == 0.0 {
            0.0
        } else {
            (dot / norms).clamp(-1.0, 1.0)
        };
    let (t_nll, t_brier) = losses(&w.lp, &w.p, label);
    let (s_nll, s_brier) = losses(&w.lq, &w.q, label);
    Row {
        teacher: SideRow {
            conf: t_conf,
            pred: t_pred,
            nll: t_nll,
            brier: t_brier,
            finite: finite(t, temperature),
        },
        student: SideRow {
            conf: s_conf,
            pred: s_pred,
            nll: s_nll,
            brier: s_brier,
            finite: finite(s, temperature),
        },
        kl: non_negative(kl),
        reverse_kl: non_negative(rkl),
        js: non_negative((js_p + js_q) * 0.5),
        cosine,
    }
}

/// Every per-example quantity of a `(b, C)` batch; `labels` are already clamped to `0..C`.
/// Float64 logits are read as float64 (both sides, when either is); others as float32, which
/// holds them exactly.
pub(crate) fn batch(
    teacher: &Tensor,
    student: &Tensor,
    labels: &[u32],
    params: Params,
) -> Result<Columns> {
    let rows = if teacher.dtype() == DType::F64 || student.dtype() == DType::F64 {
        rows::<f64>(teacher, student, labels, params)?
    } else {
        rows::<f32>(teacher, student, labels, params)?
    };
    let col = |f: fn(&Row) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    Ok(Columns {
        t_conf: rows.iter().map(|r| r.teacher.conf).collect(),
        t_pred: rows.iter().map(|r| r.teacher.pred).collect(),
        s_conf: rows.iter().map(|r| r.student.conf).collect(),
        s_pred: rows.iter().map(|r| r.student.pred).collect(),
        t_nll: col(|r| r.teacher.nll),
        s_nll: col(|r| r.student.nll),
        t_brier: col(|r| r.teacher.brier),
        s_brier: col(|r| r.student.brier),
        kl: col(|r| r.kl),
        reverse_kl: col(|r| r.reverse_kl),
        js: col(|r| r.js),
        cosine: col(|r| r.cosine),
        t_finite: col(|r| r.teacher.finite),
        s_finite: col(|r| r.student.finite),
    })
}

/// The rows of a batch, read as `T`, in parallel.
fn rows<T: Logit>(
    teacher: &Tensor,
    student: &Tensor,
    labels: &[u32],
    params: Params,
) -> Result<Vec<Row>> {
    let (b, c) = teacher.dims2()?;
    with_values::<T, _>(teacher, |t| {
        with_values::<T, _>(student, |s| {
            let mut rows = vec![Row::default(); b];
            rows.par_chunks_mut(ROWS_PER_TASK)
                .enumerate()
                .for_each(|(chunk, out)| {
                    let mut w = Scratch::new(c);
                    let first = chunk * ROWS_PER_TASK;
                    for (k, r) in out.iter_mut().enumerate() {
                        let i = first + k;
                        let span = i * c..(i + 1) * c;
                        *r = row(
                            &t[span.clone()],
                            &s[span],
                            labels[i] as usize,
                            params,
                            &mut w,
                        );
                    }
                });
            Ok(rows)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn npy_f32(path: &PathBuf) -> (Vec<u64>, Vec<f32>) {
        let bytes = std::fs::read(path).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        let shape = npy.shape().to_vec();
        (shape, npy.into_vec().unwrap())
    }

    fn confidences(logits: &[f32], c: usize, order: SumOrder) -> Vec<f32> {
        let (mut e, mut e64) = (vec![0f32; c], vec![0f64; c]);
        logits
            .chunks_exact(c)
            .map(|row| confidence(row, 1.0, order, &mut e, &mut e64).0)
            .collect()
    }

    #[test]
    fn sums_follow_the_lane_order() {
        // 1..=20 as floats: every order gives 210 exactly, so use values whose sums round.
        let v: Vec<f32> = (0..20).map(|i| 1.0 + (i as f32) * 1e-7).collect();
        let seq = v.iter().fold(0f32, |s, &x| s + x);
        assert_eq!(SumOrder::Sequential.sum(&v), seq);
        // Shorter than a vector: left to right in every order.
        assert_eq!(
            SumOrder::AVX512.sum(&v[..15]),
            SumOrder::Sequential.sum(&v[..15])
        );
        // 20 values, 16 lanes: lanes 0..4 take v[16..20], then halves 8, 4, 2, 1.
        let mut lanes: Vec<f32> = v[..16].to_vec();
        for i in 0..4 {
            lanes[i] += v[16 + i];
        }
        for half in [8, 4, 2, 1] {
            for i in 0..half {
                lanes[i] += lanes[i + half];
            }
        }
        assert_eq!(SumOrder::AVX512.sum(&v), lanes[0]);
        // The generic kernels reduce their 8 lanes left to right.
        let mut lanes: Vec<f32> = v[..8].to_vec();
        for (i, &x) in v[8..].iter().enumerate() {
            lanes[i % 8] += x;
        }
        let generic = lanes.iter().skip(1).fold(lanes[0], |s, &x| s + x);
        assert_eq!(SumOrder::GENERIC.sum(&v), generic);
    }

    /// PyTorch's own confidences (tests/fixtures/metrics/softmax, made with its AVX-512
    /// kernels): summing in the AVX-512 lane order reproduces them bit for bit except where
    /// PyTorch's vectorised `exp` and libm's differ in the last bit (a few percent of rows);
    /// a left-to-right sum misses most of them once rows are long.
    #[test]
    fn avx512_order_reproduces_pytorch_confidences() {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/metrics/softmax");
        for case in ["c20", "c64", "c100", "c100_saturated", "c1000"] {
            let (shape, logits) = npy_f32(&dir.join(format!("{case}.logits.npy")));
            let (_, torch) = npy_f32(&dir.join(format!("{case}.torch_conf.npy")));
            let c = shape[1] as usize;
            // The fraction of rows bit-exact, after checking every row is within `ulps`.
            let exact = |order, ulps: f32| {
                let ours = confidences(&logits, c, order);
                for (a, b) in ours.iter().zip(&torch) {
                    assert!(
                        (a - b).abs() <= ulps * f32::EPSILON * b,
                        "{case}: {a} vs {b}"
                    );
                }
                let same = ours.iter().zip(&torch).filter(|(a, b)| a == b).count();
                same as f64 / torch.len() as f64
            };
            // PyTorch's order: a few ulps at most (from `exp`); left to right: up to ~C ulps.
            let lanes = exact(SumOrder::AVX512, 4.0);
            let sequential = exact(SumOrder::Sequential, c as f32);
            assert!(lanes >= 0.9, "{case}: {lanes} of rows bit-exact");
            assert!(
                lanes > sequential,
                "{case}: lanes {lanes} vs sequential {sequential}"
            );
        }
    }

    #[test]
    fn aten_cpu_capability_names_map_to_orders() {
        // Whatever this machine has, detection yields one of the three kernels' orders.
        let order = SumOrder::detect();
        assert!(
            [SumOrder::AVX512, SumOrder::AVX2, SumOrder::GENERIC].contains(&order),
            "{order:?}"
        );
    }
}
