//! ModernBERT for sequence classification (`ModernBertForSequenceClassification`).
//!
//! Smarter, Better, Faster, Longer: A Modern Bidirectional Encoder,
//! <https://arxiv.org/abs/2412.13663>. Upstream: transformers
//! `models/modernbert/modeling_modernbert.py`.
//!
//! Backbone: `candle_transformers::models::modernbert::ModernBert` (RoPE, GeGLU, alternating
//! global / sliding-window attention with a half-window of `local_attention / 2`, as
//! transformers' `sliding_window_bidirectional_overlay`). The head is written here: candle's
//! `ModernBertForSequenceClassification` returns softmax probabilities, not logits, and reads
//! neither `classifier_bias` nor `classifier_activation`. Pooling follows `classifier_pooling`:
//! `cls` takes token 0, `mean` averages the unpadded tokens; then dense → act → LayerNorm →
//! classifier.
//!
//! Configs from transformers 4.x (`global_attn_every_n_layers`, `global_rope_theta`,
//! `local_rope_theta`) and 5.x (`layer_types`, `rope_parameters`) are both read.
use std::collections::HashMap;

use candle::Tensor;
use candle_nn::{Activation, Linear, VarBuilder};
use candle_transformers::models::modernbert::{Config as CandleConfig, ModernBert as Backbone};
use serde::Deserialize;

use super::head::{ClassificationHead, Squash};
use super::{first_token, Architecture, Classifier, LoadContext, Loaded, Task};
use crate::{Batch, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Pooling {
    #[default]
    Cls,
    Mean,
}

#[derive(Debug, Clone, Deserialize)]
struct Rope {
    #[serde(default)]
    rope_theta: Option<f64>,
    #[serde(default)]
    rope_type: Option<String>,
}

/// https://github.com/huggingface/transformers/blob/v4.48.0/src/transformers/models/modernbert/configuration_modernbert.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default = "default_max_positions")]
    max_position_embeddings: usize,
    #[serde(default = "default_norm_eps")]
    norm_eps: f64,
    #[serde(default)]
    pad_token_id: Option<u32>,
    #[serde(default = "default_local_attention")]
    local_attention: usize,
    #[serde(default = "default_activation")]
    hidden_activation: String,
    #[serde(default = "default_activation")]
    classifier_activation: String,
    #[serde(default)]
    classifier_pooling: Pooling,
    #[serde(default)]
    classifier_bias: bool,
    #[serde(default)]
    norm_bias: bool,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
    // transformers 4.x
    #[serde(default)]
    global_attn_every_n_layers: Option<usize>,
    #[serde(default)]
    global_rope_theta: Option<f64>,
    #[serde(default)]
    local_rope_theta: Option<f64>,
    // transformers 5.x
    #[serde(default)]
    layer_types: Option<Vec<String>>,
    #[serde(default)]
    rope_parameters: Option<HashMap<String, Rope>>,
}

fn default_max_positions() -> usize {
    8192
}
fn default_norm_eps() -> f64 {
    1e-5
}
fn default_local_attention() -> usize {
    128
}
fn default_activation() -> String {
    "gelu".to_owned()
}

impl Config {
    /// Every other layer global by default (transformers' `global_attn_every_n_layers = 3`).
    fn global_every(&self) -> std::result::Result<usize, String> {
        let Some(types) = &self.layer_types else {
            return Ok(self.global_attn_every_n_layers.unwrap_or(3).max(1));
        };
        if types.len() != self.num_hidden_layers {
            return Err(format!(
                "layer_types has {} entries but num_hidden_layers is {}",
                types.len(),
                self.num_hidden_layers
            ));
        }
        let globals: Vec<usize> = types
            .iter()
            .enumerate()
            .filter(|(_, t)| t.as_str() == "full_attention")
            .map(|(i, _)| i)
            .collect();
        // candle's backbone makes layer i global iff i % n == 0.
        let n = globals.get(1).copied().unwrap_or(self.num_hidden_layers.max(1));
        let fits = types.iter().enumerate().all(|(i, t)| {
            let global = i % n == 0;
            (t == "full_attention" && global) || (t == "sliding_attention" && !global)
        });
        if fits {
            Ok(n)
        } else {
            Err(format!(
                "layer_types {types:?} is not a global layer every n layers starting at 0"
            ))
        }
    }

    fn theta(&self, kind: &str, legacy: Option<f64>, default: f64) -> std::result::Result<f64, String> {
        match self.rope_parameters.as_ref().and_then(|p| p.get(kind)) {
            Some(rope) => {
                if let Some(t) = rope.rope_type.as_deref().filter(|t| *t != "default") {
                    return Err(format!("rope_type {t} for {kind} is not implemented"));
                }
                Ok(rope.rope_theta.or(legacy).unwrap_or(default))
            }
            None => Ok(legacy.unwrap_or(default)),
        }
    }

    fn candle(&self) -> std::result::Result<CandleConfig, String> {
        if self.attention_bias || self.mlp_bias || self.norm_bias {
            return Err("attention_bias, mlp_bias and norm_bias must be false".to_owned());
        }
        if self.hidden_activation != "gelu" {
            return Err(format!(
                "hidden_activation is {}, only gelu is implemented",
                self.hidden_activation
            ));
        }
        Ok(CandleConfig {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            intermediate_size: self.intermediate_size,
            max_position_embeddings: self.max_position_embeddings,
            layer_norm_eps: self.norm_eps,
            pad_token_id: self.pad_token_id.unwrap_or(0),
            global_attn_every_n_layers: self.global_every()?,
            global_rope_theta: self.theta("full_attention", self.global_rope_theta, 160_000.0)?,
            local_attention: self.local_attention,
            local_rope_theta: self.theta("sliding_attention", self.local_rope_theta, 10_000.0)?,
            classifier_config: None,
        })
    }
}

/// HF `model_type`.
const MODEL_TYPE: &str = "modernbert";

pub(crate) struct ModernBert;

impl Architecture for ModernBert {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["ModernBertForSequenceClassification"]
    }

    fn task(&self) -> Task {
        Task::SequenceClassification
    }

    // NOTE: F32 only: candle's backbone builds its global and sliding-window masks in f32 and adds
    // them to scores in the model dtype, which fails for f16/bf16.

    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded> {
        let cfg: Config = cx.parse(MODEL_TYPE)?;
        let unsupported = |reason: String| Error::UnsupportedConfig {
            path: cx.config.path.clone(),
            model_type: MODEL_TYPE,
            reason,
            hint: "this ModernBERT variant is not implemented; open an issue with its config.json",
        };
        let act: Activation =
            serde_json::from_value(serde_json::Value::String(cfg.classifier_activation.clone()))
                .map_err(|_| {
                    unsupported(format!(
                        "classifier_activation {} is not implemented",
                        cfg.classifier_activation
                    ))
                })?;
        let candle_cfg = cfg.candle().map_err(unsupported)?;
        // candle's backbone reads `model.`-prefixed names from the root it is given.
        let backbone = Backbone::load(cx.vb.clone(), &candle_cfg)?;
        let h = cfg.hidden_size;
        let head = cx.vb.pp("head");
        let dense = linear(h, h, cfg.classifier_bias, head.pp("dense"))?;
        let norm = candle_nn::layer_norm_no_bias(h, cfg.norm_eps, head.pp("norm"))?;
        let n = cx.num_labels();
        let classifier = candle_nn::linear(h, n, cx.vb.pp("classifier"))?;
        let head = ClassificationHead::new(dense, Squash::Act(act), classifier, n).with_norm(norm);
        Ok(Loaded::Classifier(Box::new(Model {
            backbone,
            pooling: cfg.classifier_pooling,
            head,
        })))
    }
}

fn linear(i: usize, o: usize, bias: bool, vb: VarBuilder) -> candle::Result<Linear> {
    if bias {
        candle_nn::linear(i, o, vb)
    } else {
        candle_nn::linear_no_bias(i, o, vb)
    }
}

struct Model {
    backbone: Backbone,
    pooling: Pooling,
    head: ClassificationHead,
}

impl Classifier for Model {
    fn num_labels(&self) -> usize {
        self.head.num_labels()
    }

    fn forward(&self, batch: &Batch) -> candle::Result<Tensor> {
        let hidden = self
            .backbone
            .forward(&batch.input_ids, &batch.attention_mask)?; // (b, t, h)
        let pooled = match self.pooling {
            Pooling::Cls => first_token(&hidden)?, // (b, h)
            Pooling::Mean => {
                let mask = batch.attention_mask.to_dtype(hidden.dtype())?; // (b, t)
                let sum = hidden.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?; // (b, h)
                sum.broadcast_div(&mask.sum_keepdim(1)?)? // (b, h)
            }
        };
        self.head.forward(&pooled) // (b, n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_arch_fixture, test_device};
    use super::*;
    use crate::DTypeSpec;
    use candle::Device;

    fn tiny_modernbert_cls_matches_transformers(dev: &Device) {
        check_arch_fixture("modernbert", DTypeSpec::F32, dev);
    }
    test_device!(tiny_modernbert_cls_matches_transformers, modernbert_cls_cpu, modernbert_cls_cuda, modernbert_cls_metal);

    fn tiny_modernbert_mean_matches_transformers(dev: &Device) {
        check_arch_fixture("modernbert_mean", DTypeSpec::F32, dev);
    }
    test_device!(tiny_modernbert_mean_matches_transformers, modernbert_mean_cpu, modernbert_mean_cuda, modernbert_mean_metal);

    fn config(extra: &str) -> Config {
        let json = format!(
            r#"{{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 4,
                "num_attention_heads": 2, "intermediate_size": 16{extra}}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn layer_pattern_from_either_config_generation() {
        assert_eq!(config("").global_every(), Ok(3));
        assert_eq!(config(r#", "global_attn_every_n_layers": 2"#).global_every(), Ok(2));
        let v5 = config(
            r#", "layer_types": ["full_attention", "sliding_attention", "full_attention", "sliding_attention"],
                "rope_parameters": {"full_attention": {"rope_theta": 1000.0, "rope_type": "default"}}"#,
        );
        let c = v5.candle().unwrap();
        assert_eq!(c.global_attn_every_n_layers, 2);
        assert!((c.global_rope_theta - 1000.0).abs() < 1e-9);
        assert!((c.local_rope_theta - 10_000.0).abs() < 1e-9);
        let odd = config(
            r#", "layer_types": ["full_attention", "full_attention", "sliding_attention", "full_attention"]"#,
        );
        assert!(odd.global_every().is_err());
        assert!(config(r#", "mlp_bias": true"#).candle().is_err());
    }
}
