//! Architecture registry: one file per HF `model_type`, one line in `architectures!`
//! (the ripgrep `FLAGS` pattern: adding a family is a new file plus one registry line).
use candle::{DType, Tensor};
use candle_nn::VarBuilder;

use crate::config::ProbeConfig;
use crate::{Batch, Error, Result};

/// How the runner turns model outputs into metric rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Task {
    /// (b, num_labels) logits per batch.
    SequenceClassification,
    /// Every position's next-token logits ([`CausalLm`]); position t predicts token t + 1.
    CausalLm,
}

/// Everything an architecture needs to build itself, and nothing else.
pub struct LoadContext<'a> {
    /// The probed config; `raw` is the JSON the architecture parses into its own `Config`.
    pub config: &'a ProbeConfig,
    /// Root builder on the chosen device and dtype; prefixes are the architecture's business.
    pub vb: VarBuilder<'a>,
    /// `id2label.len()`; `None` for causal LMs.
    pub num_labels: Option<usize>,
}

impl<'a> LoadContext<'a> {
    /// Parses config.json into the architecture's private `Config`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self, model_type: &'static str) -> Result<T> {
        serde_json::from_str(&self.config.raw).map_err(|source| Error::ArchConfig {
            path: self.config.path.clone(),
            model_type,
            source,
        })
    }

    /// The label count of a classifier.
    pub fn num_labels(&self) -> usize {
        self.num_labels.unwrap_or(2)
    }

    /// The encoder's builder: the bare root when `probe` (a tensor name relative to the encoder)
    /// is there, else under `prefix` (HF saves `bert.`, `distilbert.`, `roberta.`, ...).
    pub fn base(&self, prefix: &str, probe: &str) -> VarBuilder<'a> {
        if self.vb.contains_tensor(probe) {
            self.vb.clone()
        } else {
            self.vb.pp(prefix)
        }
    }
}

/// One supported family.
pub trait Architecture: Sync {
    /// HF `model_type`, e.g. "distilbert"; shown in logs and reports.
    fn model_type(&self) -> &'static str;
    /// Values of `architectures[0]` this entry accepts.
    fn hf_classes(&self) -> &'static [&'static str];
    /// What the outputs are.
    fn task(&self) -> Task;
    /// Dtypes this implementation is correct in; the loader refuses others.
    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32]
    }
    /// The longest input the position embeddings allow (`None`: no absolute positions).
    fn max_positions(&self, config: &ProbeConfig) -> Option<usize> {
        config.max_position_embeddings
    }
    /// Rows of the token type table the model indexes with the tokenizer's type ids (`None`:
    /// the model ignores type ids).
    fn type_vocab_size(&self, _config: &ProbeConfig) -> Option<usize> {
        None
    }
    /// Builds the model from the weights.
    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded>;
}

/// Logits are in the model dtype, on the model device.
pub trait Classifier: Send + Sync {
    /// Number of output classes.
    fn num_labels(&self) -> usize;
    /// (b, num_labels)
    fn forward(&self, batch: &Batch) -> candle::Result<Tensor>;
}

/// A next-token model that gives every position's logits.
///
/// Batches are right-padded (`Batch::attention_mask` 1 = real token); each row's positions are
/// 0..len, and padded positions never influence real ones (their own outputs are meaningless).
/// Outputs are in the model dtype, on the model device.
pub trait CausalLm: Send + Sync {
    /// The logit width: rows of the LM head, including padding rows beyond the tokenizer's
    /// vocabulary (config.json `vocab_size`).
    fn vocab_size(&self) -> usize;
    /// config.json `max_position_embeddings`: the longest sequence the model was built for.
    /// Longer inputs still run (rotary positions have no table) but leave the trained range.
    fn max_positions(&self) -> usize;
    /// (b, t, hidden): the final-normed hidden state of every position.
    fn hidden(&self, batch: &Batch) -> candle::Result<Tensor>;
    /// (..., hidden) → (..., vocab): the LM head and the final soft-capping, on any leading
    /// shape, so a caller can apply it to a chunk of positions at a time. Position t's logits
    /// predict token t + 1.
    fn logits(&self, hidden: &Tensor) -> candle::Result<Tensor>;
    /// (b, t, hidden) of `ids` (b, t) appended to the columns `cache` holds, whose keys and
    /// values it then holds too: incremental decoding of left-padded rows (see [`KvCache`]).
    /// Every new column must be a real token of its row.
    fn hidden_cached(&self, ids: &Tensor, cache: &mut KvCache) -> candle::Result<Tensor>;
}

/// A built model.
pub enum Loaded {
    /// A sequence classifier.
    Classifier(Box<dyn Classifier>),
    /// A causal language model.
    CausalLm(Box<dyn CausalLm>),
}

mod attention;
pub(crate) mod decoder;
mod kv_cache;
pub use kv_cache::KvCache;
mod decoder_load;
mod head;
pub(crate) mod rope;

macro_rules! architectures {
    ($($module:ident :: $unit:ident),* $(,)?) => {
        $(mod $module;)*
        /// Every supported architecture (ripgrep `crates/core/flags/defs.rs` `FLAGS`).
        pub(crate) const ARCHITECTURES: &[&dyn Architecture] = &[$(&$module::$unit),*];
    };
}

architectures! {
    bert::Bert,
    distilbert::DistilBert,
    roberta::Roberta,
    xlm_roberta::XlmRoberta,
    modernbert::ModernBert,
    deberta_v2::DebertaV2,
    llama::Llama,
    mistral::Mistral,
    qwen2::Qwen2,
    qwen3::Qwen3,
    gemma2::Gemma2,
    gemma3_text::Gemma3Text,
    phi3::Phi3,
}

/// Every HF class the registry accepts.
pub fn supported_classes() -> Vec<&'static str> {
    ARCHITECTURES
        .iter()
        .flat_map(|a| a.hf_classes())
        .copied()
        .collect()
}

/// Dispatch on `architectures[0]`, falling back to `model_type`.
pub(crate) fn lookup(probe: &ProbeConfig) -> Result<&'static dyn Architecture> {
    let found = match probe.architecture() {
        Some(class) => ARCHITECTURES
            .iter()
            .copied()
            .find(|a| a.hf_classes().contains(&class))
            .ok_or(class),
        None => match probe.model_type.as_deref() {
            Some(model_type) => ARCHITECTURES
                .iter()
                .copied()
                .find(|a| a.model_type() == model_type)
                .ok_or(model_type),
            None => Err("(config.json names neither architectures nor model_type)"),
        },
    };
    found.map_err(|found| Error::UnsupportedArchitecture {
        found: found.to_owned(),
        path: probe.path.clone(),
        supported: supported_classes(),
    })
}

/// The most negative finite value of `dtype`, as transformers' `torch.finfo(dtype).min`.
fn dtype_min(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => -65504.0,
        // bf16 keeps f32's exponent range; its largest finite magnitude is 3.3895e38.
        DType::BF16 => -3.389_531_4e38,
        DType::F64 => f64::MIN,
        _ => f32::MIN as f64,
    }
}

/// HF mask (b, t) u32, 1 = attend → additive (b, 1, 1, t) in `dtype`: 0 where attended, the
/// dtype's most negative finite value where masked.
///
/// NOTE: `(1 - m) * min` as candle's bert.rs does it yields NaN in f16 (min rounds to -inf and
/// 0 * -inf = NaN); one affine op, `m * -min + min`, stays finite in every dtype.
pub(crate) fn additive_mask(mask: &Tensor, dtype: DType) -> candle::Result<Tensor> {
    let min = dtype_min(dtype);
    mask.to_dtype(dtype)?
        .affine(-min, min)? // (b, t)
        .unsqueeze(1)?
        .unsqueeze(1) // (b, 1, 1, t)
}

/// Row 0 of each sequence: (b, t, h) → (b, h).
pub(crate) fn first_token(hidden: &Tensor) -> candle::Result<Tensor> {
    hidden.narrow(1, 0, 1)?.squeeze(1) // (b, h)
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
pub(crate) mod lm_testing;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn registry_classes_are_unique() {
        let mut classes = HashSet::new();
        let mut types = HashSet::new();
        for arch in ARCHITECTURES {
            assert!(types.insert(arch.model_type()), "{}", arch.model_type());
            assert!(!arch.hf_classes().is_empty(), "{}", arch.model_type());
            assert!(arch.dtypes().contains(&DType::F32), "{}", arch.model_type());
            for class in arch.hf_classes() {
                assert!(classes.insert(*class), "{class} registered twice");
            }
        }
    }

    #[test]
    fn dispatch_falls_back_to_model_type() {
        let mut probe: ProbeConfig =
            serde_json::from_str(r#"{"model_type": "distilbert"}"#).unwrap();
        assert_eq!(lookup(&probe).unwrap().model_type(), "distilbert");
        probe.architectures = Some(vec!["BertForSequenceClassification".into()]);
        assert_eq!(lookup(&probe).unwrap().model_type(), "bert");
        probe.architectures = Some(vec!["GPTNeoXForCausalLM".into()]);
        let err = lookup(&probe).err().unwrap();
        let msg = err.to_string();
        assert!(msg.contains("GPTNeoXForCausalLM"), "{msg}");
        assert!(msg.contains("DistilBertForSequenceClassification"), "{msg}");
    }

    #[test]
    fn additive_mask_is_finite_in_every_dtype() {
        let mask = Tensor::new(&[[1u32, 1, 0]], &candle::Device::Cpu).unwrap();
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            let m = additive_mask(&mask, dtype).unwrap();
            assert_eq!(m.dims(), [1, 1, 1, 3]);
            let v = m
                .to_dtype(DType::F32)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            assert_eq!(v[0], 0.0);
            assert_eq!(v[1], 0.0);
            assert!(v[2].is_finite() && v[2] < -6e4, "{dtype:?}: {v:?}");
        }
    }
}
