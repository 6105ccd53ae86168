//! Test helpers shared by the architecture files: fixture paths, `Tolerance` (burn `data.rs`
//! style, reporting the first 5 mismatches), the golden-logits check and `test_device!`
//! (candle `test_utils.rs`: a `fn case(dev: &Device)` runs on the CPU always, on CUDA and Metal
//! behind their features).

/// Expands `case` into a CPU test and, behind the `cuda` / `metal` features, GPU tests.
macro_rules! test_device {
    ($case:ident, $cpu:ident, $cuda:ident, $metal:ident) => {
        #[test]
        fn $cpu() {
            $case(&candle::Device::Cpu);
        }

        #[cfg(feature = "cuda")]
        #[test]
        fn $cuda() {
            $case(&candle::Device::new_cuda(0).unwrap());
        }

        #[cfg(feature = "metal")]
        #[test]
        fn $metal() {
            $case(&candle::Device::new_metal(0).unwrap());
        }
    };
}
use std::path::{Path, PathBuf};
pub(crate) use test_device;

use candle::{DType, Device, Tensor};

use crate::{load, DTypeSpec, LoadOptions, Model, ModelSource, TextInput};

/// Allowed difference: `|got - want| <= abs + rel * |want|`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tolerance {
    pub(crate) rel: f32,
    pub(crate) abs: f32,
}

impl Tolerance {
    /// float32 against torch float32 on the CPU.
    pub(crate) const F32: Self = Self {
        rel: 1e-4,
        abs: 1e-4,
    };
    /// Half precision: ~3 significant digits per op, compounded over the layers.
    pub(crate) const F16: Self = Self {
        rel: 2e-2,
        abs: 3e-2,
    };
    /// bfloat16 keeps only 8 bits of mantissa.
    pub(crate) const BF16: Self = Self {
        rel: 5e-2,
        abs: 1e-1,
    };

    pub(crate) fn for_dtype(dtype: DType) -> Self {
        match dtype {
            DType::F16 => Self::F16,
            DType::BF16 => Self::BF16,
            _ => Self::F32,
        }
    }

    /// Panics listing the first 5 mismatches.
    pub(crate) fn assert_close(&self, got: &[Vec<f32>], want: &[Vec<f32>], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: row count");
        let mut mismatches = Vec::new();
        let mut count = 0;
        let mut worst = 0f32;
        for (row, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g.len(), w.len(), "{what}: width of row {row}");
            for (col, (&g, &w)) in g.iter().zip(w).enumerate() {
                let diff = (g - w).abs();
                worst = worst.max(diff);
                // Written so that a NaN counts as a mismatch.
                let within = diff <= self.abs + self.rel * w.abs();
                if !within {
                    count += 1;
                    if mismatches.len() < 5 {
                        mismatches
                            .push(format!("  [{row}, {col}] got {g} want {w} (diff {diff:e})"));
                    }
                }
            }
        }
        assert!(
            count == 0,
            "{what}: {count} values outside {self:?} (max diff {worst:e}); first mismatches:\n{}",
            mismatches.join("\n")
        );
    }
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `models/<name>`: the conformance checkpoints.
pub(crate) fn model_dir(name: &str) -> PathBuf {
    repo_root().join("models").join(name)
}

/// `tests/fixtures/arch/<name>`: the tiny transformers-made checkpoints.
pub(crate) fn arch_dir(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/arch").join(name)
}

/// The `text` field of every row of models/data/test.jsonl, in order.
pub(crate) fn test_texts() -> Vec<String> {
    let path = repo_root().join("models/data/test.jsonl");
    let raw = std::fs::read_to_string(&path).unwrap();
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let row: serde_json::Value = serde_json::from_str(l).unwrap();
            row["text"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The texts a tests/fixtures/arch fixture was scored on.
pub(crate) fn arch_texts(name: &str) -> Vec<String> {
    let raw = std::fs::read_to_string(arch_dir(name).join("inputs.json")).unwrap();
    let inputs: serde_json::Value = serde_json::from_str(&raw).unwrap();
    inputs["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

/// A float32 `[n, c]` .npy file as rows.
pub(crate) fn read_npy(path: &Path) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    assert_eq!(shape.len(), 2, "{}", path.display());
    let cols = shape[1] as usize;
    let data: Vec<f32> = npy.into_vec().unwrap();
    data.chunks(cols).map(<[f32]>::to_vec).collect()
}

/// Logits of every text, batched `batch_size` at a time; concatenated on the device and copied
/// to the host once.
pub(crate) fn logits(model: &Model, texts: &[String], batch_size: usize) -> Vec<Vec<f32>> {
    let inputs: Vec<TextInput<'_>> = texts.iter().map(|t| TextInput::single(t)).collect();
    let encoded = model.encode(&inputs).unwrap();
    let mut parts = Vec::new();
    for chunk in encoded.chunks(batch_size) {
        let items: Vec<_> = chunk.iter().collect();
        let batch = model.batch(&items).unwrap();
        let out = model.forward(&batch).unwrap();
        assert_eq!(out.dims(), [chunk.len(), model.num_labels()]);
        assert_eq!(out.dtype(), model_dtype(model));
        parts.push(out);
    }
    Tensor::cat(&parts, 0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap()
}

fn model_dtype(model: &Model) -> DType {
    match model.info.dtype.as_str() {
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        _ => DType::F32,
    }
}

pub(crate) fn load_local(dir: &Path, dtype: DTypeSpec) -> Model {
    load_on(dir, dtype, &Device::Cpu)
}

pub(crate) fn load_on(dir: &Path, dtype: DTypeSpec, device: &Device) -> Model {
    let opts = LoadOptions {
        dtype,
        ..Default::default()
    };
    load(&ModelSource::Local(dir.to_owned()), device, &opts).unwrap()
}

/// Loads `dir` in `dtype`, runs `texts` in batches of 32 and of 7 (so padding differs) and
/// compares both with `expected` (the model's own label order).
pub(crate) fn check_golden(
    dir: &Path,
    texts: &[String],
    expected: &[Vec<f32>],
    dtype: DTypeSpec,
    device: &Device,
) {
    let model = load_on(dir, dtype, device);
    let tol = Tolerance::for_dtype(model_dtype(&model));
    assert_eq!(expected.len(), texts.len());
    for batch_size in [32, 7] {
        let got = logits(&model, texts, batch_size);
        tol.assert_close(
            &got,
            expected,
            &format!("{} {dtype} batch {batch_size}", dir.display()),
        );
    }
}

/// The conformance check of one of the four models/ checkpoints over all 503 rows.
pub(crate) fn check_conformance(name: &str, device: &Device) {
    let expected = read_npy(&repo_root().join(format!("tests/fixtures/models/{name}.logits.npy")));
    let texts = test_texts();
    assert_eq!(texts.len(), 503);
    check_golden(&model_dir(name), &texts, &expected, DTypeSpec::F32, device);
}

/// The check of one tests/fixtures/arch checkpoint.
pub(crate) fn check_arch_fixture(name: &str, dtype: DTypeSpec, device: &Device) {
    let dir = arch_dir(name);
    let expected = read_npy(&dir.join("expected.logits.npy"));
    check_golden(&dir, &arch_texts(name), &expected, dtype, device);
}
