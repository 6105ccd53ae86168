//! The CPU path of `Accumulator::update`: every per-example quantity of a batch in one pass over
//! each pair of rows, rows in parallel.
//!
//! On the CPU, candle runs the tensor path of `probs` as some thirty whole-batch operations, each
//! reading and writing `(b, C)` arrays on one thread. Here each row pair is read once, its
//! temporaries stay in a row-sized buffer, and rayon spreads the rows over the cores.
//!
//! The arithmetic is the tensor path's, operation for operation: the same divisions, the same
//! libm `exp` and `ln`, the same comparisons for max and argmax (first index wins), and every sum
//! taken left to right from zero, as candle's CPU reductions take float64 sums and as `probs`
//! takes the float32 softmax denominator up to `SEQUENTIAL_SUM_MAX_CLASSES` classes. Within that
//! range the two paths agree bit for bit (tested below); above it the tensor path's float32 sum
//! is vectorised and this one stays sequential, so confidences may differ in the last bit.

use candle::{DType, Device, Storage, Tensor};
use rayon::prelude::*;

use crate::error::Result;

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

/// Whether `update` can take this path: CPU tensors whose values float32 holds exactly (a
/// float64 input keeps the tensor path, which reads its log-probabilities in float64).
pub(crate) fn applies(teacher: &Tensor, student: &Tensor) -> bool {
    let exact = |t: &Tensor| matches!(t.dtype(), DType::F32 | DType::F16 | DType::BF16);
    matches!(teacher.device(), Device::Cpu)
        && matches!(student.device(), Device::Cpu)
        && exact(teacher)
        && exact(student)
}

/// Runs `f` on the contiguous float32 values of `t` without copying them when possible.
fn with_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.to_dtype(DType::F32)?.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    if let (Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
        return f(&cpu.as_slice::<f32>()?[start..end]);
    }
    drop(storage);
    f(&t.flatten_all()?.to_vec1::<f32>()?)
}

/// Confidence and prediction of one row as `probs::confidence_and_prediction` computes them.
fn confidence(x: &[f32], temperature: f64, e: &mut [f32]) -> (f32, u32) {
    let t32 = temperature as f32;
    let z = |v: f32| if temperature == 1.0 { v } else { v / t32 };
    let mut m = z(x[0]);
    for &v in &x[1..] {
        let v = z(v);
        if m < v {
            m = v;
        }
    }
    let mut s = 0f32;
    for (e, &v) in e.iter_mut().zip(x) {
        *e = (z(v) - m).exp();
        s += *e;
    }
    let r = s.recip();
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
fn log_probs(x: &[f32], temperature: f64, out: &mut [f64]) {
    let z = |v: f32| {
        let v = f64::from(v);
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

/// 0 when every value is finite, NaN otherwise (as `probs::finite_flags`).
fn finite(x: &[f32]) -> f64 {
    if x.iter().all(|v| v.is_finite()) {
        0.0
    } else {
        f64::NAN
    }
}

/// NLL and Brier of one side from its log-probabilities and probabilities.
fn losses(lp: &[f64], p: &[f64], label: usize) -> (f64, f64) {
    let mut sq = 0f64;
    for &v in p {
        sq += v * v;
    }
    (-lp[label], (sq - p[label] * 2.0) + 1.0)
}

fn row(t: &[f32], s: &[f32], label: usize, temperature: f64, w: &mut Scratch) -> Row {
    let (t_conf, t_pred) = confidence(t, temperature, &mut w.e32);
    let (s_conf, s_pred) = confidence(s, temperature, &mut w.e32);
    log_probs(t, temperature, &mut w.lp);
    log_probs(s, temperature, &mut w.lq);
    for (p, &l) in w.p.iter_mut().zip(&w.lp) {
        *p = l.exp();
    }
    for (q, &l) in w.q.iter_mut().zip(&w.lq) {
        *q = l.exp();
    }
    let (mut kl, mut rkl, mut kl_pm, mut kl_qm) = (0f64, 0f64, 0f64, 0f64);
    for j in 0..t.len() {
        let (lp, lq, p, q) = (w.lp[j], w.lq[j], w.p[j], w.q[j]);
        let d = lp - lq;
        kl += p * d;
        rkl += q * d;
        let half = (p + q) * 0.5;
        let log_m = if half < f64::MIN_POSITIVE {
            f64::MIN_POSITIVE
        } else {
            half
        }
        .ln();
        kl_pm += p * (lp - log_m);
        kl_qm += q * (lq - log_m);
    }
    let (t_nll, t_brier) = losses(&w.lp, &w.p, label);
    let (s_nll, s_brier) = losses(&w.lq, &w.q, label);
    Row {
        teacher: SideRow {
            conf: t_conf,
            pred: t_pred,
            nll: t_nll,
            brier: t_brier,
            finite: finite(t),
        },
        student: SideRow {
            conf: s_conf,
            pred: s_pred,
            nll: s_nll,
            brier: s_brier,
            finite: finite(s),
        },
        kl,
        reverse_kl: -rkl,
        js: (kl_pm + kl_qm) * 0.5,
    }
}

/// Every per-example quantity of a `(b, C)` batch; `labels` are already clamped to `0..C`.
pub(crate) fn batch(
    teacher: &Tensor,
    student: &Tensor,
    labels: &[u32],
    temperature: f64,
) -> Result<Columns> {
    let (b, c) = teacher.dims2()?;
    let rows = with_values(teacher, |t| {
        with_values(student, |s| {
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
                            temperature,
                            &mut w,
                        );
                    }
                });
            Ok(rows)
        })
    })?;
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
        t_finite: col(|r| r.teacher.finite),
        s_finite: col(|r| r.student.finite),
    })
}
