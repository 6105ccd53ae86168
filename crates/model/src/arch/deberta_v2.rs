//! DeBERTa-v2 / v3 for sequence classification (`DebertaV2ForSequenceClassification`).
//!
//! DeBERTa: Decoding-enhanced BERT with Disentangled Attention, <https://arxiv.org/abs/2006.03654>;
//! DeBERTaV3, <https://arxiv.org/abs/2111.09543>. Upstream: transformers
//! `models/deberta_v2/modeling_deberta_v2.py`.
//!
//! Encoder: candle-transformers' `DebertaV2Embeddings` and `DebertaV2Encoder` (disentangled
//! c2p/p2c attention, log-bucketed relative positions), composed here rather than through
//! `DebertaV2Model`, whose forward pass cannot take position ids: without them the embeddings
//! add `(1, t, h)` absolute positions to `(b, t, h)` tokens with a same-shape `add`, which fails
//! for any batch of more than one when `position_biased_input` is set (DeBERTa-v2 style). Head as transformers (`ContextPooler`): dense →
//! `pooler_hidden_act` on the first token, then `classifier`; written here so that it reads the
//! config's activation through the same parser as the other heads.
use candle::Tensor;
use candle_nn::Activation;
use candle_transformers::models::debertav2::{
    Config as CandleConfig, DebertaV2Embeddings, DebertaV2Encoder,
};
use serde_json::{json, Value};

use super::head::{ClassificationHead, Squash};
use super::{first_token, Architecture, Classifier, LoadContext, Loaded, Task};
use crate::{Batch, Error, Result};

/// transformers' `DebertaV2Config` defaults for the fields candle's `Config` requires but
/// `save_pretrained` may leave out or write as null.
/// https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/models/deberta_v2/configuration_deberta_v2.py
fn defaults() -> [(&'static str, Value); 12] {
    [
        ("hidden_act", json!("gelu")),
        ("hidden_dropout_prob", json!(0.1)),
        ("attention_probs_dropout_prob", json!(0.1)),
        ("max_position_embeddings", json!(512)),
        ("type_vocab_size", json!(0)),
        ("initializer_range", json!(0.02)),
        ("layer_norm_eps", json!(1e-7)),
        ("relative_attention", json!(false)),
        ("max_relative_positions", json!(-1)),
        ("position_biased_input", json!(true)),
        ("pos_att_type", json!([])),
        ("pooler_dropout", json!(0.0)),
    ]
}

/// HF `model_type`.
const MODEL_TYPE: &str = "deberta-v2";

pub(crate) struct DebertaV2;

impl Architecture for DebertaV2 {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["DebertaV2ForSequenceClassification"]
    }

    fn task(&self) -> Task {
        Task::SequenceClassification
    }

    fn type_vocab_size(&self, config: &crate::config::ProbeConfig) -> Option<usize> {
        // No segment embeddings at 0 (DeBERTa-v3): type ids are then ignored.
        config.type_vocab_size.filter(|&n| n > 0)
    }

    // NOTE: F32 only: candle's disentangled attention builds its scale, masks and softmax in f32.

    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded> {
        let mut raw: Value = cx.parse(MODEL_TYPE)?;
        if let Some(obj) = raw.as_object_mut() {
            for (key, value) in defaults() {
                if obj.get(key).is_none_or(Value::is_null) {
                    obj.insert(key.to_owned(), value);
                }
            }
            // id2label/label2id are ours to read (config.rs); candle's typed maps are not needed.
            obj.remove("id2label");
            obj.remove("label2id");
        }
        let act_name = raw
            .get("pooler_hidden_act")
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or_else(|| json!("gelu"));
        let cfg: CandleConfig =
            serde_json::from_value(raw).map_err(|source| Error::ArchConfig {
                path: cx.config.path.clone(),
                model_type: MODEL_TYPE,
                source,
            })?;
        if cfg.conv_kernel_size.unwrap_or(0) > 0 {
            // candle's ConvLayer::forward is `todo!()`; refuse rather than panic mid-run.
            return Err(Error::UnsupportedConfig {
                path: cx.config.path.clone(),
                model_type: MODEL_TYPE,
                reason: format!(
                    "conv_kernel_size is {} and the convolution layer is not implemented",
                    cfg.conv_kernel_size.unwrap_or(0)
                ),
                hint: "DeBERTa-v2 xlarge/xxlarge use this layer; DeBERTa-v3 checkpoints do not",
            });
        }
        let act: Activation = serde_json::from_value(act_name.clone()).map_err(|_| {
            Error::UnsupportedConfig {
                path: cx.config.path.clone(),
                model_type: MODEL_TYPE,
                reason: format!("pooler_hidden_act {act_name} is not implemented"),
                hint: "use gelu, gelu_new or relu",
            }
        })?;
        let base = cx.base("deberta", "embeddings.word_embeddings.weight");
        let embeddings = DebertaV2Embeddings::load(base.pp("embeddings"), &cfg)?;
        let encoder = DebertaV2Encoder::load(base.pp("encoder"), &cfg)?;
        let p = cfg.pooler_hidden_size.unwrap_or(cfg.hidden_size);
        let head = ClassificationHead::load(
            cx.vb.pp("pooler.dense"),
            cx.vb.pp("classifier"),
            p,
            cx.num_labels(),
            Squash::Act(act),
        )?;
        Ok(Loaded::Classifier(Box::new(Model {
            embeddings,
            encoder,
            head,
            segments: cfg.type_vocab_size > 0,
        })))
    }
}

struct Model {
    embeddings: DebertaV2Embeddings,
    encoder: DebertaV2Encoder,
    head: ClassificationHead,
    /// Whether the checkpoint has segment embeddings (DeBERTa-v3 has none).
    segments: bool,
}

impl Classifier for Model {
    fn num_labels(&self) -> usize {
        self.head.num_labels()
    }

    fn forward(&self, batch: &Batch) -> candle::Result<Tensor> {
        let (b, t) = batch.input_ids.dims2()?;
        let positions = Tensor::arange(0u32, t as u32, batch.input_ids.device())?
            .unsqueeze(0)?
            .broadcast_as((b, t))?
            .contiguous()?; // (b, t)
        // The segment embeddings exist only when type_vocab_size > 0 (DeBERTa-v3 has none).
        let segments = self.segments.then_some(&batch.token_type_ids);
        let mask = &batch.attention_mask; // (b, t)
        let embedded = self.embeddings.forward(
            Some(&batch.input_ids),
            segments,
            Some(&positions),
            Some(mask),
            None,
        )?; // (b, t, h)
        let hidden = self.encoder.forward(&embedded, mask, None, None)?; // (b, t, h)
        self.head.forward(&first_token(&hidden)?) // (b, n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{arch_dir, check_arch_fixture, test_device};
    use crate::{load, DTypeSpec, Error, LoadOptions, ModelSource};
    use candle::Device;

    fn tiny_deberta_v3_matches_transformers(dev: &Device) {
        check_arch_fixture("deberta_v2", DTypeSpec::F32, dev);
    }
    test_device!(tiny_deberta_v3_matches_transformers, deberta_v3_cpu, deberta_v3_cuda, deberta_v3_metal);

    /// DeBERTa-v2 style: absolute positions added to the input, segment embeddings, no log
    /// buckets; checked in batches (candle's own forward pass fails on those).
    fn tiny_deberta_v2_absolute_matches_transformers(dev: &Device) {
        check_arch_fixture("deberta_v2_absolute", DTypeSpec::F32, dev);
    }
    test_device!(
        tiny_deberta_v2_absolute_matches_transformers,
        deberta_v2_absolute_cpu,
        deberta_v2_absolute_cuda,
        deberta_v2_absolute_metal
    );

    #[test]
    fn conv_layer_configs_are_refused_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(arch_dir("deberta_v2")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
        let config = dir.path().join("config.json");
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
        json["conv_kernel_size"] = 3.into();
        std::fs::write(&config, json.to_string()).unwrap();
        let err = load(
            &ModelSource::Local(dir.path().to_owned()),
            &candle::Device::Cpu,
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::UnsupportedConfig { .. }), "{err}");
        let err = load(
            &ModelSource::Local(arch_dir("deberta_v2")),
            &candle::Device::Cpu,
            &LoadOptions {
                dtype: DTypeSpec::F16,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::UnsupportedDType { .. }), "{err}");
    }
}
