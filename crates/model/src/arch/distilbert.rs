//! DistilBERT for sequence classification (`DistilBertForSequenceClassification`).
//!
//! DistilBERT, a distilled version of BERT, <https://arxiv.org/abs/1910.01108>. Upstream:
//! transformers `models/distilbert/modeling_distilbert.py`. Head as transformers (TEI
//! `DistilBertClassificationHead`): pre_classifier → ReLU → classifier on the first token.
//!
//! NOTE: the encoder is written here rather than taken from `candle_transformers::models::distilbert`:
//! candle maps `activation: "gelu"` to the tanh approximation, while transformers uses the exact
//! erf GELU (`ACT2FN["gelu"]`); on the conformance checkpoint that alone moves logits by 4e-4.
//! candle's attention also upcasts scores to f32 unconditionally, so it cannot run in f16/bf16.
//! Writing it also lets the encoder take the shared additive mask (HF semantics) directly instead
//! of candle's inverted 1 = masked convention, and use the fused QKV attention of `attention.rs`.
use candle::{DType, Module, Tensor};
use candle_nn::{Embedding, VarBuilder};
use candle_transformers::models::with_tracing::{layer_norm, linear, LayerNorm, Linear};
use serde::Deserialize;

use super::attention::{QkvNames, SelfAttention};
use super::head::{ClassificationHead, Squash};
use super::{additive_mask, first_token, Architecture, Classifier, LoadContext, Loaded, Task};
use crate::{Batch, Error, Result};

/// transformers hard-codes this epsilon for every DistilBERT LayerNorm.
const LAYER_NORM_EPS: f64 = 1e-12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Activation {
    Gelu,
    Relu,
}

/// https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/models/distilbert/configuration_distilbert.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    vocab_size: usize,
    dim: usize,
    n_layers: usize,
    n_heads: usize,
    hidden_dim: usize,
    #[serde(default = "default_activation")]
    activation: Activation,
    max_position_embeddings: usize,
}

fn default_activation() -> Activation {
    Activation::Gelu
}

/// HF `model_type`.
const MODEL_TYPE: &str = "distilbert";

pub(crate) struct DistilBert;

impl Architecture for DistilBert {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["DistilBertForSequenceClassification"]
    }

    fn task(&self) -> Task {
        Task::SequenceClassification
    }

    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32, DType::F16, DType::BF16]
    }

    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded> {
        let cfg: Config = cx.parse(MODEL_TYPE)?;
        if cfg.n_heads == 0 || cfg.dim % cfg.n_heads != 0 {
            return Err(Error::UnsupportedConfig {
                path: cx.config.path.clone(),
                model_type: MODEL_TYPE,
                reason: format!("dim {} is not a multiple of n_heads {}", cfg.dim, cfg.n_heads),
                hint: "check config.json",
            });
        }
        let base = cx.base("distilbert", "embeddings.word_embeddings.weight");
        let embeddings = Embeddings::load(base.pp("embeddings"), &cfg)?;
        let layers = (0..cfg.n_layers)
            .map(|i| Block::load(base.pp(format!("transformer.layer.{i}")), &cfg))
            .collect::<candle::Result<Vec<_>>>()?;
        let head = ClassificationHead::load(
            cx.vb.pp("pre_classifier"),
            cx.vb.pp("classifier"),
            cfg.dim,
            cx.num_labels(),
            Squash::Act(candle_nn::Activation::Relu),
        )?;
        Ok(Loaded::Classifier(Box::new(Model {
            embeddings,
            layers,
            head,
        })))
    }
}

struct Embeddings {
    word: Embedding,
    position: Embedding,
    layer_norm: LayerNorm,
    /// 0..max_position_embeddings, built once and narrowed per batch.
    position_ids: Tensor,
}

impl Embeddings {
    fn load(vb: VarBuilder, cfg: &Config) -> candle::Result<Self> {
        Ok(Self {
            word: candle_nn::embedding(cfg.vocab_size, cfg.dim, vb.pp("word_embeddings"))?,
            position: candle_nn::embedding(
                cfg.max_position_embeddings,
                cfg.dim,
                vb.pp("position_embeddings"),
            )?,
            layer_norm: layer_norm(cfg.dim, LAYER_NORM_EPS, vb.pp("LayerNorm"))?,
            position_ids: Tensor::arange(0u32, cfg.max_position_embeddings as u32, vb.device())?,
        })
    }

    fn forward(&self, input_ids: &Tensor) -> candle::Result<Tensor> {
        let (_b, t) = input_ids.dims2()?;
        let positions = self.position_ids.narrow(0, 0, t)?; // (t)
        let x = self
            .word
            .forward(input_ids)? // (b, t, dim)
            .broadcast_add(&self.position.forward(&positions)?)?;
        self.layer_norm.forward(&x)
    }
}

struct Block {
    attention: SelfAttention,
    out_lin: Linear,
    sa_layer_norm: LayerNorm,
    lin1: Linear,
    lin2: Linear,
    activation: Activation,
    output_layer_norm: LayerNorm,
}

impl Block {
    fn load(vb: VarBuilder, cfg: &Config) -> candle::Result<Self> {
        Ok(Self {
            attention: SelfAttention::load(
                vb.pp("attention"),
                QkvNames(["q_lin", "k_lin", "v_lin"]),
                cfg.dim,
                cfg.n_heads,
            )?,
            out_lin: linear(cfg.dim, cfg.dim, vb.pp("attention.out_lin"))?,
            sa_layer_norm: layer_norm(cfg.dim, LAYER_NORM_EPS, vb.pp("sa_layer_norm"))?,
            lin1: linear(cfg.dim, cfg.hidden_dim, vb.pp("ffn.lin1"))?,
            lin2: linear(cfg.hidden_dim, cfg.dim, vb.pp("ffn.lin2"))?,
            activation: cfg.activation,
            output_layer_norm: layer_norm(cfg.dim, LAYER_NORM_EPS, vb.pp("output_layer_norm"))?,
        })
    }

    fn forward(&self, x: &Tensor, mask: &Tensor) -> candle::Result<Tensor> {
        let context = self.attention.forward(x, mask)?; // (b, t, dim)
        let sa = self
            .sa_layer_norm
            .forward(&(self.out_lin.forward(&context)? + x)?)?;
        let h = self.lin1.forward(&sa)?;
        let h = match self.activation {
            Activation::Gelu => h.gelu_erf()?,
            Activation::Relu => h.relu()?,
        };
        let ffn = self.lin2.forward(&h)?;
        self.output_layer_norm.forward(&(ffn + sa)?)
    }
}

struct Model {
    embeddings: Embeddings,
    layers: Vec<Block>,
    head: ClassificationHead,
}

impl Classifier for Model {
    fn num_labels(&self) -> usize {
        self.head.num_labels()
    }

    fn forward(&self, batch: &Batch) -> candle::Result<Tensor> {
        let mut x = self.embeddings.forward(&batch.input_ids)?; // (b, t, dim)
        let mask = additive_mask(&batch.attention_mask, x.dtype())?; // (b, 1, 1, t)
        for layer in &self.layers {
            x = layer.forward(&x, &mask)?;
        }
        self.head.forward(&first_token(&x)?) // (b, n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        check_conformance, check_golden, model_dir, read_npy, repo_root, test_device, test_texts,
    };
    use crate::DTypeSpec;
    use candle::Device;

    fn distilbert_matches_transformers(dev: &Device) {
        check_conformance("distilbert", dev);
    }
    test_device!(distilbert_matches_transformers, distilbert_cpu, distilbert_cuda, distilbert_metal);

    #[test]
    fn labels_keep_the_checkpoint_order() {
        let model = super::super::testing::load_local(&model_dir("distilbert"), DTypeSpec::F32);
        assert_eq!(model.labels(), ["pos", "neg", "neu"]);
        assert_eq!(model.info.architecture, "DistilBertForSequenceClassification");
        assert_eq!(model.info.model_type, "distilbert");
    }

    #[test]
    fn half_precision_stays_close() {
        let expected = read_npy(&repo_root().join("tests/fixtures/models/distilbert.logits.npy"));
        let texts = test_texts();
        for dtype in [DTypeSpec::F16, DTypeSpec::Bf16] {
            check_golden(&model_dir("distilbert"), &texts, &expected, dtype, &Device::Cpu);
        }
    }
}
