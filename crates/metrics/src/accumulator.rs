//! The streaming accumulator: batches of logits in, per-example vectors kept on the device, one
//! host copy per vector at the end.

use candle::{DType, Device, Tensor};

use crate::error::{Error, Result, Side};
use crate::evaluation::{Evaluation, Examples, SideExamples};
use crate::MetricsConfig;
use crate::{fused, probs};

/// Per-example tensors of one batch, all `(b)` on the device.
struct BatchVectors {
    labels: Tensor,
    t_conf: Tensor,
    t_pred: Tensor,
    s_conf: Tensor,
    s_pred: Tensor,
    t_nll: Tensor,
    s_nll: Tensor,
    t_brier: Tensor,
    s_brier: Tensor,
    kl: Tensor,
    reverse_kl: Tensor,
    js: Tensor,
    cosine: Tensor,
    t_finite: Tensor,
    s_finite: Tensor,
}

/// Set to `1`, every [`Accumulator`] takes the device-tensor path on the CPU too (see
/// [`Accumulator::with_tensor_path`]).
pub const TENSOR_PATH_ENV: &str = "DISTILL_EVAL_TENSOR_METRICS";

/// Accumulates teacher and student logits batch by batch, on their device.
///
/// `update` computes confidences, predictions, divergences and losses on the device and keeps
/// only the per-example vectors there; `finish` concatenates them, copies each to the host once,
/// validates, and computes every statistic.
pub struct Accumulator {
    num_classes: usize,
    /// How the fused CPU kernel sums float32 softmax denominators (PyTorch's order here).
    sum_order: fused::SumOrder,
    /// Whether CPU batches also take the tensor path (the one GPUs take) instead of the fused
    /// kernel.
    tensor_path: bool,
    cfg: MetricsConfig,
    batches: Vec<BatchVectors>,
    rows: usize,
}

fn is_integer(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::U8 | DType::U32 | DType::I16 | DType::I32 | DType::I64
    )
}

fn is_float(dtype: DType) -> bool {
    matches!(dtype, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
}

/// The per-example vectors of a batch from whole-batch tensor operations, on any device.
fn tensor_batch(
    teacher: &Tensor,
    student: &Tensor,
    labels: Tensor,
    gather_labels: &Tensor,
    temperature: f64,
) -> Result<BatchVectors> {
    let precise = probs::precise_dtype(teacher.device());
    let (t_conf, t_pred) = probs::confidence_and_prediction(teacher, temperature)?;
    let (s_conf, s_pred) = probs::confidence_and_prediction(student, temperature)?;
    let lt = probs::log_probs(teacher, temperature, precise)?; // (b, C)
    let ls = probs::log_probs(student, temperature, precise)?; // (b, C)
    let (pt, ps) = (lt.exp()?, ls.exp()?); // (b, C)
    let div = probs::divergences(&lt, &ls, &pt, &ps)?;
    Ok(BatchVectors {
        labels,
        t_conf,
        t_pred,
        s_conf,
        s_pred,
        t_nll: probs::nll_per_example(&lt, gather_labels)?,
        s_nll: probs::nll_per_example(&ls, gather_labels)?,
        t_brier: probs::brier_per_example(&pt, gather_labels)?,
        s_brier: probs::brier_per_example(&ps, gather_labels)?,
        kl: div.kl,
        reverse_kl: div.reverse_kl,
        js: div.js,
        cosine: probs::cosine_distance(teacher, student, precise)?,
        t_finite: probs::finite_flags(teacher, temperature, precise)?,
        s_finite: probs::finite_flags(student, temperature, precise)?,
    })
}

/// The same vectors from the fused CPU kernel (`fused.rs`): one pass over each row pair.
fn fused_batch(
    teacher: &Tensor,
    student: &Tensor,
    labels: Tensor,
    gather_labels: &Tensor,
    params: fused::Params,
) -> Result<BatchVectors> {
    let b = labels.dims1()?;
    // NOTE: a host "copy" of host data: this path only runs on the CPU.
    let labels_host = gather_labels.to_vec1::<u32>()?;
    let cols = fused::batch(teacher, student, &labels_host, params)?;
    let cpu = &Device::Cpu;
    let f32s = |v: Vec<f32>| Tensor::from_vec(v, b, cpu);
    let u32s = |v: Vec<u32>| Tensor::from_vec(v, b, cpu);
    let f64s = |v: Vec<f64>| Tensor::from_vec(v, b, cpu);
    Ok(BatchVectors {
        labels,
        t_conf: f32s(cols.t_conf)?,
        t_pred: u32s(cols.t_pred)?,
        s_conf: f32s(cols.s_conf)?,
        s_pred: u32s(cols.s_pred)?,
        t_nll: f64s(cols.t_nll)?,
        s_nll: f64s(cols.s_nll)?,
        t_brier: f64s(cols.t_brier)?,
        s_brier: f64s(cols.s_brier)?,
        kl: f64s(cols.kl)?,
        reverse_kl: f64s(cols.reverse_kl)?,
        js: f64s(cols.js)?,
        cosine: f64s(cols.cosine)?,
        t_finite: f64s(cols.t_finite)?,
        s_finite: f64s(cols.s_finite)?,
    })
}

impl Accumulator {
    /// An empty accumulator for `num_classes`-class logits.
    pub fn new(num_classes: usize, cfg: &MetricsConfig) -> Result<Self> {
        if num_classes == 0 {
            return Err(Error::InvalidConfig {
                name: "the number of classes",
                expected: "at least 1",
                value: "0".into(),
                hint: "logits need one column per class",
            });
        }
        if !(cfg.temperature.is_finite() && cfg.temperature > 0.0) {
            return Err(Error::InvalidConfig {
                name: "the temperature",
                expected: "a positive finite number",
                value: cfg.temperature.to_string(),
                hint: "use the distillation temperature, or 1 for the plain softmax",
            });
        }
        if cfg.bins == 0 {
            return Err(Error::InvalidConfig {
                name: "the number of calibration bins",
                expected: "at least 1",
                value: "0".into(),
                hint: "10 bins is the usual choice",
            });
        }
        Ok(Self {
            num_classes,
            sum_order: fused::SumOrder::detect(),
            tensor_path: std::env::var_os(TENSOR_PATH_ENV).is_some_and(|v| v == "1"),
            cfg: cfg.clone(),
            batches: Vec::new(),
            rows: 0,
        })
    }

    /// Sends every batch through the device-tensor path, even on the CPU, where the fused
    /// kernel would run: the path CUDA and Metal take, so that it can be tested and compared
    /// on a machine without a GPU. Setting `DISTILL_EVAL_TENSOR_METRICS=1` does the same for
    /// every accumulator (the end-to-end tests and `scripts/gpu-check` use it).
    pub fn with_tensor_path(mut self) -> Self {
        self.tensor_path = true;
        self
    }

    /// Examples accumulated so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether nothing was accumulated.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    fn check_logits(&self, what: &'static str, t: &Tensor) -> Result<usize> {
        let shape_err = || Error::Shape {
            what,
            expected: format!("(examples, {})", self.num_classes),
            found: t.dims().to_vec(),
        };
        let (b, c) = t.dims2().map_err(|_| shape_err())?;
        if c != self.num_classes || !is_float(t.dtype()) {
            return Err(shape_err());
        }
        Ok(b)
    }

    /// Adds a batch: `teacher` and `student` are `(b, C)` float logits on one device, `labels`
    /// `(b)` integers on any device.
    pub fn update(&mut self, teacher: &Tensor, student: &Tensor, labels: &Tensor) -> Result<()> {
        let b = self.check_logits("teacher logits", teacher)?;
        let bs = self.check_logits("student logits", student)?;
        if bs != b {
            return Err(Error::Shape {
                what: "student logits",
                expected: format!("({b}, {}) like the teacher's", self.num_classes),
                found: student.dims().to_vec(),
            });
        }
        if labels.dims() != [b] || !is_integer(labels.dtype()) {
            return Err(Error::Shape {
                what: "labels",
                expected: format!("({b}) integers"),
                found: labels.dims().to_vec(),
            });
        }
        if b == 0 {
            return Ok(());
        }
        let device = teacher.device();
        let student = student.to_device(device)?;
        let labels = labels.to_device(device)?;
        let t = self.cfg.temperature;
        // Labels are validated at `finish`, where the row is known; clamp them here so that the
        // gathers stay in bounds whatever they hold.
        let labels = labels.to_dtype(DType::I64)?;
        let gather_labels = labels
            .clamp(0i64, (self.num_classes - 1) as i64)?
            .to_dtype(DType::U32)?;
        let batch = if !self.tensor_path && fused::applies(teacher, &student) {
            let params = fused::Params {
                temperature: t,
                order: self.sum_order,
            };
            fused_batch(teacher, &student, labels, &gather_labels, params)?
        } else {
            tensor_batch(teacher, &student, labels, &gather_labels, t)?
        };
        self.batches.push(batch);
        self.rows += b;
        Ok(())
    }

    /// Copies the per-example vectors to the host (once each), validates them and computes
    /// every statistic.
    pub fn finish(self) -> Result<Evaluation> {
        if self.rows == 0 {
            return Err(Error::Empty);
        }
        let cat = |f: fn(&BatchVectors) -> &Tensor| -> Result<Tensor> {
            let parts: Vec<&Tensor> = self.batches.iter().map(f).collect();
            // NOTE: the one device => host transfer of each per-example vector.
            Ok(Tensor::cat(&parts, 0)?.to_device(&Device::Cpu)?)
        };
        let f64s = |f: fn(&BatchVectors) -> &Tensor| -> Result<Vec<f64>> {
            Ok(cat(f)?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
        };
        for (side, flags) in [
            (Side::Teacher, f64s(|b| &b.t_finite)?),
            (Side::Student, f64s(|b| &b.s_finite)?),
        ] {
            if let Some(row) = flags.iter().position(|v| v.is_nan()) {
                return Err(Error::NonFinite { side, row });
            }
            if let Some(row) = flags.iter().position(|v| v.is_infinite()) {
                return Err(Error::Overflow {
                    side,
                    row,
                    temperature: self.cfg.temperature,
                });
            }
        }
        let labels = cat(|b| &b.labels)?.to_vec1::<i64>()?;
        if let Some((row, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l < 0 || l as usize >= self.num_classes)
        {
            return Err(Error::LabelOutOfRange {
                row,
                label,
                num_classes: self.num_classes,
            });
        }
        let side = |conf: fn(&BatchVectors) -> &Tensor,
                    pred: fn(&BatchVectors) -> &Tensor,
                    nll: fn(&BatchVectors) -> &Tensor,
                    brier: fn(&BatchVectors) -> &Tensor|
         -> Result<SideExamples> {
            Ok(SideExamples {
                confidence: cat(conf)?.to_vec1::<f32>()?,
                prediction: cat(pred)?.to_vec1::<u32>()?,
                nll: f64s(nll)?,
                brier: f64s(brier)?,
            })
        };
        let examples = Examples {
            labels: labels.iter().map(|&l| l as u32).collect(),
            teacher: side(|b| &b.t_conf, |b| &b.t_pred, |b| &b.t_nll, |b| &b.t_brier)?,
            student: side(|b| &b.s_conf, |b| &b.s_pred, |b| &b.s_nll, |b| &b.s_brier)?,
            kl: f64s(|b| &b.kl)?,
            reverse_kl: f64s(|b| &b.reverse_kl)?,
            js: f64s(|b| &b.js)?,
            cosine: f64s(|b| &b.cosine)?,
        };
        Evaluation::from_examples(examples, self.num_classes, &self.cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::path::PathBuf;

    std::thread_local! {
        /// Whether `accumulate` forces the tensor path (set by the `*_cpu_tensor` tests).
        static TENSOR_PATH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Runs `f` with `accumulate` sending CPU batches down the tensor path (the GPUs' path).
    fn on_tensor_path(f: impl FnOnce()) {
        TENSOR_PATH.with(|p| p.set(true));
        f();
        TENSOR_PATH.with(|p| p.set(false));
    }

    /// Expands a device-generic test `fn case(dev: &Device)` into one test per backend, and one
    /// more on the CPU through the tensor path that the GPUs take (the plain CPU test runs the
    /// fused kernel).
    macro_rules! test_device {
        ($fn_name:ident, $cpu:ident, $cpu_tensor:ident, $cuda:ident, $metal:ident) => {
            #[test]
            fn $cpu() {
                $fn_name(&Device::Cpu)
            }
            #[test]
            fn $cpu_tensor() {
                on_tensor_path(|| $fn_name(&Device::Cpu))
            }
            #[cfg(feature = "cuda")]
            #[test]
            fn $cuda() {
                $fn_name(&Device::new_cuda(0).expect("a CUDA device"))
            }
            #[cfg(feature = "metal")]
            #[test]
            fn $metal() {
                $fn_name(&Device::new_metal(0).expect("a Metal device"))
            }
        };
    }

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
    }

    fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
        (a - b).abs() <= abs + rel * b.abs()
    }

    #[track_caller]
    fn assert_close(what: &str, a: f64, b: f64, rel: f64, abs: f64) {
        assert!(close(a, b, rel, abs), "{what}: {a} vs expected {b}");
    }

    /// Feeds `(n, C)` logits in uneven batches of `batch` rows.
    fn accumulate(
        t: &Tensor,
        s: &Tensor,
        labels: &Tensor,
        cfg: &MetricsConfig,
        batch: usize,
    ) -> Result<Evaluation> {
        let (n, c) = t.dims2()?;
        let mut acc = Accumulator::new(c, cfg)?;
        if TENSOR_PATH.with(|p| p.get()) {
            acc = acc.with_tensor_path();
        }
        let mut start = 0;
        while start < n {
            let len = batch.min(n - start);
            acc.update(
                &t.narrow(0, start, len)?,
                &s.narrow(0, start, len)?,
                &labels.narrow(0, start, len)?,
            )?;
            start += len;
        }
        acc.finish()
    }

    fn p_value(what: &str, a: f64, e: f64) {
        if e == 0.0 {
            assert!(
                a < 1e-300,
                "{what}: expected an underflowed p-value, got {a}"
            );
        } else {
            assert_close(what, a, e, 1e-3, 0.0);
        }
    }

    fn conformance(dev: &Device) {
        for case in ["binary", "multiclass", "ties", "saturated"] {
            let dir = fixtures().join("score").join(case);
            let read = |f: &str| {
                Tensor::read_npy(dir.join(f))
                    .unwrap()
                    .to_device(dev)
                    .unwrap()
            };
            let (t, s, labels) = (read("teacher.npy"), read("student.npy"), read("labels.npy"));
            let args: Value =
                serde_json::from_slice(&std::fs::read(dir.join("args.json")).unwrap()).unwrap();
            let cfg = MetricsConfig {
                temperature: args["temperature"].as_f64().unwrap(),
                bins: args["bins"].as_u64().unwrap() as usize,
                ..Default::default()
            };
            let e: Value =
                serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
            let ev = accumulate(&t, &s, &labels, &cfg, 97).unwrap();
            assert_eq!(ev.n_examples as u64, e["n_examples"].as_u64().unwrap());
            assert_eq!(ev.num_classes as u64, e["num_classes"].as_u64().unwrap());
            for (side, got) in [("teacher", &ev.teacher), ("student", &ev.student)] {
                let x = &e[side];
                let f = |k: &str| x[k].as_f64().unwrap();
                let w = |k: &str| format!("{case}.{side}.{k}");
                for (k, v) in [
                    ("accuracy", got.accuracy),
                    ("precision", got.precision),
                    ("recall", got.recall),
                    ("f1", got.f1),
                    ("macro_precision", got.macro_precision),
                    ("macro_recall", got.macro_recall),
                    ("macro_f1", got.macro_f1),
                    ("ece", got.ece),
                ] {
                    assert_close(&w(k), v, f(k), 0.0, 1e-6);
                }
                assert_close(&w("nll"), got.nll, f("nll"), 1e-6, 0.0);
                assert_close(&w("brier"), got.brier, f("brier"), 1e-6, 0.0);
                let bins = x["ece_bins"].as_array().unwrap();
                assert_eq!(bins.len(), got.ece_bins.len());
                for (i, (eb, gb)) in bins.iter().zip(&got.ece_bins).enumerate() {
                    assert_eq!(gb.count, eb["count"].as_u64().unwrap(), "{case} bin {i}");
                    match (eb["accuracy"].as_f64(), gb.accuracy) {
                        (Some(a), Some(b)) => assert_close(&w("bin acc"), b, a, 0.0, 1e-6),
                        (None, None) => {}
                        other => panic!("{case} bin {i}: {other:?}"),
                    }
                    if let (Some(a), Some(b)) = (eb["confidence"].as_f64(), gb.confidence) {
                        assert_close(&w("bin conf"), b, a, 0.0, 1e-6);
                    }
                }
            }
            let f = |k: &str| e[k].as_f64().unwrap();
            assert_close(
                "retention",
                ev.accuracy_retention.unwrap(),
                f("accuracy_retention"),
                0.0,
                1e-6,
            );
            assert_close("kl", ev.kl_divergence, f("kl_divergence"), 1e-5, 0.0);
            assert_close("agreement", ev.agreement, f("agreement"), 0.0, 1e-12);
            let r = &e["ranking"];
            let rf = |k: &str| r[k].as_f64().unwrap();
            assert_close(
                &format!("{case} spearman"),
                ev.ranking.spearman,
                rf("spearman"),
                0.0,
                1e-5,
            );
            assert_close(
                &format!("{case} kendall"),
                ev.ranking.kendall,
                rf("kendall"),
                0.0,
                1e-5,
            );
            p_value(
                &format!("{case} spearman_p"),
                ev.ranking.spearman_p,
                rf("spearman_p"),
            );
            p_value(
                &format!("{case} kendall_p"),
                ev.ranking.kendall_p,
                rf("kendall_p"),
            );
            let er = &e["errors"];
            let count = |k: &str| er[k].as_u64().unwrap();
            assert_eq!(ev.errors.both_correct, count("both_correct"), "{case}");
            assert_eq!(ev.errors.both_wrong, count("both_wrong"), "{case}");
            assert_eq!(
                ev.errors.only_student_wrong,
                count("only_student_wrong"),
                "{case}"
            );
            assert_eq!(
                ev.errors.only_teacher_wrong,
                count("only_teacher_wrong"),
                "{case}"
            );
            assert_eq!(
                ev.verdict.to_string(),
                e["verdict"].as_str().unwrap(),
                "{case}"
            );
        }
    }
    test_device!(
        conformance,
        conformance_cpu,
        conformance_cpu_tensor,
        conformance_cuda,
        conformance_metal
    );

    fn edge_cases(dev: &Device) {
        let all: Value = serde_json::from_slice(
            &std::fs::read(fixtures().join("metrics").join("cases.json")).unwrap(),
        )
        .unwrap();
        for c in all["cases"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let mat = |k: &str| -> Tensor {
                let rows: Vec<Vec<f32>> = serde_json::from_value(c[k].clone()).unwrap();
                Tensor::new(rows, dev).unwrap()
            };
            let labels: Vec<i64> = serde_json::from_value(c["labels"].clone()).unwrap();
            let labels = Tensor::new(labels, dev).unwrap();
            let cfg = MetricsConfig {
                temperature: c["temperature"].as_f64().unwrap(),
                bins: c["bins"].as_u64().unwrap() as usize,
                ..Default::default()
            };
            let ev = accumulate(&mat("teacher"), &mat("student"), &labels, &cfg, 33).unwrap();
            let e = &c["expected"];
            for (side, got) in [("teacher", &ev.teacher), ("student", &ev.student)] {
                let x = &e[side];
                let f = |k: &str| x[k].as_f64().unwrap();
                let w = |k: &str| format!("{name}.{side}.{k}");
                for (k, v) in [
                    ("accuracy", got.accuracy),
                    ("precision", got.precision),
                    ("recall", got.recall),
                    ("f1", got.f1),
                    ("macro_precision", got.macro_precision),
                    ("macro_recall", got.macro_recall),
                    ("macro_f1", got.macro_f1),
                    ("ece", got.ece),
                    ("mce", got.mce),
                ] {
                    assert_close(&w(k), v, f(k), 0.0, 1e-6);
                }
                assert_close(&w("nll"), got.nll, f("nll"), 1e-6, 1e-12);
                assert_close(&w("brier"), got.brier, f("brier"), 1e-6, 1e-12);
                let counts: Vec<u64> = serde_json::from_value(x["bin_counts"].clone()).unwrap();
                let got_counts: Vec<u64> = got.ece_bins.iter().map(|b| b.count).collect();
                assert_eq!(got_counts, counts, "{name}.{side} bin counts");
            }
            let f = |k: &str| e[k].as_f64().unwrap();
            assert_close(
                &format!("{name} kl"),
                ev.kl_divergence,
                f("kl_divergence"),
                1e-5,
                1e-12,
            );
            assert_close(
                "rkl",
                ev.reverse_kl_divergence,
                f("reverse_kl_divergence"),
                1e-5,
                1e-12,
            );
            assert_close(
                &format!("{name} js"),
                ev.js_divergence,
                f("js_divergence"),
                1e-5,
                1e-12,
            );
            for q in ["p50", "p90", "p95", "p99", "max"] {
                let exp = e["kl_percentiles"][q].as_f64().unwrap();
                let got = match q {
                    "p50" => ev.kl_percentiles.p50,
                    "p90" => ev.kl_percentiles.p90,
                    "p95" => ev.kl_percentiles.p95,
                    "p99" => ev.kl_percentiles.p99,
                    _ => ev.kl_percentiles.max,
                };
                assert_close(&format!("{name} kl {q}"), got, exp, 1e-5, 1e-12);
            }
            assert_close("agreement", ev.agreement, f("agreement"), 0.0, 1e-12);
            for (k, got) in [
                ("spearman", ev.ranking.spearman),
                ("kendall", ev.ranking.kendall),
            ] {
                match e[k].as_f64() {
                    Some(x) => assert_close(&format!("{name} {k}"), got, x, 0.0, 1e-5),
                    None => assert!(got.is_nan(), "{name} {k}: expected undefined, got {got}"),
                }
            }
            for (k, got) in [
                ("spearman_p", ev.ranking.spearman_p),
                ("kendall_p", ev.ranking.kendall_p),
            ] {
                match e[k].as_f64() {
                    Some(x) => p_value(&format!("{name} {k}"), got, x),
                    None => assert!(got.is_nan(), "{name} {k}: expected undefined, got {got}"),
                }
            }
            let er = &e["errors"];
            assert_eq!(
                ev.errors.only_student_wrong,
                er["only_student_wrong"].as_u64().unwrap()
            );
            assert_eq!(
                ev.errors.only_teacher_wrong,
                er["only_teacher_wrong"].as_u64().unwrap()
            );
            assert_eq!(ev.errors.both_correct, er["both_correct"].as_u64().unwrap());
            let m = &e["mcnemar"];
            assert_eq!(ev.mcnemar.exact, m["exact"].as_bool().unwrap(), "{name}");
            assert_close(
                &format!("{name} mcnemar"),
                ev.mcnemar.statistic,
                m["statistic"].as_f64().unwrap(),
                1e-9,
                1e-12,
            );
            p_value(
                &format!("{name} mcnemar p"),
                ev.mcnemar.p_value,
                m["p_value"].as_f64().unwrap(),
            );
            if name == "constant_student" {
                assert!(
                    ev.warnings
                        .iter()
                        .any(|w| w.contains("student's confidences are all equal")),
                    "{:?}",
                    ev.warnings
                );
            }
        }
    }
    test_device!(
        edge_cases,
        edge_cases_cpu,
        edge_cases_cpu_tensor,
        edge_cases_cuda,
        edge_cases_metal
    );

    fn errors(dev: &Device) {
        let cfg = MetricsConfig::default();
        let t = Tensor::new(&[[1f32, 2.], [3., 4.], [5., 6.]], dev).unwrap();
        let bad = Tensor::new(&[[1f32, 2.], [3., 4.], [f32::NAN, 6.]], dev).unwrap();
        let labels = Tensor::new(&[0u32, 1, 1], dev).unwrap();
        // The row is global across batches: row 2 is the first row of the second batch.
        match accumulate(&t, &bad, &labels, &cfg, 2) {
            Err(Error::NonFinite {
                side: Side::Student,
                row: 2,
            }) => {}
            other => panic!("{other:?}"),
        }
        let inf = Tensor::new(&[[1f32, 2.], [f32::NEG_INFINITY, 4.], [5., 6.]], dev).unwrap();
        match accumulate(&inf, &t, &labels, &cfg, 2) {
            Err(Error::NonFinite {
                side: Side::Teacher,
                row: 1,
            }) => {}
            other => panic!("{other:?}"),
        }
        let out_of_range = Tensor::new(&[0i64, 2, 1], dev).unwrap();
        match accumulate(&t, &t, &out_of_range, &cfg, 2) {
            Err(Error::LabelOutOfRange {
                row: 1,
                label: 2,
                num_classes: 2,
            }) => {}
            other => panic!("{other:?}"),
        }
        let negative = Tensor::new(&[0i64, 1, -1], dev).unwrap();
        assert!(matches!(
            accumulate(&t, &t, &negative, &cfg, 2),
            Err(Error::LabelOutOfRange {
                row: 2,
                label: -1,
                ..
            })
        ));
        let mut acc = Accumulator::new(2, &cfg).unwrap();
        let three = Tensor::new(&[[1f32, 2., 3.]], dev).unwrap();
        assert!(matches!(
            acc.update(&three, &three, &labels.narrow(0, 0, 1).unwrap()),
            Err(Error::Shape { .. })
        ));
        let one_d = Tensor::new(&[1f32, 2.], dev).unwrap();
        assert!(matches!(
            acc.update(&one_d, &one_d, &labels),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            acc.update(&t, &t, &labels.narrow(0, 0, 2).unwrap()),
            Err(Error::Shape { .. })
        ));
        let float_labels = Tensor::new(&[0f32, 1., 1.], dev).unwrap();
        assert!(matches!(
            acc.update(&t, &t, &float_labels),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(acc.finish(), Err(Error::Empty)));
        assert!(Accumulator::new(
            2,
            &MetricsConfig {
                temperature: 0.0,
                ..cfg.clone()
            }
        )
        .is_err());
        assert!(Accumulator::new(
            2,
            &MetricsConfig {
                bins: 0,
                ..cfg.clone()
            }
        )
        .is_err());
        assert!(Accumulator::new(0, &cfg).is_err());
    }
    test_device!(
        errors,
        errors_cpu,
        errors_cpu_tensor,
        errors_cuda,
        errors_metal
    );

    /// Every number of two serialized evaluations agrees within `rel` (relative) or `abs`;
    /// everything else is equal.
    #[track_caller]
    fn assert_json_close(what: &str, a: &Value, b: &Value, rel: f64, abs: f64) {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!(close(x, y, rel, abs), "{what}: {x} (tensor) vs {y} (fused)");
            }
            (Value::Array(x), Value::Array(y)) => {
                assert_eq!(x.len(), y.len(), "{what}: lengths");
                for (i, (x, y)) in x.iter().zip(y).enumerate() {
                    assert_json_close(&format!("{what}[{i}]"), x, y, rel, abs);
                }
            }
            (Value::Object(x), Value::Object(y)) => {
                assert_eq!(
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>(),
                    "{what}: keys"
                );
                for (k, x) in x {
                    assert_json_close(&format!("{what}.{k}"), x, &y[k], rel, abs);
                }
            }
            _ => assert_eq!(a, b, "{what}"),
        }
    }

    /// The whole evaluation through the tensor path (what CUDA and Metal run) equals the fused
    /// CPU kernel's: on the reference fixtures, at two temperatures, in float32, float64 and
    /// half-precision logits, with more classes than `SEQUENTIAL_SUM_MAX_CLASSES`. Up to 64
    /// classes the per-example vectors are bit for bit equal, so the statistics are too; above,
    /// confidences may differ in their last bit, which can move a tie, hence the tolerance.
    #[test]
    fn tensor_path_and_fused_kernel_give_the_same_evaluation() {
        let dev = &Device::Cpu;
        let both = |t: &Tensor, s: &Tensor, labels: &Tensor, cfg: &MetricsConfig, what: &str| {
            let c = t.dims2().unwrap().1;
            let run = |tensor: bool| {
                let mut acc = Accumulator::new(c, cfg).unwrap();
                if tensor {
                    acc = acc.with_tensor_path();
                }
                acc.update(t, s, labels).unwrap();
                serde_json::to_value(acc.finish().unwrap()).unwrap()
            };
            let (tensor, fused) = (run(true), run(false));
            if c <= probs::SEQUENTIAL_SUM_MAX_CLASSES && t.dtype() != DType::F64 {
                assert_eq!(tensor, fused, "{what}");
            } else {
                assert_json_close(what, &tensor, &fused, 1e-3, 1e-9);
            }
        };
        for case in ["binary", "multiclass", "ties", "saturated"] {
            let dir = fixtures().join("score").join(case);
            let read = |f: &str| Tensor::read_npy(dir.join(f)).unwrap();
            let (t, s, labels) = (read("teacher.npy"), read("student.npy"), read("labels.npy"));
            for temperature in [1.0, 2.5] {
                let cfg = MetricsConfig {
                    temperature,
                    ..MetricsConfig::default()
                };
                both(&t, &s, &labels, &cfg, &format!("{case}, T = {temperature}"));
            }
        }
        for (c, dtype) in [
            (3, DType::F32),
            (10, DType::F64),
            (10, DType::F16),
            (10, DType::BF16),
            (300, DType::F32),
        ] {
            let b = 500;
            let logits = |seed| {
                Tensor::from_vec(mixed_logits(b, c, seed), (b, c), dev)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap()
            };
            let labels: Vec<u32> = (0..b as u32).map(|i| (i * 7) % c as u32).collect();
            let labels = Tensor::new(labels.as_slice(), dev).unwrap();
            let cfg = MetricsConfig::default();
            both(
                &logits(3),
                &logits(4),
                &labels,
                &cfg,
                &format!("C = {c}, {dtype:?}"),
            );
        }
    }

    #[test]
    fn half_precision_logits_are_accepted() {
        let dev = Device::Cpu;
        let t = Tensor::new(&[[1f32, 2.], [3., 1.]], &dev).unwrap();
        let labels = Tensor::new(&[1u8, 0], &dev).unwrap();
        let cfg = MetricsConfig::default();
        let full = accumulate(&t, &t, &labels, &cfg, 8).unwrap();
        let half = accumulate(
            &t.to_dtype(DType::F16).unwrap(),
            &t.to_dtype(DType::BF16).unwrap(),
            &labels,
            &cfg,
            8,
        )
        .unwrap();
        assert_eq!(full.teacher.accuracy, half.teacher.accuracy);
        assert!(half.kl_divergence.abs() < 1e-12); // small integers are exact in f16 and bf16
    }

    /// Logits with ordinary, tied, saturated and extreme rows, seeded.
    fn mixed_logits(rows: usize, c: usize, seed: u64) -> Vec<f32> {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(seed);
        let mut v = Vec::with_capacity(rows * c);
        for i in 0..rows {
            for _ in 0..c {
                let x: f32 = match i % 5 {
                    0 => rng.random_range(-4.0..4.0),
                    1 => rng.random_range(0..3) as f32, // ties
                    2 => rng.random_range(-60.0..60.0), // saturated
                    3 => rng.random_range(-1e4..1e4),   // underflowing probabilities
                    _ => rng.random_range(-0.01..0.01),
                };
                v.push(x);
            }
        }
        v
    }

    /// The fused CPU kernel reproduces the tensor path: every float64 vector bit for bit, and, when
    /// summing left to right, the float32 confidences bit for bit up to
    /// `SEQUENTIAL_SUM_MAX_CLASSES` classes (above it the tensor path sums the softmax
    /// denominator with SIMD, so the last bit may differ).
    #[test]
    fn fused_cpu_kernel_matches_the_tensor_path() {
        let dev = &Device::Cpu;
        let cases = [
            (1, 1.0),
            (2, 1.0),
            (3, 2.5),
            (10, 1.0),
            (64, 4.0),
            (300, 1.0),
        ];
        // float32 logits, and float64 ones that float32 does not hold exactly.
        for (dtype, (c, temperature)) in [DType::F32, DType::F64]
            .into_iter()
            .flat_map(|d| cases.map(|case| (d, case)))
        {
            let b = 1000;
            let logits = |seed| {
                let t = Tensor::from_vec(mixed_logits(b, c, seed), (b, c), dev).unwrap();
                match dtype {
                    DType::F64 => t.to_dtype(DType::F64).unwrap().affine(1.0, 1e-9).unwrap(),
                    _ => t,
                }
            };
            let (t, s) = (logits(1), logits(2));
            let labels: Vec<i64> = (0..b as i64).map(|i| i % c as i64).collect();
            let labels = Tensor::new(labels.as_slice(), dev).unwrap();
            let gather = labels.to_dtype(DType::U32).unwrap();
            assert!(fused::applies(&t, &s));
            let a = tensor_batch(&t, &s, labels.clone(), &gather, temperature).unwrap();
            let params = fused::Params {
                temperature,
                order: fused::SumOrder::Sequential,
            };
            let f = fused_batch(&t, &s, labels, &gather, params).unwrap();
            let f64s = |x: &Tensor| x.to_vec1::<f64>().unwrap();
            for (name, x, y) in [
                ("t_nll", &a.t_nll, &f.t_nll),
                ("s_nll", &a.s_nll, &f.s_nll),
                ("t_brier", &a.t_brier, &f.t_brier),
                ("s_brier", &a.s_brier, &f.s_brier),
                ("kl", &a.kl, &f.kl),
                ("reverse_kl", &a.reverse_kl, &f.reverse_kl),
                ("js", &a.js, &f.js),
                ("t_finite", &a.t_finite, &f.t_finite),
                ("s_finite", &a.s_finite, &f.s_finite),
            ] {
                assert_eq!(
                    f64s(x),
                    f64s(y),
                    "{name}, {dtype:?}, C = {c}, T = {temperature}"
                );
            }
            // Cosine distances: sums in different orders, equal to rounding.
            for (x, y) in f64s(&a.cosine).iter().zip(f64s(&f.cosine)) {
                assert!((x - y).abs() <= 1e-12, "cosine {x} vs {y}, C = {c}");
                assert!((0.0..=2.0).contains(&y), "cosine {y}, C = {c}");
            }
            for (x, y) in [(&a.t_pred, &f.t_pred), (&a.s_pred, &f.s_pred)] {
                let (x, y) = (x.to_vec1::<u32>().unwrap(), y.to_vec1::<u32>().unwrap());
                let same = x.iter().zip(&y).filter(|(a, b)| a == b).count();
                // Predictions can only differ where two probabilities tie to the last bit.
                assert!(
                    same >= b - b / 100,
                    "C = {c}: {same} of {b} predictions agree"
                );
                if c <= probs::SEQUENTIAL_SUM_MAX_CLASSES {
                    assert_eq!(x, y, "C = {c}");
                }
            }
            for (x, y) in [(&a.t_conf, &f.t_conf), (&a.s_conf, &f.s_conf)] {
                let (x, y) = (x.to_vec1::<f32>().unwrap(), y.to_vec1::<f32>().unwrap());
                if c <= probs::SEQUENTIAL_SUM_MAX_CLASSES {
                    assert_eq!(x, y, "confidences, C = {c}, T = {temperature}");
                } else {
                    // Two summation orders of C terms differ by at most about C ulps.
                    let tol = c as f32 * f32::EPSILON;
                    for (x, y) in x.iter().zip(&y) {
                        assert!((x - y).abs() <= tol * x.abs(), "{x} vs {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn non_finite_rows_are_flagged_by_the_fused_kernel() {
        let dev = &Device::Cpu;
        let t = Tensor::new(&[[0f32, 1.0], [f32::NAN, 0.0], [0.0, f32::INFINITY]], dev).unwrap();
        let s = Tensor::new(&[[0f32, 1.0], [0.0, 0.0], [0.0, 0.0]], dev).unwrap();
        let labels = Tensor::new(&[0i64, 1, 0], dev).unwrap();
        let gather = labels.to_dtype(DType::U32).unwrap();
        let params = fused::Params {
            temperature: 1.0,
            order: fused::SumOrder::detect(),
        };
        let f = fused_batch(&t, &s, labels, &gather, params).unwrap();
        let flags = f.t_finite.to_vec1::<f64>().unwrap();
        assert_eq!(flags[0], 0.0);
        assert!(flags[1].is_nan() && flags[2].is_nan());
        assert_eq!(f.s_finite.to_vec1::<f64>().unwrap(), vec![0.0; 3]);
    }

    /// Both paths' per-example vectors for `(t, s)` at `temperature`, labels all 0.
    fn both_paths(t: &Tensor, s: &Tensor, temperature: f64) -> [BatchVectors; 2] {
        let b = t.dims2().unwrap().0;
        let labels = Tensor::zeros(b, DType::I64, t.device()).unwrap();
        let gather = labels.to_dtype(DType::U32).unwrap();
        let params = fused::Params {
            temperature,
            order: fused::SumOrder::detect(),
        };
        [
            tensor_batch(t, s, labels.clone(), &gather, temperature).unwrap(),
            fused_batch(t, s, labels, &gather, params).unwrap(),
        ]
    }

    fn values(x: &Tensor) -> Vec<f64> {
        x.to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap()
    }

    #[test]
    fn identical_inputs_give_exactly_zero_divergences_and_a_certain_row_zero_nll() {
        let dev = &Device::Cpu;
        let (b, c) = (200, 7);
        let mut rows = mixed_logits(b, c, 5);
        // Row 0 is certain of class 0: every other probability underflows.
        rows[..c].copy_from_slice(&[900.0, 0.0, -5.0, 1.0, 2.0, 3.0, 4.0]);
        let t32 = Tensor::from_vec(rows, (b, c), dev).unwrap();
        for t in [t32.clone(), t32.to_dtype(DType::F64).unwrap()] {
            for temperature in [1.0, 2.5] {
                for (path, v) in ["tensor", "fused"]
                    .iter()
                    .zip(both_paths(&t, &t, temperature))
                {
                    for (name, x) in [("kl", &v.kl), ("reverse_kl", &v.reverse_kl), ("js", &v.js)] {
                        for (i, x) in values(x).iter().enumerate() {
                            assert_eq!(
                                x.to_bits(),
                                0,
                                "{path} {name} row {i}: {x:e}, T = {temperature}"
                            );
                        }
                    }
                    if temperature == 1.0 {
                        for nll in [&v.t_nll, &v.s_nll] {
                            let nll = values(nll)[0];
                            assert_eq!(nll.to_bits(), 0, "{path} NLL of a certain row: {nll:e}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn divergences_are_never_negative() {
        let dev = &Device::Cpu;
        let (b, c) = (500, 5);
        // Students a hair away from the teacher, where rounding decides the sign.
        let t: Vec<f32> = mixed_logits(b, c, 11);
        let s: Vec<f32> = t
            .iter()
            .enumerate()
            .map(|(i, v)| v + (i % 3) as f32 * 1e-6)
            .collect();
        let t = Tensor::from_vec(t, (b, c), dev).unwrap();
        let s = Tensor::from_vec(s, (b, c), dev).unwrap();
        for (path, v) in ["tensor", "fused"].iter().zip(both_paths(&t, &s, 1.0)) {
            for (name, x) in [("kl", &v.kl), ("reverse_kl", &v.reverse_kl), ("js", &v.js)] {
                for (i, x) in values(x).iter().enumerate() {
                    assert!(
                        x.is_sign_positive() && *x >= 0.0,
                        "{path} {name} row {i}: {x:e}"
                    );
                }
            }
        }
    }

    #[test]
    fn logits_beyond_float32_or_overflowing_at_a_small_temperature_keep_their_argmax() {
        let dev = &Device::Cpu;
        // float64 logits far outside float32's range, at T = 1.
        let wide = Tensor::new(&[[1e300f64, -1e300, 0.0], [0.0, 1e300, 5e299]], dev).unwrap();
        // float32 logits that overflow float32 once divided by T = 0.5 (but not float64).
        let big = Tensor::new(&[[3e38f32, 1e38, 0.0], [2e38, 2e38, -3e38]], dev).unwrap();
        for (t, temperature, pred, conf) in [
            (&wide, 1.0, [0, 1], [1.0, 1.0]),
            (&big, 0.5, [0, 0], [1.0, 0.5]),
        ] {
            for (path, v) in ["tensor", "fused"]
                .iter()
                .zip(both_paths(t, t, temperature))
            {
                assert_eq!(v.t_pred.to_vec1::<u32>().unwrap(), pred.to_vec(), "{path}");
                assert_eq!(v.t_conf.to_vec1::<f32>().unwrap(), conf.to_vec(), "{path}");
                assert_eq!(values(&v.t_finite), vec![0.0, 0.0], "{path}");
                assert_eq!(values(&v.kl), vec![0.0, 0.0], "{path}");
            }
            let labels = Tensor::new(&[pred[0] as i64, pred[1] as i64], dev).unwrap();
            let cfg = MetricsConfig {
                temperature,
                ..Default::default()
            };
            let ev = accumulate(t, t, &labels, &cfg, 2).unwrap();
            assert_eq!(ev.teacher.accuracy, 1.0);
        }
    }

    #[test]
    fn logits_overflowing_float64_at_the_temperature_are_refused() {
        let dev = &Device::Cpu;
        let t = Tensor::new(&[[1.0f64, 0.0], [1e308, 0.0]], dev).unwrap();
        for (path, v) in ["tensor", "fused"].iter().zip(both_paths(&t, &t, 0.1)) {
            let flags = values(&v.t_finite);
            assert_eq!(flags[0], 0.0, "{path}");
            assert_eq!(flags[1], f64::INFINITY, "{path}");
        }
        let labels = Tensor::new(&[0i64, 0], dev).unwrap();
        let cfg = MetricsConfig {
            temperature: 0.1,
            ..Default::default()
        };
        match accumulate(&t, &t, &labels, &cfg, 2) {
            Err(Error::Overflow { side, row, .. }) => {
                assert_eq!((side, row), (Side::Teacher, 1));
            }
            other => panic!("expected an overflow error, got {other:?}"),
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A batch of finite logits: 1-8 rows of 2-12 classes, values from tiny to large.
        fn batch() -> impl Strategy<Value = (usize, usize, Vec<f32>)> {
            (1usize..8, 2usize..12).prop_flat_map(|(b, c)| {
                let value = prop_oneof![-50.0f32..50.0, -1e4f32..1e4, Just(0.0f32), Just(-0.0f32)];
                (Just(b), Just(c), proptest::collection::vec(value, b * c))
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]

            #[test]
            fn divergences_are_never_negative_and_zero_for_identical_inputs(
                (b, c, t) in batch(),
                s in proptest::collection::vec(-50.0f32..50.0, 96),
                temperature in prop_oneof![Just(1.0f64), 0.5f64..8.0],
            ) {
                let dev = &Device::Cpu;
                let s: Vec<f32> = (0..b * c).map(|i| s[i % s.len()]).collect();
                let tt = Tensor::from_vec(t, (b, c), dev).unwrap();
                let st = Tensor::from_vec(s, (b, c), dev).unwrap();
                for (path, v) in ["tensor", "fused"].iter().zip(both_paths(&tt, &st, temperature)) {
                    for (name, x) in [("kl", &v.kl), ("reverse_kl", &v.reverse_kl), ("js", &v.js)] {
                        for (i, x) in values(x).iter().enumerate() {
                            prop_assert!(*x >= 0.0 && x.is_finite(), "{} {} row {}: {}", path, name, i, x);
                        }
                    }
                }
                for (path, v) in ["tensor", "fused"].iter().zip(both_paths(&tt, &tt, temperature)) {
                    for (name, x) in [("kl", &v.kl), ("reverse_kl", &v.reverse_kl), ("js", &v.js)] {
                        for (i, x) in values(x).iter().enumerate() {
                            prop_assert_eq!(x.to_bits(), 0, "{} {} row {}: {:e}", path, name, i, x);
                        }
                    }
                }
            }
        }
    }
}
