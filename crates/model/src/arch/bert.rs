//! BERT for sequence classification (`BertForSequenceClassification`).
//!
//! BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding,
//! <https://arxiv.org/abs/1810.04805>. Upstream: transformers `models/bert/modeling_bert.py`.
//!
//! The encoder is written here, with the QKV projections fused and candle's fused softmax
//! (`attention.rs`): candle's `bert::BertEncoder` runs the unfused softmax and three projection
//! matmuls, which made the teacher pass over twice as slow as PyTorch's on the CPU, and its
//! `BertModel` builds the mask as `(1 - m) * f32::MIN`, which is NaN in f16. One finite additive
//! mask is built per batch. Head as transformers (TEI `BertClassificationHead`): pooler = dense +
//! tanh on [CLS] (`bert.pooler.dense`), then `classifier`.
use candle::{DType, Module, Tensor};
use candle_nn::{Activation, Embedding, VarBuilder};
use candle_transformers::models::with_tracing::{layer_norm, linear, LayerNorm, Linear};
use serde::Deserialize;

use super::attention::{QkvNames, SelfAttention};
use super::head::{ClassificationHead, Squash};
use super::{additive_mask, first_token, Architecture, Classifier, LoadContext, Loaded, Task};
use crate::{Batch, Error, Result};

/// https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/models/bert/configuration_bert.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default)]
    hidden_act: Activation,
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab_size")]
    type_vocab_size: usize,
    #[serde(default = "default_layer_norm_eps")]
    layer_norm_eps: f64,
    #[serde(default)]
    position_embedding_type: Option<String>,
}

fn default_type_vocab_size() -> usize {
    2
}
fn default_layer_norm_eps() -> f64 {
    1e-12
}

/// HF `model_type`.
const MODEL_TYPE: &str = "bert";

pub(crate) struct Bert;

impl Architecture for Bert {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["BertForSequenceClassification"]
    }

    fn task(&self) -> Task {
        Task::SequenceClassification
    }

    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32, DType::F16, DType::BF16]
    }

    fn type_vocab_size(&self, config: &crate::config::ProbeConfig) -> Option<usize> {
        Some(config.type_vocab_size.unwrap_or_else(default_type_vocab_size))
    }

    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded> {
        let cfg: Config = cx.parse(MODEL_TYPE)?;
        if let Some(kind) = cfg.position_embedding_type.as_deref().filter(|k| *k != "absolute") {
            return Err(Error::UnsupportedConfig {
                path: cx.config.path.clone(),
                model_type: MODEL_TYPE,
                reason: format!("position_embedding_type is {kind}, only absolute is implemented"),
                hint: "use a checkpoint with absolute position embeddings",
            });
        }
        let base = cx.base("bert", "embeddings.word_embeddings.weight");
        let embeddings = BertEmbeddings::load(base.pp("embeddings"), &cfg)?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::load(base.pp(format!("encoder.layer.{i}")), &cfg))
            .collect::<candle::Result<Vec<_>>>()?;
        let head = ClassificationHead::load(
            base.pp("pooler.dense"),
            cx.vb.pp("classifier"),
            cfg.hidden_size,
            cx.num_labels(),
            Squash::Tanh,
        )?;
        Ok(Loaded::Classifier(Box::new(Model {
            embeddings,
            layers,
            head,
        })))
    }
}

/// word + absolute position + token type, then LayerNorm (modeling_bert.py `BertEmbeddings`).
struct BertEmbeddings {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    layer_norm: LayerNorm,
    /// 0..max_position_embeddings, built once and narrowed per batch.
    position_ids: Tensor,
}

impl BertEmbeddings {
    fn load(vb: VarBuilder, cfg: &Config) -> candle::Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            word: candle_nn::embedding(cfg.vocab_size, h, vb.pp("word_embeddings"))?,
            position: candle_nn::embedding(
                cfg.max_position_embeddings,
                h,
                vb.pp("position_embeddings"),
            )?,
            token_type: candle_nn::embedding(cfg.type_vocab_size, h, vb.pp("token_type_embeddings"))?,
            layer_norm: layer_norm(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            position_ids: Tensor::arange(0u32, cfg.max_position_embeddings as u32, vb.device())?,
        })
    }

    fn forward(&self, input_ids: &Tensor, token_type_ids: &Tensor) -> candle::Result<Tensor> {
        let (_b, t) = input_ids.dims2()?;
        let positions = self.position_ids.narrow(0, 0, t)?; // (t)
        let x = self
            .word
            .forward(input_ids)? // (b, t, h)
            .add(&self.token_type.forward(token_type_ids)?)?
            .broadcast_add(&self.position.forward(&positions)?)?;
        self.layer_norm.forward(&x)
    }
}

/// One post-LayerNorm transformer block (modeling_bert.py `BertLayer`).
struct Layer {
    attention: SelfAttention,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    act: Activation,
    out: Linear,
    out_norm: LayerNorm,
}

impl Layer {
    fn load(vb: VarBuilder, cfg: &Config) -> candle::Result<Self> {
        let (h, i, eps) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps);
        Ok(Self {
            attention: SelfAttention::load(
                vb.pp("attention.self"),
                QkvNames(["query", "key", "value"]),
                h,
                cfg.num_attention_heads,
            )?,
            attention_out: linear(h, h, vb.pp("attention.output.dense"))?,
            attention_norm: layer_norm(h, eps, vb.pp("attention.output.LayerNorm"))?,
            intermediate: linear(h, i, vb.pp("intermediate.dense"))?,
            act: cfg.hidden_act,
            out: linear(i, h, vb.pp("output.dense"))?,
            out_norm: layer_norm(h, eps, vb.pp("output.LayerNorm"))?,
        })
    }

    fn forward(&self, x: &Tensor, mask: &Tensor) -> candle::Result<Tensor> {
        let context = self.attention.forward(x, mask)?; // (b, t, h)
        let a = self
            .attention_norm
            .forward(&(self.attention_out.forward(&context)? + x)?)?;
        let i = self.act.forward(&self.intermediate.forward(&a)?)?; // (b, t, i)
        self.out_norm.forward(&(self.out.forward(&i)? + a)?)
    }
}

struct Model {
    embeddings: BertEmbeddings,
    layers: Vec<Layer>,
    head: ClassificationHead,
}

impl Classifier for Model {
    fn num_labels(&self) -> usize {
        self.head.num_labels()
    }

    fn forward(&self, batch: &Batch) -> candle::Result<Tensor> {
        let x = self
            .embeddings
            .forward(&batch.input_ids, &batch.token_type_ids)?; // (b, t, h)
        let mask = additive_mask(&batch.attention_mask, x.dtype())?; // (b, 1, 1, t)
        let mut hidden = x;
        for layer in &self.layers {
            hidden = layer.forward(&hidden, &mask)?; // (b, t, h)
        }
        self.head.forward(&first_token(&hidden)?) // (b, n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        check_conformance, check_golden, model_dir, read_npy, repo_root, test_device, test_texts,
    };
    use crate::DTypeSpec;
    use candle::Device;

    fn teacher_bert_matches_transformers(dev: &Device) {
        check_conformance("teacher_bert", dev);
    }
    test_device!(teacher_bert_matches_transformers, teacher_bert_cpu, teacher_bert_cuda, teacher_bert_metal);

    fn bert_small_matches_transformers(dev: &Device) {
        check_conformance("bert_small", dev);
    }
    test_device!(bert_small_matches_transformers, bert_small_cpu, bert_small_cuda, bert_small_metal);

    #[test]
    fn half_precision_stays_close() {
        let expected = read_npy(&repo_root().join("tests/fixtures/models/bert_small.logits.npy"));
        let texts = test_texts();
        for dtype in [DTypeSpec::F16, DTypeSpec::Bf16] {
            check_golden(&model_dir("bert_small"), &texts, &expected, dtype, &Device::Cpu);
        }
    }
}
