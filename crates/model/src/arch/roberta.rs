//! RoBERTa for sequence classification (`RobertaForSequenceClassification`), and the code the
//! RoBERTa family shares (`xlm_roberta.rs` reuses it).
//!
//! RoBERTa: A Robustly Optimized BERT Pretraining Approach, <https://arxiv.org/abs/1907.11692>.
//! Upstream: transformers `models/roberta/modeling_roberta.py`.
//!
//! Encoder: `candle_transformers::models::xlm_roberta::XLMRobertaModel`, whose position ids are
//! transformers' `create_position_ids_from_input_ids`: padding_idx + cumsum(input_ids != pad),
//! with padding_idx at pads. The first real token therefore sits at padding_idx + 1, so only
//! `max_position_embeddings - pad_token_id - 1` tokens fit. Head as transformers
//! (`RobertaClassificationHead`): dense + tanh + out_proj on <s>.
use candle::{DType, Tensor};
use candle_nn::Activation;
use candle_transformers::models::xlm_roberta::{Config as CandleConfig, XLMRobertaModel};
use serde::Deserialize;

use super::head::{ClassificationHead, Squash};
use super::{first_token, Architecture, Classifier, LoadContext, Loaded, Task};
use crate::config::ProbeConfig;
use crate::{Batch, Error, Result};

/// RoBERTa's `pad_token_id` default, which is also its position offset.
const DEFAULT_PAD: u32 = 1;

/// https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/models/roberta/configuration_roberta.py
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
    pad_token_id: Option<u32>,
    #[serde(default)]
    position_embedding_type: Option<String>,
}

fn default_type_vocab_size() -> usize {
    1
}
fn default_layer_norm_eps() -> f64 {
    1e-12
}

/// The dtypes the family runs correctly in.
///
/// NOTE: no BF16: candle's embeddings compute the position cumsum in the model dtype, and bf16
/// counts exactly only up to 256, so longer inputs would get wrong positions. f16 is exact to
/// 2048.
pub(super) const DTYPES: &[DType] = &[DType::F32, DType::F16];

/// `max_position_embeddings - pad_token_id - 1` (the position offset).
/// Rows of the token type table (config.json, else transformers' default).
pub(super) fn type_vocab_size(config: &ProbeConfig) -> Option<usize> {
    Some(config.type_vocab_size.unwrap_or_else(default_type_vocab_size))
}

pub(super) fn max_positions(config: &ProbeConfig) -> Option<usize> {
    let offset = config.pad_token_id.unwrap_or(DEFAULT_PAD) as usize + 1;
    config
        .max_position_embeddings
        .map(|n| n.saturating_sub(offset))
}

/// Builds a RoBERTa-family classifier whose encoder weights live under `prefix.` (or bare).
pub(super) fn load_family(
    cx: &LoadContext<'_>,
    model_type: &'static str,
    prefix: &str,
) -> Result<Loaded> {
    let cfg: Config = cx.parse(model_type)?;
    if let Some(kind) = cfg
        .position_embedding_type
        .as_deref()
        .filter(|k| *k != "absolute")
    {
        return Err(Error::UnsupportedConfig {
            path: cx.config.path.clone(),
            model_type,
            reason: format!("position_embedding_type is {kind}, only absolute is implemented"),
            hint: "use a checkpoint with absolute position embeddings",
        });
    }
    let candle_cfg = CandleConfig {
        hidden_size: cfg.hidden_size,
        layer_norm_eps: cfg.layer_norm_eps,
        attention_probs_dropout_prob: 0.0,
        hidden_dropout_prob: 0.0,
        num_attention_heads: cfg.num_attention_heads,
        position_embedding_type: "absolute".to_owned(),
        intermediate_size: cfg.intermediate_size,
        hidden_act: cfg.hidden_act,
        num_hidden_layers: cfg.num_hidden_layers,
        vocab_size: cfg.vocab_size,
        max_position_embeddings: cfg.max_position_embeddings,
        type_vocab_size: cfg.type_vocab_size,
        pad_token_id: cfg.pad_token_id.unwrap_or(DEFAULT_PAD),
    };
    let base = cx.base(prefix, "embeddings.word_embeddings.weight");
    let encoder = XLMRobertaModel::new(&candle_cfg, base)?;
    let head = ClassificationHead::load(
        cx.vb.pp("classifier.dense"),
        cx.vb.pp("classifier.out_proj"),
        cfg.hidden_size,
        cx.num_labels(),
        Squash::Tanh,
    )?;
    Ok(Loaded::Classifier(Box::new(Model {
        encoder,
        head,
        segments: cfg.type_vocab_size > 1,
    })))
}

/// HF `model_type`.
const MODEL_TYPE: &str = "roberta";

pub(crate) struct Roberta;

impl Architecture for Roberta {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["RobertaForSequenceClassification"]
    }

    fn task(&self) -> Task {
        Task::SequenceClassification
    }

    fn dtypes(&self) -> &'static [DType] {
        DTYPES
    }

    fn max_positions(&self, config: &ProbeConfig) -> Option<usize> {
        max_positions(config)
    }

    fn type_vocab_size(&self, config: &ProbeConfig) -> Option<usize> {
        type_vocab_size(config)
    }

    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded> {
        load_family(&cx, MODEL_TYPE, "roberta")
    }
}

struct Model {
    encoder: XLMRobertaModel,
    head: ClassificationHead,
    /// Whether the checkpoint has more than one segment embedding; RoBERTa tokenizers emit no
    /// segment ids, so with one row every token gets segment 0.
    segments: bool,
}

impl Classifier for Model {
    fn num_labels(&self) -> usize {
        self.head.num_labels()
    }

    fn forward(&self, batch: &Batch) -> candle::Result<Tensor> {
        let zeros;
        let token_type_ids = if self.segments {
            &batch.token_type_ids
        } else {
            zeros = batch.token_type_ids.zeros_like()?;
            &zeros
        };
        let hidden = self.encoder.forward(
            &batch.input_ids,
            &batch.attention_mask,
            token_type_ids,
            None,
            None,
            None,
        )?; // (b, t, h)
        self.head.forward(&first_token(&hidden)?) // (b, n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        check_conformance, check_golden, load_local, model_dir, read_npy, repo_root, test_device,
        test_texts,
    };
    use crate::DTypeSpec;
    use candle::Device;

    fn roberta_matches_transformers(dev: &Device) {
        check_conformance("roberta", dev);
    }
    test_device!(roberta_matches_transformers, roberta_cpu, roberta_cuda, roberta_metal);

    #[test]
    fn truncation_leaves_room_for_the_position_offset() {
        // max_position_embeddings 130, pad_token_id 0: 129 positions; the tokenizer's 128 wins.
        let model = load_local(&model_dir("roberta"), DTypeSpec::F32);
        assert_eq!(model.info.max_length, 128);
    }

    #[test]
    fn f16_stays_close_and_bf16_is_refused() {
        let expected = read_npy(&repo_root().join("tests/fixtures/models/roberta.logits.npy"));
        let texts = test_texts();
        check_golden(&model_dir("roberta"), &texts, &expected, DTypeSpec::F16, &Device::Cpu);
        let opts = crate::LoadOptions {
            dtype: DTypeSpec::Bf16,
            ..Default::default()
        };
        let source = crate::ModelSource::Local(model_dir("roberta"));
        let err = crate::load(&source, &candle::Device::Cpu, &opts).unwrap_err();
        assert!(matches!(err, crate::Error::UnsupportedDType { .. }), "{err}");
    }
}
