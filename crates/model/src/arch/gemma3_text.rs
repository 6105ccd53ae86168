//! Gemma 3 text (`Gemma3ForCausalLM`, model_type `gemma3_text`: the 270M and 1B checkpoints, and
//! the text part of larger ones saved as such), every position's logits.
//!
//! Gemma 3 Technical Report, <https://arxiv.org/abs/2503.19786>. Upstream: transformers
//! `models/gemma3/modeling_gemma3.py` (v5.24.0). Gemma 2's block (scaled embeddings, `(1 + w)`
//! norms, pre/post norms, `query_pre_attn_scalar`, optional soft-capping) plus RMS norms on each
//! head of q and k (and no attention soft-capping: transformers ignores
//! `attn_logit_softcapping` here), and two rotations: `rope_parameters.sliding_attention` (base 10k by
//! default, transformers 4's `rope_local_base_freq`) for the sliding-window layers and
//! `rope_parameters.full_attention` (base 1M by default, where transformers 4's top-level
//! `rope_theta` and `rope_scaling` go) for the global ones. Layer types come from `layer_types`,
//! else from the older `sliding_window_pattern` (every n-th layer global, n = 6 by default).
use candle::DType;
use serde::Deserialize;
use serde_json::Value;

use super::decoder::NormKind;
use super::decoder_load::{BaseConfig, Defaults, Family, Layout};
use super::gemma2::{gemma_layout, softcap};
use super::{rope, Architecture, LoadContext, Loaded, Task};
use crate::Result;

/// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/gemma3/configuration_gemma3.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    #[serde(flatten)]
    base: BaseConfig,
    #[serde(default)]
    hidden_activation: Option<String>,
    #[serde(default = "default_query_pre_attn_scalar")]
    query_pre_attn_scalar: f64,
    #[serde(default = "default_window")]
    sliding_window: Option<usize>,
    #[serde(default)]
    layer_types: Option<Vec<String>>,
    #[serde(default = "default_pattern")]
    sliding_window_pattern: usize,
    #[serde(default)]
    rope_local_base_freq: Option<f64>,
    #[serde(default)]
    final_logit_softcapping: Option<f64>,
    #[serde(default)]
    attn_logit_softcapping: Option<f64>,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    use_bidirectional_attention: Option<bool>,
}

fn default_query_pre_attn_scalar() -> f64 {
    256.0
}
fn default_window() -> Option<usize> {
    Some(4096)
}
fn default_pattern() -> usize {
    6
}

/// HF `model_type`.
const MODEL_TYPE: &str = "gemma3_text";

/// `Gemma3TextConfig.default_theta`.
const GLOBAL_THETA: f64 = 1_000_000.0;
const LOCAL_THETA: f64 = 10_000.0;

const DEFAULTS: Defaults = Defaults {
    head_dim: Some(256),
    rms_norm_eps: 1e-6,
    max_position_embeddings: 131_072,
    tie_word_embeddings: true,
    hidden_act: "gelu_pytorch_tanh",
    rope_theta: GLOBAL_THETA,
};

pub(crate) struct Gemma3Text;

impl Architecture for Gemma3Text {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["Gemma3ForCausalLM"]
    }

    fn task(&self) -> Task {
        Task::CausalLm
    }

    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32, DType::F16, DType::BF16]
    }

    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded> {
        let mut cfg: Config = cx.parse(MODEL_TYPE)?;
        cfg.base.hidden_act = cfg.hidden_activation.clone();
        let family = Family::new(&cx, MODEL_TYPE, &cfg.base, DEFAULTS)?;
        if cfg.use_bidirectional_attention == Some(true) {
            return Err(family.unsupported(
                "use_bidirectional_attention is true: this is an embedding model, not a causal LM".into(),
                "evaluate Gemma 3 checkpoints with causal attention",
            ));
        }
        // `Gemma3TextConfig.convert_rope_params_to_dict`: one object per layer type, the legacy
        // rope_scaling merged into the global one.
        let (full, sliding) = match &cfg.base.rope_parameters {
            None | Some(Value::Null) => (None, None),
            Some(Value::Object(o)) if o.contains_key("full_attention") || o.contains_key("sliding_attention") => {
                (o.get("full_attention"), o.get("sliding_attention"))
            }
            Some(_) => {
                return Err(family.unsupported(
                    "rope_parameters is not keyed by layer type".into(),
                    "Gemma 3 needs rope_parameters of the form {\"full_attention\": {...}, \"sliding_attention\": {...}}",
                ))
            }
        };
        let global_cx = rope::RopeContext {
            theta: cfg.base.rope_theta,
            default_theta: GLOBAL_THETA,
            ..family.rope_context()
        };
        let local_cx = rope::RopeContext {
            theta: cfg.rope_local_base_freq,
            default_theta: LOCAL_THETA,
            ..family.rope_context()
        };
        let global = rope::nested(
            full,
            cfg.base.rope_scaling.as_ref(),
            "rope_parameters.full_attention",
            &global_cx,
        )
        .map_err(|i| family.rope_issue(i))?;
        let local = rope::nested(sliding, None, "rope_parameters.sliding_attention", &local_cx)
            .map_err(|i| family.rope_issue(i))?;

        let mut spec = family.spec(global);
        spec.ropes.push(local);
        let types = match &cfg.layer_types {
            Some(t) => t.clone(),
            None => {
                let n = cfg.sliding_window_pattern;
                if n == 0 {
                    return Err(family.unsupported(
                        "sliding_window_pattern is 0".into(),
                        "set layer_types, or sliding_window_pattern to n for one global layer in n",
                    ));
                }
                (0..cfg.base.num_hidden_layers)
                    .map(|i| if (i + 1) % n != 0 { "sliding_attention" } else { "full_attention" }.to_owned())
                    .collect()
            }
        };
        spec.layers = family.layer_kinds(&types, cfg.sliding_window, 0, 1)?;
        spec.norm = NormKind::OffsetOne;
        spec.embed_scale = Some((cfg.base.hidden_size as f64).sqrt());
        spec.attn_scale = cfg.query_pre_attn_scalar.powf(-0.5);
        // NOTE: transformers 5.24's `Gemma3Attention.forward` never passes `softcap` to the
        // attention function, so `attn_logit_softcapping` has no effect on Gemma 3 there (the
        // released configs set it to null); we follow the modeling file.
        // https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/gemma3/modeling_gemma3.py
        if let Some(cap) = cfg.attn_logit_softcapping {
            tracing::warn!(
                cap,
                "gemma3_text: attn_logit_softcapping is set but, as in transformers, not applied"
            );
        }
        spec.final_softcap =
            softcap(&family, "final_logit_softcapping", cfg.final_logit_softcapping)?;
        let layout = Layout {
            qkv_bias: cfg.attention_bias,
            o_bias: cfg.attention_bias,
            qk_norm: true,
            ..gemma_layout()
        };
        family.load(spec, layout)
    }
}

#[cfg(test)]
mod tests {
    use super::super::lm_testing::{check_fixture, test_device};
    use candle::Device;

    fn gemma3_text_matches_transformers(dev: &Device) {
        check_fixture("gemma3_text", dev);
    }
    test_device!(gemma3_text_matches_transformers, gemma3_text_cpu, gemma3_text_cuda, gemma3_text_metal);

    fn gemma3_text_legacy_matches_transformers(dev: &Device) {
        check_fixture("gemma3_text_legacy", dev);
    }
    test_device!(gemma3_text_legacy_matches_transformers, gemma3_text_legacy_cpu, gemma3_text_legacy_cuda, gemma3_text_legacy_metal);
}
